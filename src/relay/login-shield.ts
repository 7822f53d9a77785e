/**
 * What the host sees while the user is logging in. A first login takes minutes; hosts give up on
 * `initialize` after tens of seconds and mark the server failed. Host requests first wait in order
 * for the login (a quick login loses nothing); once they have waited --login-wait seconds and the
 * user is still being asked to act, the relay answers them itself and drops them from the queue
 * (a tool call the host saw fail must not run later):
 * - `initialize` from the server's answer at the last successful connection (cache.json), or a
 *   minimal one declaring list_changed support;
 * - list requests from the cache (or empty lists), and once the login is done it sends
 *   `notifications/*\/list_changed` so the host fetches the live lists;
 * - `tools/call` with a tool error telling the user which URL to open; other requests with a
 *   JSON-RPC error saying the same; `ping` with an empty result.
 * - `tools/list` gets one more tool, {@link LOGIN_TOOL_NAME}, whose description says that the
 *   server needs a login and where, and whose call returns the login URL and the paste-back
 *   command (the host's user may never read the relay's stderr). It is only in the shield's
 *   answers: once the login is done the tools list_changed makes the host fetch the live list,
 *   which does not have it.
 * The real `initialize` still goes to the server after the login (its answer refreshes the cache).
 */
import type { LoginStatus } from '../auth/login-status.js';
import type { CachedMethod, StoredCache } from '../store/store.js';
import { errorResponse, RELAY_ERROR, type JsonRpcMessage } from '../jsonrpc/messages.js';

export interface ShieldCache {
  read(): Promise<StoredCache | undefined>;
  write(method: CachedMethod, result: Record<string, unknown>): Promise<void>;
}

const LIST_KEYS: Record<string, string> = {
  'tools/list': 'tools',
  'prompts/list': 'prompts',
  'resources/list': 'resources',
  'resources/templates/list': 'resourceTemplates',
};

/** Which list_changed notification tells the host to fetch a list again. */
export const LIST_CHANGED: Record<string, string> = {
  'tools/list': 'notifications/tools/list_changed',
  'prompts/list': 'notifications/prompts/list_changed',
  'resources/list': 'notifications/resources/list_changed',
  'resources/templates/list': 'notifications/resources/list_changed',
};

/**
 * The login tool's name. `mcp-relay__` is the relay's own namespace: the double underscore keeps
 * it apart from any server's tool names (a host shows it as a tool of this server).
 */
export const LOGIN_TOOL_NAME = 'mcp-relay__login';

export function isCachedMethod(method: string): method is CachedMethod {
  return method === 'initialize' || method in LIST_KEYS;
}

export class LoginShield {
  /** Methods answered from the cache during the current login (their live lists may differ). */
  readonly served = new Set<string>();

  constructor(
    readonly status: LoginStatus,
    private readonly cache: ShieldCache,
    readonly serverUrl: string,
    private readonly version: string,
    /** How to finish the login from a terminal here (`mcp-relay login …`, or through npx): see config/launch.ts. */
    readonly loginCommand: string = `mcp-relay login ${serverUrl}`,
  ) {}

  /** The host's initialize, answered while the user logs in. */
  async initializeResult(request: JsonRpcMessage): Promise<Record<string, unknown>> {
    this.served.add('initialize');
    const cached = (await this.cache.read().catch(() => undefined))?.initialize;
    const requested = (request.params as { protocolVersion?: unknown } | undefined)?.protocolVersion;
    const result: Record<string, unknown> = cached
      ? structuredClone(cached)
      : {
          protocolVersion: typeof requested === 'string' ? requested : '2025-11-25',
          capabilities: { tools: {}, prompts: {}, resources: {} },
          serverInfo: { name: 'mcp-relay', version: this.version },
        };
    // The host must listen for list_changed, or it would keep the placeholder lists.
    const caps = (result.capabilities ??= {}) as Record<string, Record<string, unknown> | undefined>;
    for (const kind of ['tools', 'prompts', 'resources']) {
      const c = caps[kind];
      if (c) c.listChanged = true;
    }
    result.instructions = `${typeof result.instructions === 'string' ? `${result.instructions}\n\n` : ''}mcp-relay: ${this.serverUrl} is waiting for you to log in; tools appear once the login is finished.`;
    return result;
  }

