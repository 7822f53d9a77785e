/**
 * Allow/deny filters on what the host sees of a server: tools (`--allow-tool`, `--deny-tool`,
 * mcp-remote's `--ignore-tool`), prompts (`--allow-prompt`, `--deny-prompt`) and resources by URI
 * (`--allow-resource`, `--deny-resource`). Globs: `*` any run of characters, `?` one character,
 * everything else literal. An item is shown when no deny pattern matches it and, if there are
 * allow patterns of its kind, one of them matches: deny wins.
 *
 * A filtered item is removed from every page of the list answers (tools/list, prompts/list,
 * resources/list, and resources/templates/list by `uriTemplate`), and a request that names one
 * (tools/call, prompts/get, resources/read, resources/subscribe, completion/complete) is answered
 * here with an error naming the filter, without reaching the server. Notifications
 * (`list_changed`) pass untouched, so the host still re-lists when the server's lists change.
 *
 * It sits between the stdio host and the Relay: `fromHost` before `Relay.fromHost`, `fromRemote`
 * before `Relay.fromRemote`, so the login shield's cached lists are filtered lists too. The
 * aggregate mode puts one per upstream server, on that server's own (unprefixed) names.
 */
import { errorResponse, INVALID_PARAMS, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../jsonrpc/messages.js';

/** MCP 2025-11-25 server/resources, error handling: "Resource not found" is -32002. */
export const RESOURCE_NOT_FOUND = -32002;

export type FilterKind = 'tool' | 'prompt' | 'resource';

/** The globs of a filter, as Config carries them. */
export interface FilterRules {
  allowTools?: readonly string[] | undefined;
  denyTools?: readonly string[] | undefined;
  allowPrompts?: readonly string[] | undefined;
  denyPrompts?: readonly string[] | undefined;
  allowResources?: readonly string[] | undefined;
  denyResources?: readonly string[] | undefined;
}

/** One compiled pattern: `*` is any run of characters, `?` any one character. */
interface Pattern {
  glob: string;
  re: RegExp;
}

function compile(glob: string): Pattern {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return { glob, re: new RegExp(`^${body}$`, 's') };
}

/** Per kind: the list method, where its items are, and what names an item. */
const LISTS: Record<string, { kind: FilterKind; items: string; key: string }> = {
  'tools/list': { kind: 'tool', items: 'tools', key: 'name' },
  'prompts/list': { kind: 'prompt', items: 'prompts', key: 'name' },
  'resources/list': { kind: 'resource', items: 'resources', key: 'uri' },
  'resources/templates/list': { kind: 'resource', items: 'resourceTemplates', key: 'uriTemplate' },
};

/** Requests that name one item: which kind, the parameter naming it, the error code for "unknown". */
const TARGETS: Record<string, { kind: FilterKind; param: string; code: number }> = {
  // MCP 2025-11-25 server/tools and server/prompts, error handling: an unknown tool or prompt
  // name is -32602. The host was never shown the item, so to it the item is unknown.
  'tools/call': { kind: 'tool', param: 'name', code: INVALID_PARAMS },
  'prompts/get': { kind: 'prompt', param: 'name', code: INVALID_PARAMS },
  'resources/read': { kind: 'resource', param: 'uri', code: RESOURCE_NOT_FOUND },
  'resources/subscribe': { kind: 'resource', param: 'uri', code: RESOURCE_NOT_FOUND },
};

const FLAG: Record<FilterKind, { allow: string; deny: string; code: string }> = {
  tool: { allow: '--allow-tool', deny: '--deny-tool', code: 'TOOL_DENIED' },
  prompt: { allow: '--allow-prompt', deny: '--deny-prompt', code: 'PROMPT_DENIED' },
  resource: { allow: '--allow-resource', deny: '--deny-resource', code: 'RESOURCE_DENIED' },
};

export class McpFilter {
  private readonly allow: Record<FilterKind, Pattern[]>;
  private readonly deny: Record<FilterKind, Pattern[]>;
  /**
   * Ids of the host's list requests still waiting for their answer, with the list they asked
   * for. One the login shield answered stays until the host reuses the id; filtering another
   * answer of the same list under it is harmless.
   */
  private readonly lists = new Map<JsonRpcId, string>();

  constructor(rules: FilterRules) {
    const c = (globs: readonly string[] | undefined) => (globs ?? []).map(compile);
    this.allow = { tool: c(rules.allowTools), prompt: c(rules.allowPrompts), resource: c(rules.allowResources) };
    this.deny = { tool: c(rules.denyTools), prompt: c(rules.denyPrompts), resource: c(rules.denyResources) };
  }

  /** The filter a Config asks for, or undefined when it asks for none. */
  static fromConfig(config: FilterRules): McpFilter | undefined {
    const any = [config.allowTools, config.denyTools, config.allowPrompts, config.denyPrompts, config.allowResources, config.denyResources];
    return any.some((g) => g?.length) ? new McpFilter(config) : undefined;
  }

  /**
   * Why `name` (a tool or prompt name, or a resource URI) is hidden, as the command line that
   * hides it (`--deny-tool rm*`, or `--allow-tool a --allow-tool b` when no allow pattern matches);
   * undefined when it is shown.
   */
  blockedBy(kind: FilterKind, name: string): string | undefined {
    return this.verdict(kind, name)?.filter;
  }

  private verdict(kind: FilterKind, name: string): { filter: string; why: string } | undefined {
    const denied = this.deny[kind].find((p) => p.re.test(name));
    if (denied) return { filter: `${FLAG[kind].deny} ${denied.glob}`, why: `is blocked by ${FLAG[kind].deny} ${JSON.stringify(denied.glob)}` };
    const allow = this.allow[kind];
    if (allow.length === 0 || allow.some((p) => p.re.test(name))) return undefined;
    return {
      filter: allow.map((p) => `${FLAG[kind].allow} ${p.glob}`).join(' '),
      why: `matches no ${FLAG[kind].allow} (${allow.map((p) => JSON.stringify(p.glob)).join(', ')})`,
    };
  }

  allows(kind: FilterKind, name: string): boolean {
    return this.blockedBy(kind, name) === undefined;
  }

  /**
   * A message from the host. Returns the answer to send the host instead of forwarding it (a
   * request naming a filtered item), or undefined to forward it.
   */
  fromHost(msg: JsonRpcMessage): JsonRpcMessage | undefined {
    if (!isRequest(msg)) return undefined;
    if (msg.method in LISTS) {
      this.lists.set(msg.id, msg.method);
      return undefined;
    }
    const params = msg.params as Record<string, unknown> | undefined;
    let target = TARGETS[msg.method];
    let name = target ? params?.[target.param] : undefined;
    if (msg.method === 'completion/complete') {
      // Completing an argument of a filtered prompt or resource template reveals it: refused too.
      const ref = params?.ref as { type?: unknown; name?: unknown; uri?: unknown } | undefined;
      if (ref?.type === 'ref/prompt') [target, name] = [{ kind: 'prompt', param: 'ref.name', code: INVALID_PARAMS }, ref.name];
      if (ref?.type === 'ref/resource') [target, name] = [{ kind: 'resource', param: 'ref.uri', code: INVALID_PARAMS }, ref.uri];
    }
    if (!target || typeof name !== 'string') return undefined;
    const verdict = this.verdict(target.kind, name);
    if (verdict === undefined) return undefined;
    return errorResponse(msg.id, target.code, `mcp-relay: ${target.kind} ${JSON.stringify(name)} ${verdict.why}; the request was not sent to the server`, {
      relay: { code: FLAG[target.kind].code, filter: verdict.filter },
    });
  }

  /**
   * A message from the server: the answer to a list request loses its filtered items (a new
   * message, re-serialised, only when something was removed; otherwise the bytes go on as they came).
   */
  fromRemote(msg: JsonRpcMessage, raw?: RawMessage): [JsonRpcMessage, RawMessage | undefined] {
    if (!isResponse(msg)) return [msg, raw];
    const method = this.lists.get(msg.id);
    if (method === undefined) return [msg, raw];
    this.lists.delete(msg.id);
    const { kind, items, key } = LISTS[method]!;
    const result = msg.result as Record<string, unknown> | undefined;
    const all = result?.[items];
    if (!result || typeof result !== 'object' || !Array.isArray(all)) return [msg, raw];
    const kept = all.filter((item) => {
      const name = (item as Record<string, unknown> | null)?.[key];
      return typeof name !== 'string' || this.allows(kind, name);
    });
    if (kept.length === all.length) return [msg, raw];
    // Built anew rather than spread: a large message's `result` is a getter (json-bytes.ts).
    return [{ jsonrpc: '2.0', id: msg.id, result: { ...result, [items]: kept } }, undefined];
  }
}

/** The tool deny filter alone (`--deny-tool`), as it was before the other filters. */
export class ToolFilter extends McpFilter {
  constructor(deny: readonly string[]) {
    super({ denyTools: deny });
  }

  /** The pattern that denies `name`, if any (first match in the order given). */
  denies(name: string): string | undefined {
    return this.blockedBy('tool', name)?.replace(/^--deny-tool /, '');
  }
}
