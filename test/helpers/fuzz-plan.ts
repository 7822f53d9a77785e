/**
 * The randomized "exactly one answer" test's plan (test/e2e/invariants.test.ts): from one seed,
 * what a careless host writes on the relay's stdin, and what a hostile server does with each
 * message it receives. Same seed, same plan (timing still varies from run to run, which is the
 * point: the invariants must hold whatever the interleaving).
 *
 * Server behaviour is chosen per message by a key the message carries (a request's id; a
 * notification's `_meta.fuzz`), so the fault proxy can look it up when the relay's POST arrives.
 * Each key has a queue: a message that comes back (a retry after a reset, a redirect followed, the
 * retry after a 404 re-initialize) takes the next entry, or passes to the real server when none is left.
 */
import type { FaultAction, HostileAnswer } from './faults.js';

/** A small seeded PRNG (mulberry32): fast, 32-bit state, good enough to pick cases. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Pick by weight: `[[value, weight], ...]`. */
  weighted<T>(entries: ReadonlyArray<readonly [T, number]>): T {
    let r = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [value, w] of entries) {
      r -= w;
      if (r < 0) return value;
    }
    return entries[entries.length - 1]![0];
  }
}

/** The seed of run `i` of a test seeded with `seed` (so one run can be replayed on its own). */
export function runSeed(seed: number, i: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(i + 1, 0xc2b2ae35)) >>> 0;
}

const HOSTILE: HostileAnswer[] = [
  'json-silence',
  'json-huge-declared',
  'json-endless',
  'sse-garbage',
  'sse-comments',
  'sse-trickle',
  'sse-no-newline',
  'sse-progress-forever',
];

/** What the server side does with one message (see serverAction). */
export type ServerFault =
  | 'pass'
  | 'hang'
  | 'stall-stream'
  | 'reset'
  | 'reset-after-first-event'
  | 'http-404'
  | 'http-500'
  | 'http-502-html'
  | 'http-503'
  | 'portal-html'
  | 'json-garbage'
  | 'json-other-id'
  | 'accepted-202'
  | 'redirect-307-same-origin'
  | 'redirect-302-cross-origin'
  | 'double-answer'
  | `hostile:${HostileAnswer}`;

/** Every fault the server side picks from (all but `pass`). */
export const SERVER_FAULTS: ServerFault[] = [
  'hang',
  'stall-stream',
  'reset',
  'reset-after-first-event',
  'http-404',
  'http-500',
  'http-502-html',
  'http-503',
  'portal-html',
  'json-garbage',
  'json-other-id',
  'accepted-202',
  'redirect-307-same-origin',
  'redirect-302-cross-origin',
  'double-answer',
  ...HOSTILE.map((h) => `hostile:${h}` as const),
];

/**
 * The fault proxy's action for a fault; `origin` is the proxy's, `port` its port (for a redirect to
 * another origin), `id` the request's id where the answer must name it.
 */
