/**
 * What the bench reads about a child process from Linux procfs: resident memory (VmRSS), its
 * high-water mark (VmHWM) and CPU time. Elsewhere (macOS, Windows) every reading is undefined
 * and the report shows "n/a".
 */
import { readFile, writeFile } from 'node:fs/promises';

/** /proc/<pid>/status reports memory in kB (KiB). */
const KIB = 1024;
/** Fields 14 and 15 of /proc/<pid>/stat (utime, stime) are in clock ticks; USER_HZ is 100 on Linux. */
const CLOCK_TICKS_PER_S = 100;
/** Writing this to /proc/<pid>/clear_refs resets VmHWM to the current RSS (proc(5), Linux >= 4.0). */
const CLEAR_REFS_RESET_PEAK = '5';

export interface MemoryReading {
  /** Current resident set size, bytes. */
  rss: number;
  /** Peak resident set size since start or the last {@link resetPeak}, bytes. */
  hwm: number;
}

/** VmRSS and VmHWM of `pid`, or undefined if procfs is unavailable or the process is gone. */
export async function readMemory(pid: number | undefined): Promise<MemoryReading | undefined> {
  if (pid === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m ? Number(m[1]) * KIB : undefined;
  };
  const rss = field('VmRSS');
  const hwm = field('VmHWM');
  return rss === undefined || hwm === undefined ? undefined : { rss, hwm };
}

/**
 * Reset the peak (VmHWM) of `pid` to its current RSS, so a later reading shows the peak of one
 * scenario only. Resolves false when the kernel does not allow it (the peak then spans the run).
 */
export async function resetPeak(pid: number | undefined): Promise<boolean> {
  if (pid === undefined) return false;
  try {
    await writeFile(`/proc/${pid}/clear_refs`, CLEAR_REFS_RESET_PEAK);
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU time `pid` has used so far, in ms (10 ms resolution), or undefined. */
export async function readCpuMs(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: count from after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so utime (14) and stime (15) are at 11 and 12.
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return ((utime + stime) * 1000) / CLOCK_TICKS_PER_S;
}
