/**
 * The numbered steps of `mcp-relay demo`. Each step does something a host would do, then
 * prints what really happened (requests the server received, its counters, the store files)
 * and checks it; a check that does not hold throws {@link DemoStepError}.
 */
import { describeError } from '../errors.js';
import { sleep } from '../sleep.js';
import { secondsUntil, type Narrator } from './run-output.js';
import {
  describeRequest,
  DemoStepError,
  readBrowserReport,
  requestMeaning as meaning,
  snapshot,
  type BrowserReport,
  type RequestLog,
  type StoreView,
} from './run-observe.js';
import { startRelay, type RelayChild, type RelayChildOptions } from './run-relay.js';
import type { DemoRequestEvent, DemoServer } from './types.js';

/** How long the host waits for one MCP request once logged in. */
export const DEMO_REQUEST_TIMEOUT_MS = 20_000;
const ECHO_TEXT = 'hello through the relay';
const ECHO_AFTER_EXPIRY = 'still here after the token expired';
/** What the store promises for tokens.json: owner read/write only. */
const PRIVATE_FILE_MODE = 0o600;

/** Everything the steps use; built by run.ts. */
export interface Walk {
  server: DemoServer;
  requests: RequestLog;
  store: StoreView;
  say: Narrator;
  /** True when the stand-in browser approves (no real browser, or --auto). */
  auto: boolean;
  /** File the stand-in browser reports to. */
  browserReport: string;
  /** Options for each relay child the host starts (their onSpawn makes sure they are closed at the end). */
  relay: RelayChildOptions;
  /** Aborted when the user interrupts the demo: then nothing more is narrated. */
  signal?: AbortSignal | undefined;
  now(): number;
}

/** "POST /mcp → POST /token → POST /mcp ×2": the requests in order, repeats folded. */
function summarize(events: DemoRequestEvent[]): string {
  const runs: Array<{ what: string; n: number }> = [];
  for (const e of events) {
    const what = describeRequest(e);
    const last = runs[runs.length - 1];
    if (last?.what === what) last.n++;
    else runs.push({ what, n: 1 });
  }
  return runs.map((r) => (r.n > 1 ? `${r.what} ×${r.n}` : r.what)).join(' → ') || '(nothing)';
}

function sawEach(w: Walk, events: DemoRequestEvent[], note?: (e: DemoRequestEvent) => string): void {
  for (const e of events) {
    const why = note?.(e) ?? meaning(e);
    w.say.saw('server', why ? `${describeRequest(e)}  ${w.say.paint('dim', `(${why})`)}` : describeRequest(e));
  }
}

function check(ok: boolean, step: number, title: string, reason: string): asserts ok {
  if (!ok) throw new DemoStepError(step, title, reason);
}

/** Run `fn` as step `n`: an unexpected error there is reported as that step failing. */
async function step<T>(w: Walk, n: number, title: string, fn: () => Promise<T>): Promise<T> {
  w.say.step(n, title);
  try {
    return await fn();
  } catch (err) {
    if (err instanceof DemoStepError) throw err;
    throw new DemoStepError(n, title, describeError(err));
  }
}

function text(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content.map((c) => c.text ?? '').join('');
}

/**
 * Steps 1–5: the host connects; the relay's initialize is refused with 401 and the relay logs
 * in (discovery, registration, browser, token) before forwarding it again. They happen inside
 * one `initialize`, so they are printed from the record once it is answered (or has failed).
 */
