/**
 * The router between one host and the servers of the aggregate. Every host request gets exactly
 * one answer: a request for one server takes that server's own id (upstream.ts) and its answer
 * comes back under the host's id; a request for all (initialize, the lists, logging/setLevel) is
 * answered here from theirs; the rest gets a JSON-RPC error here.
 *
 * - tools/call, prompts/get, completion/complete (ref/prompt): by the name the host was shown
 *   (naming.ts), renamed to the server's own name;
 * - resources/read, subscribe, unsubscribe, completion/complete (ref/resource): by the server
 *   that listed the URI, else the first whose listed template matches it, else the only server
 *   that has resources (a URI listed by two servers belongs to the one configured first);
 * - progress: a host request's token goes to its server unchanged (the host made it unique), and
 *   only that server's progress for it reaches the host; cancellation goes to the owner;
 * - server requests (server-requests.ts) get ids of the aggregate's; ping is answered here.
 */
import { describeError } from '../../errors.js';
import {
  errorResponse,
  INVALID_PARAMS,
  INVALID_REQUEST,
  isRequest,
  isResponse,
  METHOD_NOT_FOUND,
  RELAY_ERROR,
  type JsonRpcId,
  type JsonRpcMessage,
  type RawMessage,
} from '../../jsonrpc/messages.js';
import type { Logger } from '../../log.js';
import type { HostSide } from '../relay.js';
import { INITIALIZE_WAIT_MS, mergedInitialize } from './initialize.js';
import { isListMethod, ListError, mergedPage, type ListContext, type ListMethod } from './lists.js';
import { NameTable, splitByPrefix, templateMatches, type Owner } from './naming.js';
import { ServerRequests } from './server-requests.js';
import { namedError, type Upstream, type UpstreamEvents, type UpstreamState } from './upstream.js';

/** MCP 2025-11-25 server/resources, error handling: resource not found. */
const RESOURCE_NOT_FOUND = -32002;
const LIST_CHANGED = ['notifications/tools/list_changed', 'notifications/prompts/list_changed', 'notifications/resources/list_changed'];
const LIST_CHANGED_OF: Record<ListMethod, string> = {
  'tools/list': 'notifications/tools/list_changed',
  'prompts/list': 'notifications/prompts/list_changed',
  'resources/list': 'notifications/resources/list_changed',
  'resources/templates/list': 'notifications/resources/list_changed',
};

interface Pending {
  method: string;
  up?: Upstream | undefined;
  upId?: JsonRpcId | undefined;
  token?: string | number | undefined;
}

export class Aggregator implements UpstreamEvents {
  private upstreams: Upstream[] = [];
  private readonly pending = new Map<JsonRpcId, Pending>();
  private readonly tables = { tools: new NameTable(), prompts: new NameTable(), resources: new NameTable(), resourceTemplates: new NameTable() };
  private readonly serverRequests = new ServerRequests();
  /** Progress tokens of forwarded host requests → the server that may report on them. */
  private readonly tokens = new Map<string | number, Upstream>();
  /** The host's initialize has been answered: list_changed may be sent. */
  private ready = false;
  private initWaiters = new Map<Upstream, () => void>();
  private closed = false;
  private readonly lists: ListContext;

  constructor(
    private readonly host: HostSide,
    private readonly log: Logger,
    private readonly version: string,
  ) {
    this.lists = {
      upstreams: [],
      tables: this.tables,
      missed: (_up, method, late) => {
        if (late && this.ready) this.host.send({ jsonrpc: '2.0', method: LIST_CHANGED_OF[method] });
      },
      warn: (text) => this.log.warn(text),
    };
  }

  attach(upstreams: Upstream[]): void {
    this.upstreams = upstreams;
    this.lists.upstreams = upstreams;
  }