export function serverAction(fault: ServerFault, origin: string, port: number, id: unknown = null): FaultAction | undefined {
  const json = { 'content-type': 'application/json' };
  switch (fault) {
    case 'pass':
      return undefined;
    case 'hang':
    case 'stall-stream':
    case 'reset':
    case 'reset-after-first-event':
      return { kind: fault };
    case 'http-404':
      return { kind: 'respond', status: 404, headers: { 'content-type': 'text/plain' }, body: 'Not Found' };
    case 'http-500':
      return { kind: 'respond', status: 500, headers: json, body: '{"error":"internal"}' };
    case 'http-502-html':
      return { kind: 'respond', status: 502, headers: { 'content-type': 'text/html' }, body: '<html><body>Bad gateway</body></html>' };
    case 'http-503':
      return { kind: 'respond', status: 503, headers: { 'retry-after': '1' }, body: '' };
    case 'portal-html':
      return { kind: 'respond', status: 200, headers: { 'content-type': 'text/html' }, body: '<html>Please log in to the Wi-Fi</html>' };
    case 'json-garbage':
      return { kind: 'respond', status: 200, headers: json, body: '{"jsonrpc":"2.0","id":' };
    case 'json-other-id':
      return { kind: 'respond', status: 200, headers: json, body: '{"jsonrpc":"2.0","id":"someone-else","result":{}}' };
    case 'accepted-202':
      return { kind: 'respond', status: 202 };
    case 'redirect-307-same-origin':
      // Followed (same origin, method and body kept); the second arrival takes the next plan entry.
      return { kind: 'respond', status: 307, headers: { location: `${origin}/mcp` } };
    case 'redirect-302-cross-origin':
      // localhost is another origin than 127.0.0.1: not followed, reported.
      return { kind: 'respond', status: 302, headers: { location: `http://localhost:${port}/mcp` } };
    case 'double-answer': {
      // The same response twice in one answer stream: the host must see it once.
      const event = `data: ${JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'twice' }] } })}\n\n`;
      return { kind: 'respond', status: 200, headers: { 'content-type': 'text/event-stream' }, body: event + event };
    }
    default:
      return { kind: 'hostile', answer: fault.slice('hostile:'.length) as HostileAnswer };
  }
}

/**
 * Faults for the relay's standalone GET stream (server-to-host messages), picked per GET: it must
 * not disturb the requests (a 404 there starts a new session; 405 means no stream; the rest are
 * retried with backoff or read within the memory bounds).
 */
export const GET_FAULTS: ServerFault[] = [
  'hang',
  'stall-stream',
  'reset',
  'http-404',
  'http-500',
  'portal-html',
  'hostile:sse-garbage',
  'hostile:sse-no-newline',
  'hostile:sse-progress-forever',
  'hostile:json-huge-declared',
];

/** Share of GETs that meet a fault. */
const GET_FAULT_SHARE = 0.5;

export function getFault(rng: Rng): ServerFault {
  return rng.next() < GET_FAULT_SHARE ? rng.pick(GET_FAULTS) : 'pass';
}

/**
 * Invalid lines, each with the answer JSON-RPC 2.0 §5 asks for: `null` = one error with id null,
 * `none` = no answer (blank lines). `pendingHostBranch`: the relay at this commit does not answer
 * it yet (the host-side fix is on another branch); generated only when that kind is switched on.
 */
interface InvalidKind {
  name: string;
  line: (n: number) => string;
  answer: 'null' | 'none';
  pendingHostBranch?: true;
}

/** An oversize host line: just over the 1 MiB --max-message-mb the test runs with. */
const OVERSIZE_LINE_BYTES = 1024 * 1024 + 16;

export const INVALID_KINDS: InvalidKind[] = [
  { name: 'truncated-json', line: (n) => `{"jsonrpc":"2.0","id":"t-${n}","method":`, answer: 'null' },
  { name: 'not-json', line: () => 'hello, relay', answer: 'null' },
  { name: 'batch', line: (n) => `[{"jsonrpc":"2.0","id":"b-${n}","method":"ping"}]`, answer: 'null' },
  { name: 'empty-array', line: () => '[]', answer: 'null' },
  { name: 'number', line: (n) => String(n), answer: 'null' },
  { name: 'string', line: () => '"hello"', answer: 'null' },
  { name: 'json-null', line: () => 'null', answer: 'null' },
  { name: 'wrong-version', line: () => '{"jsonrpc":"1.0","method":"ping"}', answer: 'null' },
  { name: 'oversize', line: () => JSON.stringify('x'.repeat(OVERSIZE_LINE_BYTES)), answer: 'null' },
  { name: 'blank', line: () => '   ', answer: 'none' },
  // JSON-RPC 2.0 §4/§5: an id that is not a string or number, a method that is not a string, or
  // an object that is neither request nor response is an Invalid Request, answered with id null.
  { name: 'id-object', line: () => '{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}', answer: 'null', pendingHostBranch: true },
  { name: 'id-true', line: () => '{"jsonrpc":"2.0","id":true,"method":"ping"}', answer: 'null', pendingHostBranch: true },
  { name: 'id-null', line: () => '{"jsonrpc":"2.0","id":null,"method":"ping"}', answer: 'null', pendingHostBranch: true },
  { name: 'method-number', line: () => '{"jsonrpc":"2.0","id":{},"method":5}', answer: 'null', pendingHostBranch: true },
  { name: 'neither', line: () => '{"jsonrpc":"2.0"}', answer: 'null', pendingHostBranch: true },
];

