/**
 * What the demo observes, so that every line it prints is backed by something real: the
 * requests the demo server received, its counters, the files in the credential store, and the
 * stand-in browser's own report. Nothing here ever reads out a token, code or secret value.
 */
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { DemoCounters, DemoRequestEvent, DemoServer } from './types.js';

/** A check of the walkthrough did not hold: which step, and why. */
export class DemoStepError extends Error {
  override readonly name = 'DemoStepError';
  constructor(
    readonly step: number,
    readonly title: string,
    message: string,
  ) {
    super(message);
  }
}

/** Every request the demo server received, in order, with positions to slice phases out of it. */
export class RequestLog {
  private readonly seen: DemoRequestEvent[] = [];
  private readonly listener = (e: DemoRequestEvent) => {
    this.seen.push({ method: e.method, path: e.path });
    this.onRequest?.(e);
  };

  /** Called for each request as it arrives (the interactive demo narrates the consent page live). */
  onRequest: ((e: DemoRequestEvent) => void) | undefined;

  constructor(private readonly server: DemoServer) {
    server.events.on('request', this.listener);
  }

  /** The current position; pass it to {@link since}. */
  mark(): number {
    return this.seen.length;
  }

  since(mark: number): DemoRequestEvent[] {
    return this.seen.slice(mark);
  }

  stop(): void {
    this.server.events.off('request', this.listener);
  }
}

/** A copy of the counters, to compare before and after a step. */
export function snapshot(c: DemoCounters): DemoCounters {
  return { ...c, tokenRequests: { ...c.tokenRequests } };
}

/** What the demo prints about stored tokens: shape and timing only, never a value. */
export interface TokenSummary {
  tokenType: string;
  scope: string | undefined;
  expiresAt: number | undefined;
  obtainedAt: number | undefined;
  hasRefreshToken: boolean;
  /** Unix permission bits (e.g. 0o600), undefined on Windows. */
  mode: number | undefined;
}

export interface ClientSummary {
  clientId: string;
  authMethod: string | undefined;
  redirectUris: string[];
  kind: string | undefined;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  try {
    const parsed: unknown = JSON.parse(await fs.readFile(file, 'utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** The credential-store directory of one server, read the way `mcp-relay status` would: no secrets out. */
export class StoreView {
  constructor(readonly dir: string) {}

  /** Names of the JSON files present (sorted). */
  async files(): Promise<string[]> {
    try {
      return (await fs.readdir(this.dir)).filter((f) => f.endsWith('.json')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async client(): Promise<ClientSummary | undefined> {
    const c = await readJson(join(this.dir, 'client.json'));
    const clientId = str(c?.client_id);
    if (!c || !clientId) return undefined;
    const uris = Array.isArray(c.redirect_uris) ? c.redirect_uris.filter((u): u is string => typeof u === 'string') : [];
    return { clientId, authMethod: str(c.token_endpoint_auth_method), redirectUris: uris, kind: str(c.kind) };
  }

  async tokens(): Promise<TokenSummary | undefined> {
    const file = join(this.dir, 'tokens.json');
    const t = await readJson(file);
    if (!t || typeof t.access_token !== 'string') return undefined;
    const mode = process.platform === 'win32' ? undefined : (await fs.stat(file)).mode & 0o777;
    return {
      tokenType: str(t.token_type) ?? 'Bearer',
      scope: str(t.scope),
      expiresAt: num(t.expires_at),
      obtainedAt: num(t.obtained_at),
      hasRefreshToken: typeof t.refresh_token === 'string' && t.refresh_token.length > 0,
      mode,
    };
  }
}

/** Environment variable naming the file the stand-in browser (auto-browser.ts) reports to. */
export const BROWSER_REPORT_ENV = 'MCP_RELAY_DEMO_BROWSER_REPORT';

/** One line of the stand-in browser's report (see auto-browser.ts). */
export type BrowserReport = { event: 'launched' } | { event: 'visit'; page: string } | { event: 'done' } | { event: 'error'; message: string };

/** The stand-in browser's report file, as a list of events (empty when it never ran). */
export async function readBrowserReport(file: string): Promise<BrowserReport[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: BrowserReport[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as BrowserReport);
    } catch {
      // a line cut short by a killed browser: ignore it
    }
  }
  return out;
}

/** "METHOD /path" for display. */
export function describeRequest(e: DemoRequestEvent): string {
  return `${e.method} ${e.path}`;
}

const REQUEST_MEANING: Array<[(e: DemoRequestEvent) => boolean, string]> = [
  [(e) => e.path.startsWith('/.well-known/oauth-protected-resource'), 'protected resource metadata (RFC 9728): which authorization server guards /mcp'],
  [
    (e) => e.path === '/.well-known/oauth-authorization-server' || e.path === '/.well-known/openid-configuration',
    'authorization server metadata (RFC 8414): endpoints, PKCE S256, registration',
  ],
  [(e) => e.path === '/register', 'dynamic client registration (RFC 7591)'],
  [(e) => e.method === 'GET' && e.path === '/authorize', 'the consent page'],
  [(e) => e.method === 'POST' && e.path === '/authorize', 'the Approve button was pressed; redirect to the relay with a code'],
  [(e) => e.path === '/token', 'token endpoint'],
  [(e) => e.method === 'GET' && e.path === '/mcp', 'server-to-client event stream'],
  [(e) => e.method === 'DELETE' && e.path === '/mcp', 'end of an MCP session'],
];

/** What a request to the demo server is for, in a few words ('' when unremarkable). */
export function requestMeaning(e: DemoRequestEvent): string {
  return REQUEST_MEANING.find(([match]) => match(e))?.[1] ?? '';
}
