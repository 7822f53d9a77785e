/**
 * `mcp-relay demo` (what `npm run demo` runs): starts the embedded OAuth-protected MCP server,
 * then plays a host that launches the real relay over stdio against it, and narrates each step
 * of the login and of normal use from what really happened (server requests and counters,
 * store files, the browser's report). Uses a throw-away credential store, never the user's.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canOpenBrowser } from '../auth/browser.js';
import { describeError } from '../errors.js';
import { scrub } from '../log.js';
import { SERVERS_DIR } from '../store/store.js';
import { serverKey, STORE_HOME_ENV } from '../store/paths.js';
import { createNarrator, painter, type Narrator, type Write } from './run-output.js';
import { BROWSER_REPORT_ENV, DemoStepError, RequestLog, StoreView } from './run-observe.js';
import { autoBrowserCommand, RELAY_BIN, type RelayChildOptions } from './run-relay.js';
import { callEcho, connectAndLogIn, listTools, refreshAfterExpiry, secondRelay, type Walk } from './run-steps.js';
import { startDemoServer } from './server.js';
import type { DemoServer } from './types.js';

/**
 * Access-token lifetime of the demo server. Short, to show tokens are short-lived; the refresh
 * step expires them on purpose instead of waiting. Long enough that the relay's own refresh
 * before expiry (at half the lifetime for short tokens) does not fire during the walkthrough.
 */
export const DEMO_ACCESS_TOKEN_TTL_SEC = 60;
/** --auth-timeout when the stand-in browser approves: it takes well under a second. */
const AUTO_AUTH_TIMEOUT_SEC = 30;
/** --auth-timeout when a person approves in a real browser. */
const INTERACTIVE_AUTH_TIMEOUT_SEC = 300;
/** The host waits this much longer than the relay's auth timeout, so the relay's error wins. */
const CONNECT_GRACE_MS = 15_000;
/** Exit codes: 0 all steps passed, 1 a step failed, 130 interrupted (128 + SIGINT). */
export const DEMO_EXIT_OK = 0;
export const DEMO_EXIT_FAILED = 1;
export const DEMO_EXIT_INTERRUPTED = 130;
/** Relay log lines shown with a failure. */
const FAILURE_TAIL_LINES = 12;

export interface DemoRunOptions {
  /** Approve with the stand-in browser even if a real one could open. */
  auto: boolean;
  /** Keep the temporary credential store (its path is printed) instead of deleting it. */
  keepStore: boolean;
  env: NodeJS.ProcessEnv;
  out: Write;
  err: Write;
  /** Colours on stdout (a TTY, and NO_COLOR unset). */
  colour: boolean;
  /** Aborted on SIGINT/SIGTERM: everything is closed and the demo returns 130. */
  signal?: AbortSignal;
}

/** Whether a person will approve in a real browser, or the stand-in browser does; and why. */
export function browserMode(auto: boolean, env: NodeJS.ProcessEnv): { auto: boolean; why: string } {
  if (auto) return { auto: true, why: '--auto was given' };
  if (env.CI) return { auto: true, why: 'no browser here: CI is set' };
  const can = canOpenBrowser(env);
  return can.ok ? { auto: false, why: 'a browser can open here' } : { auto: true, why: `no browser here: ${can.reason ?? 'none can open'}` };
}

/** Closes what the demo started, newest first. A task added after a run is run by the next one. */
class Cleanup {
  private readonly tasks: Array<() => Promise<unknown>> = [];
  private chain: Promise<void> = Promise.resolve();
  add(task: () => Promise<unknown>): void {
    this.tasks.push(task);
  }
  run(): Promise<void> {
    this.chain = this.chain.then(async () => {
      for (let task = this.tasks.pop(); task; task = this.tasks.pop()) await task().catch(() => {});
    });
    return this.chain;
  }
}