export async function connectAndLogIn(w: Walk): Promise<RelayChild> {
  const start = w.requests.mark();
  let relay: RelayChild | undefined;
  let failure: unknown;
  try {
    relay = await startRelay(w.relay);
  } catch (err) {
    failure = err;
  }
  if (w.signal?.aborted) throw new Error('interrupted');
  const events = w.requests.since(start);
  const c = w.server.counters;
  const cause = failure === undefined ? '' : `; the host's initialize failed: ${describeError(failure)}`;

  let title = 'The host connects: the relay forwards initialize with no token';
  w.say.step(1, title);
  const first = events[0];
  check(first !== undefined && first.method === 'POST' && first.path === '/mcp', 1, title, `the server received no MCP request${cause}`);
  check(c.unauthorized401 >= 1, 1, title, `the server never answered 401${cause}`);
  w.say.saw('server', `${describeRequest(first)}  → 401 Unauthorized`);
  w.say.note(`WWW-Authenticate: Bearer resource_metadata="${w.server.resourceMetadataUrl}" tells the relay where to start`);
  w.say.ok(`the server refused ${c.unauthorized401} unauthenticated request${c.unauthorized401 === 1 ? '' : 's'} with 401`);

  title = 'Discovery: the relay reads the metadata documents';
  w.say.step(2, title);
  const discovery = events.filter((e) => e.method === 'GET' && e.path.startsWith('/.well-known/'));
  sawEach(w, discovery);
  check(
    discovery.some((e) => e.path.startsWith('/.well-known/oauth-protected-resource')),
    2,
    title,
    `no protected resource metadata request${cause}`,
  );
  check(
    discovery.some((e) => meaning(e).startsWith('authorization server metadata')),
    2,
    title,
    `no authorization server metadata request${cause}`,
  );
  w.say.ok('found the authorization server and its endpoints');

  title = 'Registration: the relay registers itself as an OAuth client';
  w.say.step(3, title);
  sawEach(
    w,
    events.filter((e) => e.path === '/register'),
  );
  check(c.registrations === 1, 3, title, `the server counted ${c.registrations} registrations (expected 1)${cause}`);
  const client = await w.store.client();
  check(client !== undefined, 3, title, `client.json did not appear in the store${cause}`);
  w.say.saw(
    'store',
    `client.json: client_id ${client.clientId}, ${client.authMethod === 'none' || !client.authMethod ? 'a public client (no secret)' : `auth method ${client.authMethod}`}`,
  );
  if (client.redirectUris[0]) w.say.note(`redirect URI ${client.redirectUris[0]}: the relay's own loopback listener`);
  w.say.ok('registered once');

  title = 'Browser: the user approves on the consent page';
  w.say.step(4, title);
  sawEach(
    w,
    events.filter((e) => e.path === '/authorize'),
  );
  w.say.note('the server only accepts PKCE S256 requests: the URL carries a hash, the secret verifier stays in the relay');
  if (w.auto) await reportStandInBrowser(w, title, cause);
  check(c.authorizeRequests === 1, 4, title, `the server counted ${c.authorizeRequests} authorization requests, i.e. browser tabs (expected 1)${cause}`);
  check(c.codesIssued === 1, 4, title, `the server issued ${c.codesIssued} authorization codes (expected 1: was Approve pressed?)${cause}`);
  if (!w.auto) w.say.saw('you', 'approved in your browser');
  w.say.ok("one browser tab, one authorization code, delivered to the relay's loopback callback");

  title = 'Token: the relay exchanges the code for tokens';
  w.say.step(5, title);
  sawEach(
    w,
    events.filter((e) => e.path === '/token'),
    () => 'grant_type=authorization_code, with the PKCE verifier',
  );
  check(c.tokenRequests.authorization_code === 1, 5, title, `the server counted ${c.tokenRequests.authorization_code} code exchanges (expected 1)${cause}`);
  await describeTokens(w, 5, title, cause);
  const after = events.slice(events.findIndex((e) => e.path === '/token') + 1).filter((e) => e.path === '/mcp');
  if (after.length) w.say.saw('server', `${summarize(after)}  ${w.say.paint('dim', '(the queued initialize, now with the token)')}`);
  check(relay !== undefined, 5, title, `the relay did not answer the host's initialize${cause}`);
  w.say.ok("logged in; the host's initialize was answered");
  return relay;
}

/**
 * Longest wait for the stand-in browser to record how its walk ended. The relay finishes the login
 * as soon as the callback request arrives, which can be before the browser process has read the
 * callback page and written `done`: on a loaded machine step 4 read the report too early and left
 * out "pressed Approve" (demo.test.ts, seen once in the node matrix on Node 26).
 */
const BROWSER_REPORT_WAIT_MS = 5_000;
const BROWSER_REPORT_POLL_MS = 50;

