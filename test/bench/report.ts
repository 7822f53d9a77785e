/**
 * From per-round figures to the summary (medians across rounds), the targets of the issue, the
 * printed table and the JSON document. Pure: no I/O.
 */
import { MIB } from './options.js';
import type { PayloadRound, RoundResult, VariantRound } from './round.js';
import { BYTES_PER_MB } from './scenarios.js';
import { median, ratio } from './stats.js';
import { VARIANTS, type VariantName } from './targets.js';

/** Targets from the issue (ratios taken within the same run). */
export const TARGET_ADDED_LATENCY_SHARE = 1 / 3;
export const TARGET_THROUGHPUT_SHARE = 0.9;
export const TARGET_PAYLOAD_TIME_RATIO = 1.2;
export const TARGET_PAYLOAD_EXTRA_RSS_FACTOR = 3;
export const TARGET_IDLE_RSS_BYTES = 60 * BYTES_PER_MB;
/** Issue 16: the relay against the floor bridge (floor.ts), each a per-round ratio. */
export const TARGET_FLOOR_STARTUP = 1.3;
export const TARGET_FLOOR_P50 = 1.2;
export const TARGET_FLOOR_THROUGHPUT = 0.95;
export const TARGET_FLOOR_CPU_PER_ECHO = 1.5;
export const TARGET_FLOOR_IDLE_RSS = 1.1;

export interface PayloadSummary {
  bytes: number;
  msPerCall: number;
  mbPerS: number;
  peakGrowth?: number | undefined;
}

/** One variant over the run: medians of the per-round values (peak RSS: the highest round). */
export interface VariantSummary {
  startupMs: number;
  p50: number;
  p90: number;
  p99: number;
  cpuUsPerEcho?: number | undefined;
  callsPerSec: number;
  cpuUsPerCallConcurrent?: number | undefined;
  progressMs: number;
  /** Fewest progress notifications the SDK Client passed on in one call, over all rounds. */
  progressNotifications: number;
  /** Fewest that reached the host's transport in one call (what the bridge delivered). */
  progressDelivered: number;
  progressExpected: number;
  payload: PayloadSummary[];
  idleRss?: number | undefined;
  peakRss?: number | undefined;
  rssAfter?: number | undefined;
}

export type Summary = Partial<Record<VariantName, VariantSummary>>;

/**
 * One target, judged on per-round ratios: each round compares variants that ran side by side
 * minutes apart at most, and the median of those ratios is what must meet the limit.
 */
export interface TargetCheck {
  target: string;
  /** Median over rounds of the per-round figure. */
  value: number;
  limit: number;
  /** Lowest and highest per-round figure, to show how much the machine's noise moved it. */
  range: [number, number];
  unit: string;
  /** The value must be at most the limit (else at least). */
  atMost: boolean;
  /** undefined when a figure is missing (e.g. mcp-remote left out). */
  met: boolean | undefined;
}

function med(rows: VariantRound[], pick: (r: VariantRound) => number | undefined): number {
  return median(rows.map(pick).filter((v): v is number => v !== undefined));
}

function optional(n: number): number | undefined {
  return Number.isFinite(n) ? n : undefined;
}

export function summarize(rounds: RoundResult[]): Summary {
  const out: Summary = {};
  for (const name of VARIANTS) {
    const rows = rounds.map((r) => r[name]).filter((r): r is VariantRound => r !== undefined);
    if (rows.length === 0) continue;
    const sizes = rows[0]!.payload.map((p) => p.bytes).sort((a, b) => a - b);
    const peaks = rows.map((r) => r.peakRss).filter((v): v is number => v !== undefined);
    out[name] = {
      startupMs: med(rows, (r) => r.startupMs),
      p50: med(rows, (r) => r.latency.p50),
      p90: med(rows, (r) => r.latency.p90),
      p99: med(rows, (r) => r.latency.p99),
      cpuUsPerEcho: optional(med(rows, (r) => r.latency.cpuUsPerCall)),
      callsPerSec: med(rows, (r) => r.throughput.callsPerSec),
      cpuUsPerCallConcurrent: optional(med(rows, (r) => r.throughput.cpuUsPerCall)),
      progressMs: med(rows, (r) => r.progress.ms),
      progressNotifications: Math.min(...rows.map((r) => r.progress.notifications)),
      progressDelivered: Math.min(...rows.map((r) => r.progress.delivered)),
      progressExpected: rows[0]!.progress.expected,
      payload: sizes.map((bytes) => {
        const of = (r: VariantRound) => r.payload.find((p) => p.bytes === bytes);
        return {
          bytes,
          msPerCall: med(rows, (r) => of(r)?.msPerCall),
          mbPerS: med(rows, (r) => of(r)?.mbPerS),
          peakGrowth: optional(med(rows, (r) => of(r)?.peakGrowth)),
        };
      }),
      idleRss: optional(med(rows, (r) => r.idleRss)),
      peakRss: peaks.length ? Math.max(...peaks) : undefined,
      rssAfter: optional(med(rows, (r) => r.rssAfter)),
    };
  }
  return out;
}

