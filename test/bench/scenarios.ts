/**
 * One scenario against one connected client. Each function measures, checks the answers (a
 * bridge that returns the wrong thing must not look fast) and returns raw figures; statistics
 * across calls and rounds happen in report.ts.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readCpuMs } from './proc.js';

/** The small argument of the echo round-trip. */
const ECHO_TEXT = 'ping';
/** Bytes per MB in reported rates (MB/s): decimal, as the issue states them. */
export const BYTES_PER_MB = 1_000_000;

function firstText(result: unknown): string {
  const block = (result as CallToolResult).content?.[0];
  if (block?.type !== 'text') throw new Error(`expected a text block, got ${JSON.stringify(result).slice(0, 200)}`);
  return block.text;
}

async function echo(client: Client): Promise<void> {
  const got = firstText(await client.callTool({ name: 'echo', arguments: { text: ECHO_TEXT } }));
  if (got !== ECHO_TEXT) throw new Error(`echo returned ${JSON.stringify(got.slice(0, 100))}`);
}

/** Sequential `echo` calls; resolves with each call's wall time in ms. */
export async function echoLatencies(client: Client, calls: number): Promise<number[]> {
  const samples = new Array<number>(calls);
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await echo(client);
    samples[i] = performance.now() - t0;
  }
  return samples;
}

export interface ThroughputResult {
  calls: number;
  seconds: number;
  callsPerSec: number;
}

/** `concurrency` workers each calling `echo` back to back until `durationMs` has passed. */
export async function echoThroughput(client: Client, concurrency: number, durationMs: number): Promise<ThroughputResult> {
  let calls = 0;
  const t0 = performance.now();
  const deadline = t0 + durationMs;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      await echo(client);
      calls++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { calls, seconds, callsPerSec: calls / seconds };
}

export interface ProgressResult {
  ms: number;
  /** Progress notifications the SDK Client handed to `onprogress` (should equal the steps). */
  notifications: number;
  /** Progress notifications that reached the host's transport (the bridge delivered them). */
  delivered: number;
}

/** One `slow` call with a progress token: wall time and how many notifications arrived. */
export async function progressCall(client: Client, seen: () => number, steps: number, delayMs: number): Promise<ProgressResult> {
  let notifications = 0;
  const seenBefore = seen();
  const t0 = performance.now();
  const result = await client.callTool({ name: 'slow', arguments: { steps, delayMs } }, undefined, {
    onprogress: () => {
      notifications++;
    },
  });
  const ms = performance.now() - t0;
  if (firstText(result) !== `done ${steps}`) throw new Error(`slow returned ${JSON.stringify(result).slice(0, 200)}`);
  return { ms, notifications, delivered: seen() - seenBefore };
}

/** `calls` sequential `blob` calls of `bytes` each; resolves with each call's wall time in ms. */
export async function blobTimes(client: Client, bytes: number, calls: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    const got = firstText(await client.callTool({ name: 'blob', arguments: { bytes } }));
    samples.push(performance.now() - t0);
    if (got.length !== bytes) throw new Error(`blob returned ${got.length} characters, expected ${bytes}`);
  }
  return samples;
}

/** Runs `fn` and adds the CPU time `pid` used meanwhile (ms) to `into.cpuMs` when procfs tells. */
export async function withChildCpu<T>(pid: number | undefined, into: { cpuMs?: number }, fn: () => Promise<T>): Promise<T> {
  const before = await readCpuMs(pid);
  const out = await fn();
  const after = await readCpuMs(pid);
  if (before !== undefined && after !== undefined) into.cpuMs = (into.cpuMs ?? 0) + (after - before);
  return out;
}
