/**
 * Drive the built relay (bin/mcp-relay.js) the way a host does: as a child process over stdio,
 * with the SDK's Client + StdioClientTransport, or raw lines for byte-level checks.
 * Every process started here is killed by `killAll()` (call it in afterEach).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

export const RELAY_BIN = resolve(import.meta.dirname, '../../bin/mcp-relay.js');

const children = new Set<{ kill(): void }>();
const dirs = new Set<string>();

/** A fresh store root (MCP_RELAY_HOME) for one test. */
export async function tempHome(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-relay-test-'));
  dirs.add(dir);
  return dir;
}

/** Environment for a relay child: no proxies, no SSH, no display, a private store. */
export function relayEnv(home: string, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of ['PATH', 'SYSTEMROOT', 'TEMP', 'TMP', 'TMPDIR', 'NODE_OPTIONS']) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, HOME: home, MCP_RELAY_HOME: join(home, 'store'), ...extra };
}

export interface ConnectedRelay {
  client: Client;
  transport: StdioClientTransport;
  stderr: () => string;
  pid: number | undefined;
}

/** Spawn the relay and connect an SDK client to it (initialize included). */
export async function connectRelay(
  args: string[],
  opts: { home: string; env?: Record<string, string>; capabilities?: Record<string, unknown>; setup?: (c: Client) => void; timeoutMs?: number },
): Promise<ConnectedRelay> {
  const transport = new StdioClientTransport({ command: process.execPath, args: [RELAY_BIN, ...args], env: relayEnv(opts.home, opts.env), stderr: 'pipe' });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'test-host', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  opts.setup?.(client);
  children.add({ kill: () => void transport.close().catch(() => {}) });
  await client.connect(transport, opts.timeoutMs ? { timeout: opts.timeoutMs } : undefined);
  return { client, transport, stderr: () => err, pid: transport.pid ?? undefined };
}

export interface RawRelay {
  child: ChildProcessWithoutNullStreams;
  /** Lines the relay wrote to stdout so far. */
  lines: string[];
  stderr: () => string;
  send(obj: unknown): void;
  sendRaw(text: string): void;
  /** Resolve with the first stdout message matching `pred`. */
  waitFor(pred: (m: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawn the relay with raw pipes (for stdout purity, parse errors, signals, exit codes). */
export function spawnRelay(
  args: string[],
  opts: { home: string; env?: Record<string, string> /** Another path to bin/mcp-relay.js (e.g. an npx-style install). */; bin?: string },
): RawRelay {
  const child = spawn(process.execPath, [opts.bin ?? RELAY_BIN, ...args], { env: relayEnv(opts.home, opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
  children.add({ kill: () => child.kill('SIGKILL') });
  const lines: string[] = [];
  let err = '';
  let buf = '';
  const waiters: Array<{ pred: (m: Record<string, unknown>) => boolean; resolve: (m: Record<string, unknown>) => void }> = [];
  const check = (line: string) => {
    let m: Record<string, unknown>;
    try {
      m = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of [...waiters]) {
      if (w.pred(m)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  // Decode as a stream: a multi-byte character may straddle two pipe reads.
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buf += d;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      check(line);
    }
  });
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('exit', (code, signal) => r({ code, signal })));
  return {
    child,
    lines,
    stderr: () => err,
    send: (obj) => child.stdin.write(`${JSON.stringify(obj)}\n`),
    sendRaw: (text) => child.stdin.write(text),
    waitFor: (pred) =>
      new Promise((resolve) => {
        for (const line of lines) {
          try {
            const m = JSON.parse(line) as Record<string, unknown>;
            if (pred(m)) return resolve(m);
          } catch {
            // not JSON: the purity tests catch that
          }
        }
        waiters.push({ pred, resolve });
      }),
    exited,
  };
}

export const INIT = (id: number | string = 1) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw-host', version: '1' } },
});

export async function killAll(): Promise<void> {
  for (const c of children) c.kill();
  children.clear();
  for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => {});
  dirs.clear();
}