function check(target: string, perRound: number[], limit: number, unit: string, atMost: boolean): TargetCheck {
  const finite = perRound.filter((v) => Number.isFinite(v));
  const value = median(finite);
  const met = !Number.isFinite(value) || !Number.isFinite(limit) ? undefined : atMost ? value <= limit : value >= limit;
  return { target, value, limit, range: [Math.min(...finite), Math.max(...finite)], unit, atMost, met };
}

/** The issue's targets, each from per-round ratios (see {@link TargetCheck}). */
export function checkTargets(rounds: RoundResult[]): TargetCheck[] {
  const per = (fn: (d: VariantRound, r: VariantRound, m: VariantRound | undefined) => number): number[] =>
    rounds.map((round) => (round.direct && round.relay ? fn(round.direct, round.relay, round['mcp-remote']) : NaN));
  const perFloor = (fn: (r: VariantRound, f: VariantRound) => number | undefined): number[] =>
    rounds.map((round) => (round.relay && round.floor ? (fn(round.relay, round.floor) ?? NaN) : NaN));
  const largestOf = (v: VariantRound) => v.payload.reduce<PayloadRound | undefined>((a, b) => (a && a.bytes >= b.bytes ? a : b), undefined);
  const checks: TargetCheck[] = [
    check(
      "relay's added p50 latency / mcp-remote's (each over direct)",
      per((d, r, m) => (m ? (r.latency.p50 - d.latency.p50) / (m.latency.p50 - d.latency.p50) : NaN)),
      TARGET_ADDED_LATENCY_SHARE,
      'x',
      true,
    ),
    check(
      'concurrent throughput, relay / direct',
      per((d, r) => r.throughput.callsPerSec / d.throughput.callsPerSec),
      TARGET_THROUGHPUT_SHARE,
      'x',
      false,
    ),
  ];
  const largest = rounds.map((round) => round.relay && largestOf(round.relay)).find((p) => p !== undefined);
  if (largest) {
    const mib = `${+(largest.bytes / MIB).toFixed(2)} MiB`;
    const of = (v: VariantRound) => v.payload.find((p) => p.bytes === largest.bytes);
    checks.push(
      check(
        `${mib} payload time, relay / direct`,
        per((d, r) => (of(r)?.msPerCall ?? NaN) / (of(d)?.msPerCall ?? NaN)),
        TARGET_PAYLOAD_TIME_RATIO,
        'x',
        true,
      ),
    );
    checks.push(
      check(
        `${mib} payload, relay peak RSS growth / payload size`,
        per((_d, r) => (of(r)?.peakGrowth ?? NaN) / largest.bytes),
        TARGET_PAYLOAD_EXTRA_RSS_FACTOR,
        'x',
        true,
      ),
    );
  }
  checks.push(
    check(
      'startup to initialize, relay / mcp-remote',
      per((_d, r, m) => (m ? r.startupMs / m.startupMs : NaN)),
      1,
      'x',
      true,
    ),
  );
  checks.push(
    check(
      'relay idle RSS after initialize',
      per((_d, r) => (r.idleRss ?? NaN) / BYTES_PER_MB),
      TARGET_IDLE_RSS_BYTES / BYTES_PER_MB,
      'MB',
      true,
    ),
  );
  if (rounds.some((r) => r.floor)) {
    const floor: Array<[string, (r: VariantRound, f: VariantRound) => number | undefined, number, boolean]> = [
      ['startup to initialize, relay / floor', (r, f) => r.startupMs / f.startupMs, TARGET_FLOOR_STARTUP, true],
      ['echo p50, relay / floor', (r, f) => r.latency.p50 / f.latency.p50, TARGET_FLOOR_P50, true],
      ['concurrent throughput, relay / floor', (r, f) => r.throughput.callsPerSec / f.throughput.callsPerSec, TARGET_FLOOR_THROUGHPUT, false],
      ['bridge CPU per echo, relay / floor', (r, f) => ratio(r.latency.cpuUsPerCall, f.latency.cpuUsPerCall), TARGET_FLOOR_CPU_PER_ECHO, true],
      ['idle RSS after initialize, relay / floor', (r, f) => ratio(r.idleRss, f.idleRss), TARGET_FLOOR_IDLE_RSS, true],
    ];
    for (const [label, fn, limit, atMost] of floor) checks.push(check(label, perFloor(fn), limit, 'x', atMost));
  }
  return checks;
}

