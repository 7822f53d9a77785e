/**
 * The aggregate row group (issue 17, "Measure"): ten servers through one aggregated relay
 * (`mcp-relay --config FILE s0 … s9`) against single relays (`mcp-relay <url>`), each round
 * starting one of each, alternately first:
 * - idle RSS of the one aggregate process against one single relay's (ten singles cost 10×);
 * - spawn → merged `tools/list` (every page) against spawn → a single relay's `tools/list`;
 * - echo latency through the aggregate (`s0__echo`) against a single relay (`echo`).
 * Targets: RSS and startup at most 1.5× a single relay's, echo p50 within 10%.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readMemory } from './proc.js';
import { startBenchServer, type BenchServer } from './server.js';
import { median, percentile } from './stats.js';
import { connectBridge, relaySpec, RELAY_BIN, type ChildRegistry, type SpawnSpec, type Target } from './targets.js';

export const AGGREGATE_SERVERS = 10;
export const TARGET_AGGREGATE_RSS_RATIO = 1.5;
export const TARGET_AGGREGATE_STARTUP_RATIO = 1.5;
export const TARGET_AGGREGATE_ECHO_RATIO = 1.1;
const ECHO_TEXT = 'ping';
/** The timed echo calls are split into this many blocks, alternating which of the two goes first. */
const LATENCY_BLOCKS = 4;

export interface AggregateRound {
  single: { startupMs: number; idleRss?: number | undefined; echoP50: number; echoP90: number };
  aggregate: { startupMs: number; idleRss?: number | undefined; echoP50: number; echoP90: number; tools: number };
}

export interface AggregateBenchOptions {
  rounds: number;
  calls: number;
  /** Untimed echo calls through each before timing. */
  warmup: number;
  settleMs: number;
  home: string;
  registry: ChildRegistry;
  maxBufferSize: number;
}

async function allTools(client: Client): Promise<number> {
  let cursor: string | undefined;
  let n = 0;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    n += page.tools.length;
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return n;
}

async function echoTimes(client: Client, tool: string, calls: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const r = (await client.callTool({ name: tool, arguments: { text: ECHO_TEXT } })) as CallToolResult;
    out.push(performance.now() - t0);
    const block = r.content?.[0];
    if (block?.type !== 'text' || block.text !== ECHO_TEXT) throw new Error(`${tool} returned ${JSON.stringify(r).slice(0, 200)}`);
  }
  return out;
}

/** Spawn, connect and list every tool: the time a host waits before it can show the tools. */
async function startAndList(spec: SpawnSpec, o: AggregateBenchOptions): Promise<{ target: Target; ms: number; tools: number }> {
  const t0 = performance.now();
  const target = await connectBridge('relay', spec, o.registry, { maxBufferSize: o.maxBufferSize, reader: 'sdk' });
  const tools = await allTools(target.client);
  return { target, ms: performance.now() - t0, tools };
}

/** Echo latency of both, warmed up alike and timed in interleaved blocks (as round.ts does), so load bursts land on both. */
async function measureBoth(single: Target, aggregate: Target, o: AggregateBenchOptions) {
  const runs = [
    { target: single, tool: 'echo', times: [] as number[] },
    { target: aggregate, tool: 's0__echo', times: [] as number[] },
  ];
  for (const r of runs) await echoTimes(r.target.client, r.tool, o.warmup);
  const perBlock = Math.ceil(o.calls / LATENCY_BLOCKS);
  for (let done = 0, b = 0; done < o.calls; done += perBlock, b++) {
    for (const r of b % 2 === 0 ? runs : [...runs].reverse()) r.times.push(...(await echoTimes(r.target.client, r.tool, Math.min(perBlock, o.calls - done))));
  }
  const figures = (t: number[]) => ({ echoP50: percentile(t, 50), echoP90: percentile(t, 90) });
  return { single: figures(runs[0]!.times), aggregate: figures(runs[1]!.times) };
}