  /** A message from the host. */
  fromHost(msg: JsonRpcMessage): void {
    if (isResponse(msg)) {
      if (!this.serverRequests.answer(msg)) this.log.debug(`host answered unknown request ${JSON.stringify(msg.id)}; dropped`);
      return;
    }
    if (!isRequest(msg)) return this.notification(msg);
    if (this.closed) return this.host.send(errorResponse(msg.id, RELAY_ERROR, 'mcp-relay is shutting down'));
    if (this.pending.has(msg.id)) {
      // MCP 2025-11-25 basic: ids MUST NOT be reused within a session (the answers could not be told apart).
      return this.host.send(
        errorResponse(msg.id, INVALID_REQUEST, `mcp-relay: Invalid Request: id ${JSON.stringify(msg.id)} belongs to a request that is still in progress`),
      );
    }
    const params = msg.params as Record<string, unknown> | undefined;
    switch (msg.method) {
      case 'initialize':
        return void this.initialize(msg.id, params);
      case 'ping':
        return this.host.send({ jsonrpc: '2.0', id: msg.id, result: {} });
      case 'logging/setLevel':
        return void this.everywhere(msg.id, msg.method, params);
      case 'tools/call':
      case 'prompts/get':
        return this.byName(msg.id, msg.method, params, msg.method === 'tools/call' ? 'tools' : 'prompts');
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.byUri(msg.id, msg.method, params, params?.uri);
      case 'completion/complete': {
        const ref = params?.ref as { type?: unknown; name?: unknown; uri?: unknown } | undefined;
        if (ref?.type === 'ref/resource') return this.byUri(msg.id, msg.method, params, ref.uri);
        return this.byName(msg.id, msg.method, params, 'prompts', ref);
      }
    }
    if (isListMethod(msg.method)) return void this.list(msg.id, msg.method, params);
    this.host.send(
      errorResponse(msg.id, METHOD_NOT_FOUND, `mcp-relay: method ${JSON.stringify(msg.method)} is not supported by the aggregate of several servers`),
    );
  }

  private notification(msg: JsonRpcMessage): void {
    const params = msg.params as Record<string, unknown> | undefined;
    if (msg.method === 'notifications/initialized') return; // each server got its own after its initialize
    if (msg.method === 'notifications/cancelled') {
      const id = params?.requestId;
      const p = typeof id === 'string' || typeof id === 'number' ? this.pending.get(id) : undefined;
      if (!p || p.method === 'initialize') return;
      this.pending.delete(id as JsonRpcId);
      if (p.token !== undefined) this.tokens.delete(p.token);
      if (p.up && p.upId !== undefined) {
        p.up.forget(p.upId);
        p.up.send({ jsonrpc: '2.0', method: msg.method, params: { ...params, requestId: p.upId } });
      }
      return;
    }
    if (msg.method === 'notifications/progress') {
      if (!this.serverRequests.progress(msg)) this.log.debug('host progress for an unknown token; dropped');
      return;
    }
    // roots/list_changed and anything else the host announces concerns every server.
    for (const up of this.upstreams) if (up.init) up.send(msg);
  }