/** The stand-in browser's report once it has a final event (`done` or `error`), or at the deadline. */
async function finishedBrowserReport(w: Walk): Promise<BrowserReport[]> {
  const deadline = w.now() + BROWSER_REPORT_WAIT_MS;
  for (;;) {
    const report = await readBrowserReport(w.browserReport);
    if (report.some((r) => r.event === 'done' || r.event === 'error') || w.now() >= deadline) return report;
    await sleep(BROWSER_REPORT_POLL_MS);
  }
}

async function reportStandInBrowser(w: Walk, title: string, cause: string): Promise<void> {
  const report = await finishedBrowserReport(w);
  const launches = report.filter((r) => r.event === 'launched').length;
  const pages = report.flatMap((r) => (r.event === 'visit' ? [r.page] : []));
  const error = report.find((r) => r.event === 'error');
  w.say.saw('browser', `no real browser here: the relay launched the stand-in browser ${launches} time${launches === 1 ? '' : 's'}`);
  if (pages.length) w.say.saw('browser', `visited ${pages.join(' → ')}`);
  check(error === undefined, 4, title, `the stand-in browser failed: ${error && 'message' in error ? error.message : ''}${cause}`);
  check(launches === 1, 4, title, `the relay launched the browser ${launches} times (expected 1)${cause}`);
  if (report.some((r) => r.event === 'done')) w.say.saw('browser', "pressed Approve on the consent page for you, and reached the relay's callback");
}

async function describeTokens(w: Walk, n: number, title: string, cause: string): Promise<void> {
  const t = await w.store.tokens();
  check(t !== undefined, n, title, `tokens.json did not appear in the store${cause}`);
  const expiry = t.expiresAt === undefined ? 'no expiry given' : `access token expires in ${secondsUntil(t.expiresAt, w.now())} s`;
  const mode = t.mode === undefined ? '' : `, file mode ${t.mode.toString(8).padStart(4, '0')}`;
  w.say.saw('store', `tokens.json: ${t.tokenType}, scope "${t.scope ?? ''}", ${expiry}, refresh token ${t.hasRefreshToken ? 'stored' : 'absent'}${mode}`);
  w.say.note(`files now in the store: ${(await w.store.files()).join(', ')} (token values are never printed)`);
  check(t.expiresAt === undefined || t.expiresAt > w.now(), n, title, 'the stored access token is already expired');
  check(t.mode === undefined || t.mode === PRIVATE_FILE_MODE, n, title, `tokens.json has mode ${t.mode?.toString(8)} (expected 600)`);
}

/** Step 6: tools/list through the relay. */
export function listTools(w: Walk, relay: RelayChild): Promise<void> {
  const title = 'tools/list through the relay';
  return step(w, 6, title, async () => {
    const start = w.requests.mark();
    const { tools } = await relay.client.listTools({}, { timeout: DEMO_REQUEST_TIMEOUT_MS });
    w.say.saw('host', `tools: ${tools.map((t) => t.name).join(', ')}`);
    w.say.saw('server', summarize(w.requests.since(start)));
    check(
      tools.some((t) => t.name === 'echo'),
      6,
      title,
      'the echo tool is missing from tools/list',
    );
    w.say.ok(`${tools.length} tools listed`);
  });
}

/** Step 7: a tool call. */
export function callEcho(w: Walk, relay: RelayChild): Promise<void> {
  const title = 'A tool call: echo';
  return step(w, 7, title, async () => {
    const start = w.requests.mark();
    const result = await relay.client.callTool({ name: 'echo', arguments: { text: ECHO_TEXT } }, undefined, { timeout: DEMO_REQUEST_TIMEOUT_MS });
    w.say.saw('host', `tools/call echo {"text": "${ECHO_TEXT}"} → "${text(result)}"`);
    w.say.saw('server', summarize(w.requests.since(start)));
    check(text(result) === ECHO_TEXT, 7, title, `echo answered ${JSON.stringify(text(result))}`);
    w.say.ok('the answer came back unchanged');
  });
}