/** Run the walkthrough. Resolves with the exit code; never rejects. */
export async function runDemo(opts: DemoRunOptions): Promise<number> {
  const say = createNarrator(opts.out, painter(opts.colour, opts.env));
  const cleanup = new Cleanup();
  const tail: string[] = [];
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    void cleanup.run();
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const walk = await setUp(opts, say, cleanup, tail);
    const first = await connectAndLogIn(walk);
    await listTools(walk, first);
    await callEcho(walk, first);
    await refreshAfterExpiry(walk, first);
    await secondRelay(walk, first);
    await cleanup.run();
    say.line();
    say.line(say.paint('bold', say.paint('green', 'Demo finished: all steps passed')));
    say.line(say.paint('dim', 'Next: `mcp-relay demo-server` runs this server on its own, to try with your host app and a real browser.'));
    return DEMO_EXIT_OK;
  } catch (err) {
    if (interrupted) {
      await cleanup.run();
      say.line();
      say.line('Demo interrupted; the relays and the demo server were stopped.');
      return DEMO_EXIT_INTERRUPTED;
    }
    const reason = err instanceof DemoStepError ? `step ${err.step} (${err.title}) failed: ${err.message}` : `failed: ${describeError(err)}`;
    if (err instanceof DemoStepError) say.failed(err.step, err.title, err.message);
    opts.err(`mcp-relay demo: ${scrub(reason)}\n`);
    const lines = tail.slice(-FAILURE_TAIL_LINES);
    if (lines.length) opts.err(`The relay's last log lines:\n${lines.map((l) => `  ${l}`).join('\n')}\n`);
    await cleanup.run();
    return DEMO_EXIT_FAILED;
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}

/** Temp store, demo server, request log, browser choice; prints the preamble. */
async function setUp(opts: DemoRunOptions, say: Narrator, cleanup: Cleanup, tail: string[]): Promise<Walk> {
  const mode = browserMode(opts.auto, opts.env);
  const tmp = await mkdtemp(join(tmpdir(), 'mcp-relay-demo-'));
  const storeRoot = join(tmp, 'store');
  cleanup.add(async () => {
    if (opts.keepStore) say.line(`\nThe demo's credential store was kept at ${storeRoot}`);
    else await rm(tmp, { recursive: true, force: true });
  });
  const server = await startDemoServer({ autoApprove: false, accessTokenTtlSec: DEMO_ACCESS_TOKEN_TTL_SEC });
  cleanup.add(() => server.close());
  const requests = new RequestLog(server);
  cleanup.add(async () => requests.stop());
  if (opts.signal?.aborted) throw new Error('interrupted');

  const browserReport = join(tmp, 'browser-report.jsonl');
  const relays: Array<() => Promise<void>> = [];
  cleanup.add(() => Promise.all(relays.map((close) => close())));
  const relay: RelayChildOptions = { ...relayOptions(opts, mode.auto, server, storeRoot, browserReport, tail, say), onSpawn: (close) => relays.push(close) };

  say.title('mcp-relay demo: a host app, the real relay, and a local OAuth-protected MCP server');
  say.field('MCP server', `${server.url}  (OAuth authorization server at ${server.issuer})`);
  say.field('Relay', `node ${RELAY_BIN} ${server.url}`);
  say.field('Host', 'this script: it starts the relay and speaks MCP to it over stdio, as a host app would');
  say.field('Store', `${storeRoot}  (temporary: your real logins are not touched)`);
  say.field('Browser', mode.auto ? `${mode.why}; approving automatically with a stand-in browser` : `${mode.why}: you will approve in it`);
  if (!mode.auto) {
    say.line();
    say.line(
      say.paint(
        'bold',
        `Your browser will open the demo's consent page: click Approve there (waiting up to ${INTERACTIVE_AUTH_TIMEOUT_SEC / 60} min; Ctrl+C stops).`,
      ),
    );
    requests.onRequest = (e) => {
      if (e.path !== '/authorize') return;
      say.saw('browser', e.method === 'GET' ? 'the consent page was opened: waiting for you to click Approve' : 'your answer arrived');
    };
  }

  return {
    server,
    requests,
    store: new StoreView(join(storeRoot, SERVERS_DIR, serverKey({ serverUrl: server.url }))),
    say,
    auto: mode.auto,
    browserReport,
    relay,
    signal: opts.signal,
    now: Date.now,
  };
}

function relayOptions(
  opts: DemoRunOptions,
  auto: boolean,
  server: DemoServer,
  storeRoot: string,
  browserReport: string,
  tail: string[],
  say: Narrator,
): RelayChildOptions {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.env)) if (v !== undefined) env[k] = v;
  env[STORE_HOME_ENV] = storeRoot;
  let cwd: string | undefined;
  if (auto) {
    const command = autoBrowserCommand();
    env.BROWSER = command.browser;
    env[BROWSER_REPORT_ENV] = browserReport;
    cwd = command.cwd;
  }
  const authTimeoutSec = auto ? AUTO_AUTH_TIMEOUT_SEC : INTERACTIVE_AUTH_TIMEOUT_SEC;
  return {
    serverUrl: server.url,
    env,
    cwd,
    authTimeoutSec,
    connectTimeoutMs: authTimeoutSec * 1000 + CONNECT_GRACE_MS,
    tail,
    // A person may need the URL the relay prints when no browser window appears.
    ...(auto ? {} : { onNotice: (line: string) => say.note(`relay: ${line}`) }),
  };
}