type Row = [label: string, pick: (v: VariantSummary) => number | undefined, digits: number];

function rowsFor(s: Summary): Row[] {
  const sizes = (s.relay ?? s.direct)?.payload.map((p) => p.bytes) ?? [];
  const mb = (n: number | undefined) => (n === undefined ? undefined : n / BYTES_PER_MB);
  const rows: Row[] = [
    ['startup to initialize (ms)', (v) => v.startupMs, 1],
    ['echo p50 (ms)', (v) => v.p50, 3],
    ['echo p90 (ms)', (v) => v.p90, 3],
    ['echo p99 (ms)', (v) => v.p99, 3],
    ['added p50 over direct (ms)', (v) => v.p50 - (s.direct?.p50 ?? NaN), 3],
    ['bridge CPU per echo (us)', (v) => v.cpuUsPerEcho, 0],
    ['throughput, concurrent (calls/s)', (v) => v.callsPerSec, 0],
    ['bridge CPU per concurrent call (us)', (v) => v.cpuUsPerCallConcurrent, 0],
    ['progress call (ms)', (v) => v.progressMs, 1],
  ];
  for (const bytes of sizes) {
    const of = (v: VariantSummary) => v.payload.find((p) => p.bytes === bytes);
    const label = `${+(bytes / MIB).toFixed(2)} MiB`;
    rows.push([`${label} payload (ms/call)`, (v) => of(v)?.msPerCall, 1]);
    rows.push([`${label} payload (MB/s)`, (v) => of(v)?.mbPerS, 0]);
    rows.push([`${label} peak RSS growth (MB)`, (v) => mb(of(v)?.peakGrowth), 1]);
  }
  rows.push(['idle RSS after initialize (MB)', (v) => mb(v.idleRss), 1]);
  rows.push(['peak RSS (MB)', (v) => mb(v.peakRss), 1]);
  rows.push(['RSS after the run (MB)', (v) => mb(v.rssAfter), 1]);
  return rows;
}

function fmt(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? '—' : n.toFixed(digits);
}

function fmtRatio(n: number): string {
  return Number.isFinite(n) ? `${n.toFixed(2)}x` : '—';
}

/** The summary as a Markdown table (prints well in a terminal and pastes into docs). */
export function formatTable(s: Summary): string {
  const header = ['scenario', 'direct', 'floor', 'relay', 'mcp-remote', 'relay/direct', 'relay/floor', 'relay/mcp-remote'];
  const lines = rowsFor(s).map(([label, pick, digits]) => {
    const get = (name: VariantName) => {
      const v = s[name];
      return v ? pick(v) : undefined;
    };
    const [d, f, r, m] = [get('direct'), get('floor'), get('relay'), get('mcp-remote')];
    return [label, fmt(d, digits), fmt(f, digits), fmt(r, digits), fmt(m, digits), fmtRatio(ratio(r, d)), fmtRatio(ratio(r, f)), fmtRatio(ratio(r, m))];
  });
  const all = [header, ...lines];
  const widths = header.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...lines.map(line)].join('\n');
}

export function formatTargets(checks: TargetCheck[]): string {
  return checks
    .map((c) => {
      const mark = c.met === undefined ? 'n/a ' : c.met ? 'MET ' : 'MISS';
      const sign = c.atMost ? '<=' : '>=';
      return `  [${mark}] ${c.target}: ${fmt(c.value, 2)} ${c.unit} (target ${sign} ${fmt(c.limit, 2)} ${c.unit}; rounds ${fmt(c.range[0], 2)} to ${fmt(c.range[1], 2)})`;
    })
    .join('\n');
}

/**
 * Progress notifications lost: by the bridge (never reached the host's transport: a bug), or by
 * the SDK Client (arrived together with the response and were dropped by the host).
 */
export function lostProgress(s: Summary): string[] {
  return VARIANTS.flatMap((name) => {
    const v = s[name];
    if (!v) return [];
    const out: string[] = [];
    if (v.progressDelivered < v.progressExpected)
      out.push(`${name} delivered only ${v.progressDelivered}/${v.progressExpected} progress notifications to the host in its worst call`);
    if (v.progressNotifications < v.progressDelivered) {
      out.push(
        `through ${name}, the SDK Client passed on ${v.progressNotifications}/${v.progressExpected} progress notifications in its worst call (the rest arrived in the same read as the response and the Client dropped them)`,
      );
    }
    return out;
  });
}
