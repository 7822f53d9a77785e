/**
 * A live process's memory as Linux reports it in /proc/<pid>/status: `VmRSS` (resident now) or
 * `VmHWM` (the peak so far: a high-water mark, so no timing is involved). Undefined once the
 * process is gone.
 */
import { readFileSync } from 'node:fs';

export function memoryBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`${field}:`));
    return line ? Number(line.replace(/\D+/g, '')) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size now. */
export const rssBytes = (pid: number) => memoryBytes(pid, 'VmRSS');
/** Peak resident set size so far. */
export const peakRssBytes = (pid: number) => memoryBytes(pid, 'VmHWM');
