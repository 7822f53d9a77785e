/**
 * The four ways the bench reaches its server, each as an SDK `Client`:
 * - `direct`: StreamableHTTPClientTransport straight to the server (no bridge);
 * - `floor`: StdioClientTransport spawning the least possible bridge (floor.ts: no dependencies,
 *   no auth, no recovery), what no Node bridge can beat;
 * - `relay`: StdioClientTransport spawning the built relay (`node bin/mcp-relay.js <url>`);
 * - `mcp-remote`: StdioClientTransport spawning mcp-remote (the devDependency) the same way.
 * Every child is registered with a {@link ChildRegistry} so that it is killed if the bench dies.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { useLinearReader, type HostReader } from './host-reader.js';

export const VARIANTS = ['direct', 'floor', 'relay', 'mcp-remote'] as const;
export type VariantName = (typeof VARIANTS)[number];

/** The built relay (dist/ via bin/), relative to this file compiled into dist-bench/test/bench/. */
export const RELAY_BIN = fileURLToPath(new URL('../../../bin/mcp-relay.js', import.meta.url));
/** The floor bridge, compiled next to this file. */
export const FLOOR_BIN = fileURLToPath(new URL('./floor.js', import.meta.url));
/** Keep this much of a child's stderr to explain a failure. */
const STDERR_TAIL_CHARS = 4_000;
/** Environment variables a child inherits; everything else (proxies, tokens) stays out. */
const INHERITED_ENV = ['PATH', 'SYSTEMROOT', 'TEMP', 'TMP', 'TMPDIR', 'LANG'];

/** A connected client and, for bridges, the pid of the process in between. */
export interface Target {
  readonly name: VariantName;
  readonly client: Client;
  /** The bridge process (undefined for `direct`). */
  readonly pid: number | undefined;
  /** The end of the child's stderr, for error messages. */
  stderrTail(): string;
  /**
   * Progress notifications that reached the host's transport so far. The SDK Client drops a
   * progress notification that arrives in the same read as its request's response (it
   * dispatches notifications a microtask late), so this tells a bridge that lost a
   * notification from a host that dropped one.
   */
  progressSeen(): number;
  close(): Promise<void>;
}

/** Pids of children still running; `killAll` is synchronous so it can run in an 'exit' handler. */
export class ChildRegistry {
  private readonly pids = new Set<number>();

  add(pid: number): void {
    this.pids.add(pid);
  }

  delete(pid: number): void {
    this.pids.delete(pid);
  }

  killAll(): void {
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    this.pids.clear();
  }
}

/** How to start a bridge child. */
export interface SpawnSpec {
  command: string;
  args: string[];
  env: Record<string, string>;
}

export interface BridgeOptions {
  /** Private HOME / config dirs so neither bridge touches the user's files. */
  home: string;
  /** Run the relay with `--cpu-prof` writing profiles into this directory. */
  cpuProfDir?: string | undefined;
}

function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of INHERITED_ENV) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  return { ...env, ...extra };
}

/** `node bin/mcp-relay.js <url>` with a private store (MCP_RELAY_HOME). */
export function relaySpec(url: string, opts: BridgeOptions): SpawnSpec {
  const prof = opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : [];
  return {
    command: process.execPath,
    args: [...prof, RELAY_BIN, url],
    env: childEnv({ HOME: opts.home, MCP_RELAY_HOME: join(opts.home, 'mcp-relay') }),
  };
}

/** `node floor.js <url>`: the floor bridge (see floor.ts). */
export function floorSpec(url: string, opts: BridgeOptions): SpawnSpec {
  return { command: process.execPath, args: [FLOOR_BIN, url], env: childEnv({ HOME: opts.home }) };
}

/** Where the installed mcp-remote's `mcp-remote` bin lives, and its version; undefined if not installed. */
export function findMcpRemote(): { bin: string; version: string } | undefined {
  try {
    const require = createRequire(import.meta.url);
    const pkgPath = require.resolve('mcp-remote/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string; bin?: string | Record<string, string> };
    const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.['mcp-remote'];
    return rel ? { bin: join(dirname(pkgPath), rel), version: pkg.version } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `node <mcp-remote bin> <url> --allow-http`, with HOME and MCP_REMOTE_CONFIG_DIR in the temp
 * dir (its README: credentials live in ~/.mcp-auth or MCP_REMOTE_CONFIG_DIR).
 */
export function mcpRemoteSpec(url: string, bin: string, opts: BridgeOptions): SpawnSpec {
  return {
    command: process.execPath,
    args: [bin, url, '--allow-http'],
    env: childEnv({ HOME: opts.home, MCP_REMOTE_CONFIG_DIR: join(opts.home, 'mcp-remote') }),
  };
}

function newClient(): Client {
  return new Client({ name: 'mcp-relay-bench', version: '1.0.0' }, { capabilities: {} });
}

/** Count progress notifications as they leave the transport (wraps the handler the Client set). */
function countProgress(transport: Transport): () => number {
  let seen = 0;
  const inner = transport.onmessage;
  transport.onmessage = (message, extra) => {
    if ('method' in message && message.method === 'notifications/progress') seen++;
    inner?.(message, extra);
  };
  return () => seen;
}

/** Connect (initialize included) straight to the server over Streamable HTTP. */
export async function connectDirect(url: string): Promise<Target> {
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const client = newClient();
  await client.connect(transport);
  return {
    name: 'direct',
    client,
    pid: undefined,
    stderrTail: () => '',
    progressSeen: countProgress(transport),
    async close() {
      await transport.terminateSession().catch(() => {});
      await client.close().catch(() => {});
    },
  };
}

/** How the bench's host reads a bridge's stdout. */
export interface HostOptions {
  /** Raises the SDK's stdio read limit (10 MiB by default) above the largest payload. */
  maxBufferSize: number;
  reader: HostReader;
}

/** Spawn a bridge and connect (initialize included) over its stdio. */
export async function connectBridge(name: VariantName, spec: SpawnSpec, registry: ChildRegistry, host: HostOptions): Promise<Target> {
  const transport = new StdioClientTransport({ command: spec.command, args: spec.args, env: spec.env, stderr: 'pipe', maxBufferSize: host.maxBufferSize });
  if (host.reader === 'linear') useLinearReader(transport, host.maxBufferSize);
  let tail = '';
  // Drained always: a full stderr pipe would block the child.
  transport.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });
  const client = newClient();
  let pid: number | undefined;
  const close = async (): Promise<void> => {
    await client.close().catch(() => {});
    if (pid !== undefined) registry.delete(pid);
  };
  try {
    const connecting = client.connect(transport);
    pid = transport.pid ?? undefined;
    if (pid !== undefined) registry.add(pid);
    await connecting;
  } catch (err) {
    await close();
    throw new Error(`${name} failed to start: ${err instanceof Error ? err.message : String(err)}\n--- stderr ---\n${tail}`, { cause: err });
  }
  return { name, client, pid, stderrTail: () => tail, progressSeen: countProgress(transport), close };
}
