/**
 * Drive the built relay as an aggregate: a servers file in the host-config shape
 * (`{"mcpServers": {...}}`) and `mcp-relay --config FILE <names…>`, connected with the SDK
 * Client over stdio as a host would.
 */
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { RELAY_BIN, relayEnv, type ConnectedRelay } from './relay.js';

export interface AggregateEntry {
  name: string;
  url: string;
  /** More keys of the server's entry (relay options, camel-cased). */
  options?: Record<string, unknown>;
}

const closers = new Set<() => Promise<void>>();

/** Write the servers file into `home` and return its path. */
export async function writeServersFile(home: string, entries: readonly AggregateEntry[]): Promise<string> {
  const file = join(home, 'servers.json');
  const mcpServers = Object.fromEntries(entries.map((e) => [e.name, { url: e.url, ...e.options }]));
  await writeFile(file, JSON.stringify({ mcpServers }, null, 2));
  return file;
}

/** The command line that runs the aggregate of `names` from `file`. */
export function aggregateArgs(file: string, names: readonly string[], extra: readonly string[] = []): string[] {
  return [RELAY_BIN, '--config', file, ...names, ...extra];
}

/** Spawn the aggregate and connect an SDK client (initialize included). */
export async function connectAggregate(
  entries: readonly AggregateEntry[],
  opts: {
    home: string;
    env?: Record<string, string>;
    capabilities?: Record<string, unknown>;
    setup?: (c: Client) => void;
    timeoutMs?: number;
    extraArgs?: string[];
  },
): Promise<ConnectedRelay> {
  const file = await writeServersFile(opts.home, entries);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: aggregateArgs(
      file,
      entries.map((e) => e.name),
      opts.extraArgs,
    ),
    env: relayEnv(opts.home, opts.env),
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'aggregate-test-host', version: '1.0.0' }, { capabilities: opts.capabilities ?? {} });
  opts.setup?.(client);
  closers.add(() => transport.close().catch(() => {}));
  await client.connect(transport, opts.timeoutMs ? { timeout: opts.timeoutMs } : undefined);
  return { client, transport, stderr: () => err, pid: transport.pid ?? undefined };
}

export async function closeAggregates(): Promise<void> {
  for (const close of closers) await close();
  closers.clear();
}

/** Every page of a list, following the aggregate's cursors; returns the items and the page count. */
export async function allPages<T>(
  fetchPage: (cursor: string | undefined) => Promise<{ nextCursor?: string | undefined } & Record<string, unknown>>,
  key: string,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = await fetchPage(cursor);
    pages++;
    items.push(...((page[key] as T[] | undefined) ?? []));
    cursor = page.nextCursor;
  } while (cursor !== undefined);
  return { items, pages };
}

export const AGGREGATE_BIN = resolve(RELAY_BIN);
