/**
 * One round of the bench: every variant is started and driven through every scenario, and
 * within each scenario the variants take turns (A B C, then the next scenario), so a burst of
 * noise on a shared machine lands on all of them instead of on one. The order of the variants
 * rotates from round to round so no variant always goes first.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { payloadCalls, type BenchOptions } from './options.js';
import { readMemory, resetPeak } from './proc.js';
import { blobTimes, BYTES_PER_MB, echoLatencies, echoThroughput, progressCall, withChildCpu } from './scenarios.js';
import { median, percentile } from './stats.js';
import { connectBridge, connectDirect, floorSpec, mcpRemoteSpec, relaySpec, type ChildRegistry, type Target, type VariantName } from './targets.js';

/** Pause between two startups so one child's boot does not slow the next one's. */
const BETWEEN_STARTUPS_MS = 100;

/** What every round shares: the server, the options, where children are registered. */
export interface RoundContext {
  url: string;
  opts: BenchOptions;
  registry: ChildRegistry;
  /** Temp HOME for the bridges. */
  home: string;
  mcpRemoteBin: string | undefined;
  variants: readonly VariantName[];
  maxBufferSize: number;
}

export interface PayloadRound {
  bytes: number;
  calls: number;
  msPerCall: number;
  mbPerS: number;
  /** Peak RSS of the bridge during this size's calls minus its RSS just before them, bytes. */
  peakGrowth?: number | undefined;
}

/** One variant's figures in one round (times in ms, memory in bytes). */
export interface VariantRound {
  startupMs: number;
  latency: { calls: number; p50: number; p90: number; p99: number; mean: number; cpuUsPerCall?: number | undefined };
  throughput: { calls: number; callsPerSec: number; cpuUsPerCall?: number | undefined };
  /** `notifications`: handed to onprogress; `delivered`: reached the host transport (fewest over the calls). */
  progress: { ms: number; notifications: number; delivered: number; expected: number };
  payload: PayloadRound[];
  /** Bridge memory: after initialize, the peak over the round, after the round. */
  idleRss?: number | undefined;
  peakRss?: number | undefined;
  rssAfter?: number | undefined;
}

export type RoundResult = Partial<Record<VariantName, VariantRound>>;

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

async function start(ctx: RoundContext, name: VariantName): Promise<Target> {
  const bridge = { home: ctx.home, cpuProfDir: ctx.opts.cpuProfDir };
  const host = { maxBufferSize: ctx.maxBufferSize, reader: ctx.opts.hostReader };
  switch (name) {
    case 'direct':
      return connectDirect(ctx.url);
    case 'floor':
      return connectBridge(name, floorSpec(ctx.url, bridge), ctx.registry, host);
    case 'relay':
      return connectBridge(name, relaySpec(ctx.url, bridge), ctx.registry, host);
    case 'mcp-remote':
      if (!ctx.mcpRemoteBin) throw new Error('mcp-remote is not installed');
      return connectBridge(name, mcpRemoteSpec(ctx.url, ctx.mcpRemoteBin, bridge), ctx.registry, host);
  }
}

/** Track the highest VmHWM seen, since resetting it for a scenario loses the earlier peak. */
async function notePeak(target: Target, row: VariantRound): Promise<number | undefined> {
  const mem = await readMemory(target.pid);
  if (mem) row.peakRss = Math.max(row.peakRss ?? 0, mem.hwm);
  return mem?.rss;
}

/**
 * Start every variant, take each through every scenario, close them all (also on failure).
 * `index` rotates which variant goes first.
 */