/** Case kinds that wait for the host branch (see the invariants test for the switch). */
export interface PendingKinds {
  /** A request reusing the id of one still pending: answered at once with an error, the first still answered. */
  duplicateIds: boolean;
  /** Invalid requests (id of the wrong type, method not a string...): -32600 with id null. */
  invalidRequests: boolean;
}

export type HostCase =
  | { kind: 'request'; id: string | number; method: string; line: string; server: ServerFault[]; what: string }
  | { kind: 'duplicate'; id: string | number; line: string; of: number }
  /** `key`: what the notification carries in `_meta.fuzz` for the server side to find its plan. */
  | { kind: 'notification'; key: string; line: string; server: ServerFault[]; what: string }
  | { kind: 'invalid'; line: string; answer: 'null' | 'none'; what: string }
  | { kind: 'pause'; ms: number }
  /** The host stops reading stdout for `ms` while it goes on writing (a busy host). */
  | { kind: 'stop-reading'; ms: number };

/** What a `tools/call` asks of the real server when no fault intervenes (the fixture's tools). */
const TOOL_CALLS: Array<readonly [string, (key: string) => Record<string, unknown>, number]> = [
  ['echo', (key) => ({ name: 'echo', arguments: { text: `fuzz ${key}` } }), 6],
  // 256 KiB: under the 1 MiB --max-message-mb; 2 MiB: over it, from a real server.
  ['big-under-limit', () => ({ name: 'big', arguments: { bytes: 256 * 1024 } }), 1],
  ['big-over-limit', () => ({ name: 'big', arguments: { bytes: 2 * 1024 * 1024 } }), 1],
  // Progress every 300 ms (under --timeout 1) for 1.2 s: a slow, live answer.
  ['slow-live', (key) => ({ name: 'slow', arguments: { steps: 4, delayMs: 300 }, _meta: { progressToken: `p-${key}` } }), 1],
  // 1.5 s without a message: --timeout 1 fires.
  ['slow-silent', () => ({ name: 'slow', arguments: { steps: 1, delayMs: 1500 } }), 1],
  // Progress every 300 ms for 9 s: --max-time 3 fires.
  ['slow-forever', (key) => ({ name: 'slow', arguments: { steps: 30, delayMs: 300 }, _meta: { progressToken: `p-${key}` } }), 1],
  ['log', (key) => ({ name: 'log', arguments: { message: `fuzz ${key}` } }), 1],
];

const OTHER_METHODS = ['tools/list', 'ping', 'resources/list', 'prompts/list', 'fuzz/no-such-method'] as const;

const NOTIFICATIONS: Array<(key: string) => Record<string, unknown>> = [
  (key) => ({ method: 'notifications/roots/list_changed', params: { _meta: { fuzz: key } } }),
  (key) => ({ method: 'notifications/cancelled', params: { requestId: 'never-sent', reason: 'fuzz', _meta: { fuzz: key } } }),
  (key) => ({ method: 'notifications/progress', params: { progressToken: 'nobody', progress: 1, _meta: { fuzz: key } } }),
];

/** Share of messages the server side answers with a fault rather than passing to the real server. */
const FAULT_SHARE = 0.45;
/** A message that comes back (retry, redirect) meets a second fault this often. */
const SECOND_FAULT_SHARE = 0.2;

