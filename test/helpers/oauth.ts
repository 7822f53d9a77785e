/**
 * OAuth end-to-end helpers: the demo authorization + MCP server in-process, relays as children
 * whose "browser" ($BROWSER) is test/fixtures/browser.mjs, and readers for what the browser and
 * the store saw.
 */
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startDemoServer, type DemoServer, type DemoServerOptions } from '../../src/demo/server.js';
import { serverKey } from '../../src/store/paths.js';

export const BROWSER_SCRIPT = resolve(import.meta.dirname, '../fixtures/browser.mjs');

const demos: DemoServer[] = [];

export async function demo(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const d = await startDemoServer({ autoApprove: true, ...opts });
  demos.push(d);
  return d;
}

export async function closeDemos(): Promise<void> {
  for (const d of demos.splice(0)) await d.close();
}

/** Env for a relay whose browser is the following fixture; launches are logged in <home>/browser.log. */
export function browserEnv(home: string, mode: 'follow' | 'record-only' = 'follow'): Record<string, string> {
  return { BROWSER: `${process.execPath} ${BROWSER_SCRIPT}`, BROWSER_LOG: join(home, 'browser.log'), BROWSER_MODE: mode };
}

/** Authorization URLs the fixture browser was asked to open (one per tab). */
export function browserLaunches(home: string): string[] {
  const file = join(home, 'browser.log');
  return existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
}

export function storeDir(home: string, serverUrl: string, extra: { resource?: string; clientId?: string } = {}): string {
  return join(home, 'store', 'servers', serverKey({ serverUrl, ...extra }));
}

export async function readStoreJson<T = Record<string, unknown>>(home: string, serverUrl: string, file: string): Promise<T | undefined> {
  const path = join(storeDir(home, serverUrl), file);
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Rewrite tokens.json (e.g. to move the expiry), keeping everything else. */
export async function editTokens(home: string, serverUrl: string, edit: (t: Record<string, unknown>) => void): Promise<void> {
  const path = join(storeDir(home, serverUrl), 'tokens.json');
  const t = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  edit(t);
  await writeFile(path, JSON.stringify(t), { mode: 0o600 });
}