  private async initialize(id: JsonRpcId, params: unknown): Promise<void> {
    this.log.debug('host initialize received');
    this.pending.set(id, { method: 'initialize' });
    if (!this.ready) {
      const all = this.upstreams.map(
        (up) =>
          new Promise<void>((resolve) => {
            this.initWaiters.set(up, resolve);
            up.initialize(params, () => resolve());
          }),
      );
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(all), new Promise<void>((resolve) => (timer = setTimeout(resolve, INITIALIZE_WAIT_MS)))]);
      clearTimeout(timer);
      this.initWaiters.clear();
    }
    if (!this.pending.delete(id)) return;
    this.host.send({ jsonrpc: '2.0', id, result: mergedInitialize(this.upstreams, params, this.version) });
    this.ready = true;
  }

  private async list(id: JsonRpcId, method: ListMethod, params: unknown): Promise<void> {
    this.pending.set(id, { method });
    let answer: JsonRpcMessage;
    try {
      answer = { jsonrpc: '2.0', id, result: await mergedPage(this.lists, method, params) };
    } catch (err) {
      answer = errorResponse(
        id,
        err instanceof ListError ? err.code : RELAY_ERROR,
        err instanceof ListError ? err.message : `mcp-relay: ${describeError(err)}`,
      );
    }
    if (this.pending.delete(id)) this.host.send(answer);
  }

  /** logging/setLevel on every server that declared logging; answered once each did (or was left out). */
  private async everywhere(id: JsonRpcId, method: string, params: unknown): Promise<void> {
    this.pending.set(id, { method });
    const targets = this.upstreams.filter((up) => up.init && (up.init.capabilities as Record<string, unknown> | undefined)?.logging);
    const answers = await Promise.all(
      targets.map(
        (up) =>
          new Promise<string | undefined>((resolve) => {
            const timer = setTimeout(() => resolve(`${up.name}: no answer yet`), INITIALIZE_WAIT_MS);
            up.request(method, params, (msg) => {
              clearTimeout(timer);
              resolve(msg.error ? `${up.name}: ${msg.error.message}` : undefined);
            });
          }),
      ),
    );
    for (const a of answers) if (a) this.log.warn(`${method} on ${a}`);
    if (this.pending.delete(id)) this.host.send({ jsonrpc: '2.0', id, result: {} });
  }

  private byName(id: JsonRpcId, method: string, params: Record<string, unknown> | undefined, kind: 'tools' | 'prompts', ref?: { name?: unknown }): void {
    const shown = (ref ?? params)?.name;
    if (typeof shown !== 'string') return this.host.send(errorResponse(id, INVALID_PARAMS, `mcp-relay: Invalid params: ${method} needs a "name"`));
    const owner = this.tables[kind].get(shown) ?? splitByPrefix(shown, this.upstreams);
    const up = owner && this.upstreams.find((u) => u.name === owner.server);
    if (!owner || !up) {
      const what = kind === 'tools' ? 'tool' : 'prompt';
      // MCP 2025-11-25 server/tools, error handling: an unknown tool is a protocol error, -32602.
      return this.host.send(errorResponse(id, INVALID_PARAMS, `mcp-relay: unknown ${what} ${JSON.stringify(shown)}: no server of this relay has that prefix`));
    }
    const renamed = ref ? { ...params, ref: { ...ref, name: owner.name } } : { ...params, name: owner.name };
    this.forward(id, up, method, renamed);
  }

  private byUri(id: JsonRpcId, method: string, params: Record<string, unknown> | undefined, uri: unknown): void {
    const owner = typeof uri === 'string' ? this.resourceOwner(uri) : undefined;
    const up = owner && this.upstreams.find((u) => u.name === owner.server);
    if (!up) {
      return this.host.send(
        errorResponse(
          id,
          RESOURCE_NOT_FOUND,
          `mcp-relay: resource ${JSON.stringify(uri)} was not listed by any server of this relay; list resources (or templates) first`,
          { uri },
        ),
      );
    }
    this.forward(id, up, method, params);
  }

  private resourceOwner(uri: string): Owner | undefined {
    const listed = this.tables.resources.get(uri);
    if (listed) return listed;
    const order = (o: Owner) => this.upstreams.findIndex((u) => u.name === o.server);
    const matches = [...this.tables.resourceTemplates.entries()].filter(([template]) => templateMatches(template, uri)).map(([, o]) => o);
    if (matches.length) return matches.sort((a, b) => order(a) - order(b))[0];
    const withResources = this.upstreams.filter((u) => (u.init?.capabilities as Record<string, unknown> | undefined)?.resources);
    return withResources.length === 1 ? { server: withResources[0]!.name, name: uri } : undefined;
  }

  private forward(id: JsonRpcId, up: Upstream, method: string, params: Record<string, unknown> | undefined): void {
    const token = (params?._meta as { progressToken?: unknown } | undefined)?.progressToken;
    const entry: Pending = { method, up };
    if (typeof token === 'string' || typeof token === 'number') {
      entry.token = token;
      this.tokens.set(token, up);
    }
    this.pending.set(id, entry);
    entry.upId = up.request(method, params, (msg) => {
      if (this.pending.get(id) !== entry) return; // cancelled by the host meanwhile
      this.pending.delete(id);
      if (entry.token !== undefined) this.tokens.delete(entry.token);
      this.host.send(msg.error ? { jsonrpc: '2.0', id, error: namedError(up, msg.error) } : { jsonrpc: '2.0', id, result: msg.result });
    });
  }

  /** A message from a server that is not an answer to the router (upstream.ts). */
  message(up: Upstream, msg: JsonRpcMessage, raw?: RawMessage): void {
    if (isRequest(msg)) return this.host.send(this.serverRequests.toHost(up, msg));
    if (isResponse(msg)) return this.log.debug(`server ${up.name} answered unknown request ${JSON.stringify(msg.id)}; dropped`);
    const params = msg.params as Record<string, unknown> | undefined;
    if (msg.method === 'notifications/cancelled') {
      const hostId = this.serverRequests.cancelled(up, params?.requestId);
      if (hostId !== undefined) this.host.send({ jsonrpc: '2.0', method: msg.method, params: { ...params, requestId: hostId } });
      return;
    }
    if (msg.method === 'notifications/progress') {
      const token = params?.progressToken;
      if ((typeof token === 'string' || typeof token === 'number') && this.tokens.get(token) === up) this.host.send(msg, raw);
      else this.log.debug(`server ${up.name} reported progress on a token that is not its own; dropped`);
      return;
    }
    if (!this.ready && msg.method?.endsWith('/list_changed')) return; // the host lists after initialize anyway
    this.host.send(msg, raw);
  }

  /** A server's state changed: once it is back (or logged in), the host lists again. */
  state(up: Upstream, _from: UpstreamState, to: UpstreamState): void {
    if (to === 'login') this.initWaiters.get(up)?.();
    if (to === 'up' && this.ready && !this.closed) for (const method of LIST_CHANGED) this.host.send({ jsonrpc: '2.0', method });
  }

  /** Close every server (each answers its pending requests), then answer what is left here. */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.upstreams.map((up) => up.close(reason)));
    for (const id of [...this.pending.keys()]) {
      this.pending.delete(id);
      this.host.send(errorResponse(id, RELAY_ERROR, `mcp-relay: request not completed: ${reason}`));
    }
  }
}