function serverPlan(rng: Rng): ServerFault[] {
  if (rng.next() >= FAULT_SHARE) return [];
  const plan = [rng.pick(SERVER_FAULTS)];
  if (rng.next() < SECOND_FAULT_SHARE) plan.push(rng.pick(SERVER_FAULTS));
  return plan;
}

/** `count` host cases (pauses not counted), the first request id after initialize being 2. */
export function hostPlan(rng: Rng, count: number, pending: PendingKinds): HostCase[] {
  const cases: HostCase[] = [];
  const invalid = INVALID_KINDS.filter((k) => pending.invalidRequests || !k.pendingHostBranch);
  const requests: number[] = [];
  for (let n = 0; n < count; n++) {
    const kind = rng.weighted<'request' | 'notification' | 'invalid' | 'duplicate'>([
      ['request', 70],
      ['notification', 10],
      ['invalid', 12],
      ['duplicate', pending.duplicateIds && requests.length > 0 ? 8 : 0],
    ]);
    const key = `${n}`;
    if (kind === 'request') {
      // Ids of both JSON-RPC types; strings that look like numbers test that 7 and "7" stay apart.
      const id = rng.pick([() => n + 2, () => `r-${n}`, () => `${n + 2}`])();
      const method = rng.next() < 0.6 ? 'tools/call' : rng.pick(OTHER_METHODS);
      const tool = method === 'tools/call' ? rng.weighted(TOOL_CALLS.map(([name, params, w]) => [[name, params] as const, w] as const)) : undefined;
      const params = tool ? tool[1](key) : method === 'ping' ? undefined : {};
      const line = JSON.stringify({ jsonrpc: '2.0', id, method, ...(params ? { params } : {}) });
      const server = serverPlan(rng);
      requests.push(cases.length);
      cases.push({ kind, id, method, line, server, what: `${method}${tool ? ` ${tool[0]}` : ''} [${server.join(', ') || 'pass'}]` });
    } else if (kind === 'duplicate') {
      // A recent request, likely still in flight (faults keep many of them waiting a second or more).
      const of = requests[Math.max(0, requests.length - 1 - rng.int(8))]!;
      const first = cases[of] as Extract<HostCase, { kind: 'request' }>;
      cases.push({ kind, id: first.id, of, line: JSON.stringify({ jsonrpc: '2.0', id: first.id, method: 'ping' }) });
    } else if (kind === 'notification') {
      const body = rng.pick(NOTIFICATIONS)(key);
      const server = serverPlan(rng);
      cases.push({ kind, key, line: JSON.stringify({ jsonrpc: '2.0', ...body }), server, what: `${String(body.method)} [${server.join(', ') || 'pass'}]` });
    } else {
      const k = rng.pick(invalid);
      cases.push({ kind: 'invalid', line: k.line(n), answer: k.answer, what: k.name });
    }
    // Bursts and gaps: most messages follow at once, some after a pause.
    if (rng.next() < 0.25) cases.push({ kind: 'pause', ms: rng.int(60) });
    if (rng.next() < 0.02) cases.push({ kind: 'stop-reading', ms: 200 + rng.int(1500) });
  }
  return cases;
}

/** The key the fault proxy finds a POSTed message's plan by (see the file comment). */
export function planKey(body: string): string | undefined {
  let msg: { id?: unknown; params?: { _meta?: { fuzz?: unknown } } };
  try {
    msg = JSON.parse(body) as typeof msg;
  } catch {
    return undefined;
  }
  if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return undefined;
  if (typeof msg.id === 'string' || typeof msg.id === 'number') return `id:${JSON.stringify(msg.id)}`;
  const fuzz = msg.params?._meta?.fuzz;
  return typeof fuzz === 'string' ? `n:${fuzz}` : undefined;
}
