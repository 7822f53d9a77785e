/**
 * The tool deny filter (`--deny-tool GLOB`, mcp-remote's `--ignore-tool`): a denied tool is
 * removed from every `tools/list` answer (each page), and a `tools/call` of it is answered here
 * with an error naming the filter, without reaching the server. Notifications (`list_changed`)
 * pass untouched, so the host still re-lists when the server's tools change.
 *
 * It sits between the stdio host and the Relay: `fromHost` before `Relay.fromHost`, `fromRemote`
 * before `Relay.fromRemote`, so the login shield's cached lists are filtered lists too.
 */
import { errorResponse, INVALID_PARAMS, isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../jsonrpc/messages.js';

/** One compiled `--deny-tool` pattern: `*` is any run of characters, `?` any one character. */
interface Pattern {
  glob: string;
  re: RegExp;
}

function compile(glob: string): Pattern {
  const body = [...glob].map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('');
  return { glob, re: new RegExp(`^${body}$`, 's') };
}

export class ToolFilter {
  private readonly patterns: Pattern[];
  /**
   * Ids of the host's `tools/list` requests still waiting for their answer. One the login shield
   * answered stays until the host reuses the id; filtering another answer under it is harmless.
   */
  private readonly lists = new Set<JsonRpcId>();

  constructor(deny: readonly string[]) {
    this.patterns = deny.map(compile);
  }

  /** The pattern that denies `name`, if any (first match in the order given). */
  denies(name: string): string | undefined {
    return this.patterns.find((p) => p.re.test(name))?.glob;
  }

  /**
   * A message from the host. Returns the answer to send the host instead of forwarding it (a call
   * of a denied tool), or undefined to forward it.
   */
  fromHost(msg: JsonRpcMessage): JsonRpcMessage | undefined {
    if (!isRequest(msg)) return undefined;
    if (msg.method === 'tools/list') {
      this.lists.add(msg.id);
      return undefined;
    }
    if (msg.method !== 'tools/call') return undefined;
    const name = (msg.params as { name?: unknown } | undefined)?.name;
    if (typeof name !== 'string') return undefined;
    const glob = this.denies(name);
    if (glob === undefined) return undefined;
    // MCP 2025-11-25 server/tools, error handling: an unknown tool is a protocol error, -32602.
    // The host was never shown this tool, so to it the tool is unknown.
    return errorResponse(
      msg.id,
      INVALID_PARAMS,
      `mcp-relay: tool ${JSON.stringify(name)} is blocked by --deny-tool ${JSON.stringify(glob)}; the call was not sent to the server`,
      {
        relay: { code: 'TOOL_DENIED', filter: `--deny-tool ${glob}` },
      },
    );
  }

  /**
   * A message from the server: the answer to a `tools/list` loses its denied tools (a new message,
   * re-serialised, only when something was removed; otherwise the bytes go on as they came).
   */
  fromRemote(msg: JsonRpcMessage, raw?: RawMessage): [JsonRpcMessage, RawMessage | undefined] {
    if (!isResponse(msg) || !this.lists.delete(msg.id)) return [msg, raw];
    const result = msg.result as { tools?: unknown } | undefined;
    if (!result || typeof result !== 'object' || !Array.isArray(result.tools)) return [msg, raw];
    const tools = result.tools.filter((t) => {
      const name = (t as { name?: unknown } | null)?.name;
      return typeof name !== 'string' || this.denies(name) === undefined;
    });
    if (tools.length === result.tools.length) return [msg, raw];
    // Built anew rather than spread: a large message's `result` is a getter (json-bytes.ts).
    return [{ jsonrpc: '2.0', id: msg.id, result: { ...result, tools } }, undefined];
  }
}
