/**
 * The demo's scripted host: starts the real relay (bin/mcp-relay.js) as a child process and
 * talks MCP to it over stdio with the SDK's Client, exactly as a host app would.
 */
import { dirname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { scrub } from '../log.js';

/** The executable the package ships (what `npx mcp-relay` runs). */
export const RELAY_BIN = fileURLToPath(new URL('../../bin/mcp-relay.js', import.meta.url));
/** The stand-in browser, compiled next to this file. */
export const AUTO_BROWSER = fileURLToPath(new URL('./auto-browser.js', import.meta.url));

/** Relay log lines kept to explain a failure. */
const STDERR_TAIL_LINES = 20;
const HOST_INFO = { name: 'mcp-relay-demo-host', version: '1.0.0' };

export interface RelayChildOptions {
  serverUrl: string;
  /** Environment of the relay (the SDK adds its safe defaults such as PATH and HOME). */
  env: Record<string, string>;
  cwd?: string | undefined;
  /** --auth-timeout for the relay, seconds. */
  authTimeoutSec: number;
  /** How long the host waits for its initialize to be answered (the login happens meanwhile). */
  connectTimeoutMs: number;
  /** Lines the relay writes for the user (not JSON log records), e.g. "open this URL yourself". */
  onNotice?: (line: string) => void;
  /** Receives the relay's log messages (scrubbed, last few kept), also when starting fails. */
  tail?: string[];
  /** Called with the child's close function as soon as it is spawned (before initialize is answered). */
  onSpawn?: (close: () => Promise<void>) => void;
}

export interface RelayChild {
  client: Client;
  pid: number | undefined;
  /** The relay's last log messages, scrubbed, for failure reports. */
  stderrTail(): string[];
  /** Close stdin (the relay shuts down), then SIGTERM/SIGKILL if it lingers. Idempotent. */
  close(): Promise<void>;
}

/** One relay stderr line as a short readable message ("info: logged in; tokens stored"). */
function logLine(line: string): { notice: boolean; text: string } {
  try {
    const rec = JSON.parse(line) as { level?: number; msg?: unknown };
    if (rec && typeof rec === 'object' && typeof rec.msg === 'string') {
      const level = ({ 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' } as Record<number, string>)[rec.level ?? 30] ?? 'log';
      return { notice: false, text: `${level}: ${rec.msg}` };
    }
  } catch {
    // not a JSON log record: one of the relay's notices to the user
  }
  return { notice: true, text: line };
}

/**
 * Spawn `node bin/mcp-relay.js <url> --log-level info --auth-timeout N --credential-store file` and connect an SDK
 * client to it (initialize included). On failure the child is closed before rethrowing.
 */
export async function startRelay(opts: RelayChildOptions): Promise<RelayChild> {
  const tail = opts.tail ?? [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    // The demo's store is a temp dir deleted at the end: keychain entries would outlive it.
    args: [RELAY_BIN, opts.serverUrl, '--log-level', 'info', '--auth-timeout', String(opts.authTimeoutSec), '--credential-store', 'file'],
    env: opts.env,
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    stderr: 'pipe',
  });
  let partial = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const raw = partial.slice(0, nl).trimEnd();
      partial = partial.slice(nl + 1);
      if (!raw) continue;
      const { notice, text } = logLine(raw);
      tail.push(scrub(text));
      if (tail.length > STDERR_TAIL_LINES) tail.shift();
      if (notice) opts.onNotice?.(text);
    }
  });
  const client = new Client(HOST_INFO, { capabilities: {} });
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= transport.close().catch(() => {}));
  opts.onSpawn?.(close);
  try {
    await client.connect(transport, { timeout: opts.connectTimeoutMs });
  } catch (err) {
    await close();
    throw err;
  }
  return { client, pid: transport.pid ?? undefined, stderrTail: () => [...tail], close };
}

/**
 * The `$BROWSER` value that launches the stand-in browser. The relay splits `$BROWSER` on
 * whitespace, so a path with a space in it (e.g. under "Program Files") cannot be passed whole:
 * then the script is named relative to the relay's working directory and node by its name on PATH.
 */
export function autoBrowserCommand(): { browser: string; cwd: string | undefined } {
  const node = /\s/.test(process.execPath) ? 'node' : process.execPath;
  if (!/\s/.test(AUTO_BROWSER)) return { browser: `${node} ${AUTO_BROWSER}`, cwd: undefined };
  const cwd = dirname(AUTO_BROWSER);
  return { browser: `${node} ${relative(cwd, AUTO_BROWSER)}`, cwd };
}