/** Step 8: the access token expires; the next call is refused, the relay refreshes and retries. */
export function refreshAfterExpiry(w: Walk, relay: RelayChild): Promise<void> {
  const title = 'Refresh: the access token expires';
  return step(w, 8, title, async () => {
    const before = snapshot(w.server.counters);
    const tokensBefore = await w.store.tokens();
    w.server.expireAccessTokens();
    w.say.note('the server now treats every access token it issued as expired, as if their time had run out');
    const start = w.requests.mark();
    const result = await relay.client.callTool({ name: 'echo', arguments: { text: ECHO_AFTER_EXPIRY } }, undefined, { timeout: DEMO_REQUEST_TIMEOUT_MS });
    const c = w.server.counters;
    w.say.saw('server', `${summarize(w.requests.since(start))}  ${w.say.paint('dim', '(expired token refused with 401, refresh, retry)')}`);
    w.say.saw(
      'server',
      `401 answers +${c.unauthorized401 - before.unauthorized401}, refresh_token grants +${c.tokenRequests.refresh_token - before.tokenRequests.refresh_token}, browser tabs +${c.authorizeRequests - before.authorizeRequests}`,
    );
    w.say.saw('host', `tools/call echo → "${text(result)}"`);
    check(text(result) === ECHO_AFTER_EXPIRY, 8, title, `echo answered ${JSON.stringify(text(result))}`);
    check(c.tokenRequests.refresh_token > before.tokenRequests.refresh_token, 8, title, 'the relay did not use its refresh token');
    check(c.authorizeRequests === before.authorizeRequests, 8, title, 'the relay sent the user to the browser again instead of refreshing');
    const tokensAfter = await w.store.tokens();
    check((tokensAfter?.obtainedAt ?? 0) > (tokensBefore?.obtainedAt ?? 0), 8, title, 'tokens.json was not updated after the refresh');
    await describeTokens(w, 8, title, '');
    w.say.ok('refreshed without bothering the user; the call went through');
  });
}

/** Step 9: a second relay process (hosts start several) reuses the stored login. */
export function secondRelay(w: Walk, first: RelayChild): Promise<RelayChild> {
  const title = 'A second relay process reuses the stored login';
  return step(w, 9, title, async () => {
    const before = snapshot(w.server.counters);
    const launchesBefore = (await readBrowserReport(w.browserReport)).filter((r) => r.event === 'launched').length;
    const start = w.requests.mark();
    const relay = await startRelay(w.relay);
    w.say.note(`hosts often run several copies of a server: relay pid ${relay.pid ?? '?'} starts while pid ${first.pid ?? '?'} still runs`);
    const { tools } = await relay.client.listTools({}, { timeout: DEMO_REQUEST_TIMEOUT_MS });
    const who = await relay.client.callTool({ name: 'whoami', arguments: {} }, undefined, { timeout: DEMO_REQUEST_TIMEOUT_MS });
    const c = w.server.counters;
    const stored = await w.store.client();
    const whoClient = (who.structuredContent as { client_id?: unknown } | undefined)?.client_id;
    w.say.saw('server', summarize(w.requests.since(start)));
    w.say.saw('host', `tools/list → ${tools.length} tools; whoami → client_id ${String(whoClient)}`);
    const change = (name: string, a: number, b: number) => `${name} ${a}→${b}`;
    w.say.saw(
      'server',
      [
        change('registrations', before.registrations, c.registrations),
        change('browser tabs', before.authorizeRequests, c.authorizeRequests),
        change('code exchanges', before.tokenRequests.authorization_code, c.tokenRequests.authorization_code),
        change('refreshes', before.tokenRequests.refresh_token, c.tokenRequests.refresh_token),
      ].join(', '),
    );
    check(c.registrations === before.registrations, 9, title, 'the second relay registered a new client');
    check(c.authorizeRequests === before.authorizeRequests, 9, title, 'the second relay opened a browser tab');
    check(c.tokenRequests.authorization_code === before.tokenRequests.authorization_code, 9, title, 'the second relay exchanged a new authorization code');
    if (w.auto) {
      const launches = (await readBrowserReport(w.browserReport)).filter((r) => r.event === 'launched').length;
      check(launches === launchesBefore, 9, title, 'the second relay launched the browser');
    }
    check(whoClient === stored?.clientId, 9, title, 'the second relay used another OAuth client than the stored one');
    w.say.ok('no registration, no browser, no code exchange: same client, tokens read from the store');
    return relay;
  });
}