  /** Answer a host request while the user logs in. */
  async answer(msg: JsonRpcMessage & { id: string | number; method: string }): Promise<JsonRpcMessage> {
    const url = await this.status.authorizationUrl().catch(() => undefined);
    // Over SSH the browser is on another machine and its redirect to 127.0.0.1 does not reach the
    // relay: the user pastes that address into the login command instead (see auth/paste.ts).
    const todo = url
      ? `open ${url} in a browser to log in, then try again. If that browser runs on another machine (over SSH, in a container), the page it ends on after you approve may fail to load: copy that page's address and paste it into \`${this.loginCommand}\` run in a terminal on the machine where mcp-relay runs`
      : `finish the login, or run \`${this.loginCommand}\` in a terminal on the machine where mcp-relay runs, then try again`;
    if (msg.method in LIST_KEYS) {
      this.served.add(msg.method);
      const cached = (await this.cache.read().catch(() => undefined))?.[msg.method as CachedMethod];
      const key = LIST_KEYS[msg.method]!;
      const result: Record<string, unknown> = cached ? structuredClone(cached) : { [key]: [] };
      if (msg.method === 'tools/list') {
        const tools = Array.isArray(result.tools) ? (result.tools as Array<{ name?: unknown }>).filter((t) => t?.name !== LOGIN_TOOL_NAME) : [];
        result.tools = [this.loginTool(url), ...tools];
      }
      return { jsonrpc: '2.0', id: msg.id, result };
    }
    if (msg.method === 'ping') return { jsonrpc: '2.0', id: msg.id, result: {} };
    if (isLoginToolCall(msg)) return this.answerLoginTool(msg.id);
    if (msg.method === 'tools/call') {
      return {
        jsonrpc: '2.0',
        id: msg.id,
        result: { isError: true, content: [{ type: 'text', text: `The MCP server ${this.serverUrl} needs you to log in first: ${todo}.` }] },
      };
    }
    return errorResponse(msg.id, RELAY_ERROR, `mcp-relay: ${this.serverUrl} needs you to log in first: ${todo}.`);
  }

  /** The login tool as listed during a login; `url` is the pending authorization URL, if known. */
  loginTool(url: string | undefined): Record<string, unknown> {
    const where = url ? ` at ${originOf(url)}` : '';
    return {
      name: LOGIN_TOOL_NAME,
      title: 'Log in to this MCP server',
      description: `The MCP server ${this.serverUrl} needs the user to log in${where} before its tools can be used (mcp-relay is waiting for that login). Call this tool to get the login URL to show the user, and the command that finishes the login from a terminal. The server's own tools appear once the login is done.`,
      inputSchema: { type: 'object', properties: {} },
      annotations: { readOnlyHint: true, openWorldHint: false },
    };
  }

  /**
   * The answer to a call of the login tool: the URL and the paste-back command while a login is
   * waiting for the user; once none is, that the server is ready (a host may call it from a list
   * fetched during the login).
   */
  async answerLoginTool(id: string | number): Promise<JsonRpcMessage> {
    const waiting = this.status.waitingForUser();
    const url = waiting ? await this.status.authorizationUrl().catch(() => undefined) : undefined;
    let text: string;
    if (!waiting) {
      text = `No login is pending for ${this.serverUrl}: the server's tools are available (fetch the tool list again).`;
    } else if (url) {
      text = [
        `The MCP server ${this.serverUrl} needs you to log in. Open this URL in a browser:`,
        url,
        `If that browser runs on another machine (over SSH, in a container), the page it ends on after you approve may fail to load: copy that page's address and paste it into this command, run in a terminal on the machine where mcp-relay runs:`,
        this.loginCommand,
        "The server's tools appear once the login is done.",
      ].join('\n');
    } else {
      text = `The MCP server ${this.serverUrl} needs you to log in: finish the login in the browser, or run \`${this.loginCommand}\` in a terminal on the machine where mcp-relay runs. The server's tools appear once the login is done.`;
    }
    return { jsonrpc: '2.0', id, result: { content: [{ type: 'text', text }] } };
  }

  /** The list_changed notifications to send once the login is done. */
  takeListChanged(): string[] {
    const out = new Set<string>();
    for (const m of this.served) if (LIST_CHANGED[m]) out.add(LIST_CHANGED[m]!);
    this.served.clear();
    return [...out];
  }

  remember(method: CachedMethod, result: Record<string, unknown>): void {
    void this.cache.write(method, result).catch(() => undefined);
  }
}

/** A `tools/call` of {@link LOGIN_TOOL_NAME}. */
export function isLoginToolCall(msg: JsonRpcMessage): boolean {
  return msg.method === 'tools/call' && (msg.params as { name?: unknown } | undefined)?.name === LOGIN_TOOL_NAME;
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