export async function runRound(ctx: RoundContext, index: number): Promise<RoundResult> {
  const { opts } = ctx;
  const order = rotate(ctx.variants, index);
  const targets = new Map<VariantName, Target>();
  const rows = new Map<VariantName, VariantRound>();
  const each = async (fn: (t: Target, row: VariantRound) => Promise<void>): Promise<void> => {
    for (const name of order) await fn(targets.get(name)!, rows.get(name)!);
  };
  try {
    for (const name of order) {
      const t0 = performance.now();
      const target = await start(ctx, name);
      const startupMs = performance.now() - t0;
      targets.set(name, target);
      rows.set(name, {
        startupMs,
        latency: { calls: 0, p50: NaN, p90: NaN, p99: NaN, mean: NaN },
        throughput: { calls: 0, callsPerSec: NaN },
        progress: { ms: NaN, notifications: 0, delivered: 0, expected: opts.progressSteps },
        payload: [],
      });
      await delay(BETWEEN_STARTUPS_MS);
    }
    await delay(opts.settleMs);
    await each(async (t, row) => {
      row.idleRss = (await readMemory(t.pid))?.rss;
    });

    await each(async (t) => void (await echoLatencies(t.client, opts.warmup)));

    const samples = new Map<VariantName, number[]>(order.map((n) => [n, []]));
    const cpu = new Map<VariantName, { cpuMs?: number }>(order.map((n) => [n, {}]));
    const perBlock = Math.ceil(opts.calls / opts.latencyBlocks);
    for (let done = 0; done < opts.calls; done += perBlock) {
      const n = Math.min(perBlock, opts.calls - done);
      await each(async (t) => {
        samples.get(t.name)!.push(...(await withChildCpu(t.pid, cpu.get(t.name)!, () => echoLatencies(t.client, n))));
      });
    }
    await each(async (t, row) => {
      const s = samples.get(t.name)!;
      const cpuMs = cpu.get(t.name)!.cpuMs;
      row.latency = {
        calls: s.length,
        p50: percentile(s, 50),
        p90: percentile(s, 90),
        p99: percentile(s, 99),
        mean: s.reduce((a, b) => a + b, 0) / s.length,
        cpuUsPerCall: cpuMs === undefined ? undefined : (cpuMs * 1000) / s.length,
      };
    });

    await each(async (t, row) => {
      const runs = [];
      for (let i = 0; i < opts.progressCalls; i++) runs.push(await progressCall(t.client, t.progressSeen, opts.progressSteps, opts.progressDelayMs));
      row.progress = {
        ms: median(runs.map((r) => r.ms)),
        notifications: Math.min(...runs.map((r) => r.notifications)),
        delivered: Math.min(...runs.map((r) => r.delivered)),
        expected: opts.progressSteps,
      };
    });

    // Largest payload first, before the throughput scenario: the growth it causes is then
    // measured from a heap close to idle, not hidden in memory a previous scenario left behind.
    for (const bytes of [...opts.payloads].sort((a, b) => b - a)) {
      const calls = payloadCalls(bytes, opts.payloadBudgetMib);
      await each(async (t, row) => {
        const before = await notePeak(t, row);
        const peakReset = await resetPeak(t.pid);
        const times = await blobTimes(t.client, bytes, calls);
        const mem = await readMemory(t.pid);
        if (mem) row.peakRss = Math.max(row.peakRss ?? 0, mem.hwm);
        const msPerCall = median(times);
        row.payload.push({
          bytes,
          calls,
          msPerCall,
          mbPerS: bytes / BYTES_PER_MB / (msPerCall / 1000),
          peakGrowth: mem && peakReset && before !== undefined ? mem.hwm - before : undefined,
        });
      });
    }

    await each(async (t, row) => {
      const into: { cpuMs?: number } = {};
      const r = await withChildCpu(t.pid, into, () => echoThroughput(t.client, opts.concurrency, opts.throughputMs));
      row.throughput = { calls: r.calls, callsPerSec: r.callsPerSec, cpuUsPerCall: into.cpuMs === undefined ? undefined : (into.cpuMs * 1000) / r.calls };
    });

    await delay(opts.settleMs);
    await each(async (t, row) => {
      row.rssAfter = await notePeak(t, row);
    });
    return Object.fromEntries(rows);
  } finally {
    await Promise.all([...targets.values()].map((t) => t.close()));
  }
}