/** Run the row group; the servers live only for it. */
export async function runAggregateBench(o: AggregateBenchOptions): Promise<AggregateRound[]> {
  const servers: BenchServer[] = [];
  try {
    for (let i = 0; i < AGGREGATE_SERVERS; i++) servers.push(await startBenchServer());
    const file = join(o.home, 'aggregate-servers.json');
    await writeFile(file, JSON.stringify({ mcpServers: Object.fromEntries(servers.map((s, i) => [`s${i}`, { url: s.url }])) }));
    const single = relaySpec(servers[0]!.url, { home: o.home });
    const aggregate: SpawnSpec = { ...single, args: [RELAY_BIN, '--config', file, ...servers.map((_, i) => `s${i}`)] };
    const rounds: AggregateRound[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? (['single', 'aggregate'] as const) : (['aggregate', 'single'] as const);
      const started = new Map<string, { target: Target; ms: number; tools: number }>();
      try {
        for (const which of order) started.set(which, await startAndList(which === 'single' ? single : aggregate, o));
        await delay(o.settleMs);
        const s = started.get('single')!;
        const a = started.get('aggregate')!;
        const sRss = (await readMemory(s.target.pid))?.rss;
        const aRss = (await readMemory(a.target.pid))?.rss;
        const echo = await measureBoth(s.target, a.target, o);
        rounds.push({
          single: { startupMs: s.ms, idleRss: sRss, ...echo.single },
          aggregate: { startupMs: a.ms, idleRss: aRss, tools: a.tools, ...echo.aggregate },
        });
      } finally {
        await Promise.all([...started.values()].map((x) => x.target.close()));
      }
    }
    return rounds;
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
}

const MB = 1_000_000;

/** The table and the targets, medians across rounds. */
export function formatAggregate(rounds: AggregateRound[]): string {
  const m = (f: (r: AggregateRound) => number | undefined) => median(rounds.map(f).filter((v): v is number => v !== undefined));
  const sRss = m((r) => r.single.idleRss);
  const aRss = m((r) => r.aggregate.idleRss);
  const sStart = m((r) => r.single.startupMs);
  const aStart = m((r) => r.aggregate.startupMs);
  const sEcho = m((r) => r.single.echoP50);
  const aEcho = m((r) => r.aggregate.echoP50);
  const row = (name: string, rss: number, start: number, p50: number, p90: number) =>
    `${name.padEnd(34)}${(rss / MB).toFixed(1).padStart(10)}${start.toFixed(0).padStart(16)}${p50.toFixed(3).padStart(12)}${p90.toFixed(3).padStart(12)}`;
  const check = (label: string, ratio: number, target: number) =>
    `  ${ratio <= target ? 'PASS' : 'FAIL'}  ${label}: ${ratio.toFixed(2)}× (target ≤ ${target}×)`;
  return [
    `Ten servers: one aggregated relay vs single relays (${rounds.length} rounds, medians; ${rounds[0]?.aggregate.tools ?? 0} tools merged)`,
    `${''.padEnd(34)}${'idle MB'.padStart(10)}${'spawn→list ms'.padStart(16)}${'echo p50'.padStart(12)}${'echo p90'.padStart(12)}`,
    row(
      'single relay (1 server)',
      sRss,
      sStart,
      sEcho,
      m((r) => r.single.echoP90),
    ),
    row(
      `aggregate (${AGGREGATE_SERVERS} servers, 1 process)`,
      aRss,
      aStart,
      aEcho,
      m((r) => r.aggregate.echoP90),
    ),
    `${`${AGGREGATE_SERVERS} single relays (RSS sum)`.padEnd(34)}${((AGGREGATE_SERVERS * sRss) / MB).toFixed(1).padStart(10)}`,
    check('aggregate idle RSS / single relay', aRss / sRss, TARGET_AGGREGATE_RSS_RATIO),
    check('aggregate spawn→merged tools/list / single', aStart / sStart, TARGET_AGGREGATE_STARTUP_RATIO),
    check('aggregate echo p50 / single', aEcho / sEcho, TARGET_AGGREGATE_ECHO_RATIO),
  ].join('\n');
}
