/**
 * Merged list requests (`tools/list`, `prompts/list`, `resources/list`,
 * `resources/templates/list`; MCP 2025-11-25 utilities/pagination). A page of the aggregate asks
 * every server that still has items for its next page at once (in parallel: one round trip, not
 * one per server) and gives their items in configuration order. Its cursor names the servers that
 * remain, each with its own cursor, so it is stateless: base64url of
 * `{"r": [[<server name>, <that server's cursor>], …]}`. The host treats cursors as opaque (the
 * spec says it MUST NOT parse them), and a cursor we did not make is answered -32602.
 *
 * Isolation: a server that is down, logging in, not initialized yet, or slower than
 * {@link LIST_WAIT_MS} for one page is left out of that page; the router sends `list_changed`
 * once it is back (or once its late page arrives), so the host lists again and sees its items.
 */
import { INVALID_PARAMS, type JsonRpcMessage } from '../../jsonrpc/messages.js';
import type { NameTable } from './naming.js';
import type { Upstream } from './upstream.js';

/** How long one server's page may take before the walk goes on without it (hosts give up at 30–60 s). */
export const LIST_WAIT_MS = 5_000;

export const LIST_METHODS = {
  'tools/list': { key: 'tools', capability: 'tools' },
  'prompts/list': { key: 'prompts', capability: 'prompts' },
  'resources/list': { key: 'resources', capability: 'resources' },
  'resources/templates/list': { key: 'resourceTemplates', capability: 'resources' },
} as const;

export type ListMethod = keyof typeof LIST_METHODS;

export function isListMethod(method: string): method is ListMethod {
  return Object.hasOwn(LIST_METHODS, method);
}

const CURSOR_PREFIX = 'mcp-relay:';

/** The servers a walk still has to ask, in configuration order, each with its own cursor. */
export type Remaining = Array<[server: string, cursor: string]>;

export function encodeCursor(r: Remaining): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify({ r })).toString('base64url');
}

/** The servers that remain, or undefined if the cursor is not one of ours. */
export function decodeCursor(text: string): Remaining | undefined {
  if (!text.startsWith(CURSOR_PREFIX)) return undefined;
  try {
    const v = JSON.parse(Buffer.from(text.slice(CURSOR_PREFIX.length), 'base64url').toString('utf8')) as { r?: unknown };
    if (!Array.isArray(v.r) || v.r.length === 0) return undefined;
    const ok = v.r.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string');
    return ok ? (v.r as Remaining) : undefined;
  } catch {
    return undefined;
  }
}

export class ListError extends Error {
  readonly code = INVALID_PARAMS;
}

export interface ListContext {
  upstreams: readonly Upstream[];
  /** Where the items' names (tools, prompts) or URIs (resources, templates) are recorded. */
  tables: Record<'tools' | 'prompts' | 'resources' | 'resourceTemplates', NameTable>;
  /** A server was left out of a walk (or answered after it): the host should list again later. */
  missed(up: Upstream, method: ListMethod, late: boolean): void;
  warn(text: string): void;
}

/** Whether a walk asks `up` at all (a server that never declared the capability has no such list). */
function skips(up: Upstream, method: ListMethod): 'no' | 'absent' | 'unavailable' {
  if (up.state === 'login' || up.state === 'down' || !up.init) return 'unavailable';
  const caps = (up.init.capabilities ?? {}) as Record<string, unknown>;
  return caps[LIST_METHODS[method].capability] ? 'no' : 'absent';
}

/** One page of `up`'s list, or undefined if it failed or took longer than LIST_WAIT_MS. */
function page(ctx: ListContext, up: Upstream, method: ListMethod, cursor: string | undefined): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      ctx.missed(up, method, false);
      resolve(undefined);
    }, LIST_WAIT_MS);
    up.request(method, cursor === undefined ? undefined : { cursor }, (msg: JsonRpcMessage) => {
      clearTimeout(timer);
      if (settled) {
        if (msg.result) ctx.missed(up, method, true);
        return;
      }
      settled = true;
      if (msg.result && typeof msg.result === 'object') return resolve(msg.result as Record<string, unknown>);
      ctx.warn(`server ${up.name} could not list ${LIST_METHODS[method].key}: ${msg.error?.message ?? 'no result'}`);
      resolve(undefined);
    });
  });
}

/** Rename (tools, prompts) or record (resources) one server's items; drops the ones that clash. */
function present(ctx: ListContext, up: Upstream, method: ListMethod, items: unknown[]): unknown[] {
  const key = LIST_METHODS[method].key;
  const table = ctx.tables[key];
  const out: unknown[] = [];
  for (const item of items) {
    if (!item || typeof item !== 'object') continue;
    const it = item as Record<string, unknown>;
    const field = key === 'resources' ? 'uri' : key === 'resourceTemplates' ? 'uriTemplate' : 'name';
    const own = it[field];
    if (typeof own !== 'string') continue;
    const shown = key === 'tools' || key === 'prompts' ? `${up.prefix}${own}` : own;
    if (!table.claim(shown, { server: up.name, name: own })) {
      ctx.warn(
        `server ${up.name} lists ${field} ${JSON.stringify(shown)}, which server ${table.get(shown)!.server} already shows; left out (the server listed first keeps it)`,
      );
      continue;
    }
    out.push(shown === own ? it : { ...it, [field]: shown });
  }
  return out;
}

/**
 * One page of the merged list for the host's request params. Throws ListError for a cursor that
 * is not ours or names a server that is not in this aggregate.
 */
export async function mergedPage(ctx: ListContext, method: ListMethod, params: unknown): Promise<Record<string, unknown>> {
  const raw = (params as { cursor?: unknown } | undefined)?.cursor;
  // Without a cursor: every server from its first page.
  let asks: Array<{ up: Upstream; cursor: string | undefined }> = ctx.upstreams.map((up) => ({ up, cursor: undefined }));
  if (raw !== undefined) {
    const remaining = typeof raw === 'string' ? decodeCursor(raw) : undefined;
    const found = remaining?.map(([name, cursor]) => ({ up: ctx.upstreams.find((u) => u.name === name)!, cursor }));
    if (!found || found.some((a) => !a.up)) {
      throw new ListError(`mcp-relay: Invalid params: cursor ${JSON.stringify(raw)} is not one this relay gave out; list again without a cursor`);
    }
    asks = found;
  }
  const key = LIST_METHODS[method].key;
  const results = await Promise.all(
    asks.map(({ up, cursor }) => {
      const skip = skips(up, method);
      if (skip !== 'no') {
        if (skip === 'unavailable') ctx.missed(up, method, false);
        return undefined;
      }
      return page(ctx, up, method, cursor);
    }),
  );
  const items: unknown[] = [];
  const next: Remaining = [];
  asks.forEach(({ up, cursor }, i) => {
    const result = results[i];
    if (!result) return;
    // A server's first page replaces what it showed before (items it dropped are forgotten).
    if (cursor === undefined && (key === 'tools' || key === 'prompts')) ctx.tables[key].forgetServer(up.name);
    if (Array.isArray(result[key])) items.push(...present(ctx, up, method, result[key] as unknown[]));
    if (typeof result.nextCursor === 'string') next.push([up.name, result.nextCursor]);
  });
  return next.length ? { [key]: items, nextCursor: encodeCursor(next) } : { [key]: items };
}
