/**
 * The request metadata headers of MCP 2026-07-28 Streamable HTTP (basic/transports/streamable-http,
 * "Request Metadata"): `MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`, and the `Mcp-Param-*`
 * headers that tools ask for with `x-mcp-header` in their input schema. Pure functions.
 */
import type { JsonRpcMessage } from '../../jsonrpc/messages.js';

/** The modern protocol revision this relay speaks upstream. */
export const MODERN_PROTOCOL_VERSION = '2026-07-28';
/** Per-request `_meta` keys (2026-07-28 basic/index, "Request metadata"). */
export const META_PROTOCOL_VERSION = 'io.modelcontextprotocol/protocolVersion';
export const META_CLIENT_INFO = 'io.modelcontextprotocol/clientInfo';
export const META_CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';
export const META_LOG_LEVEL = 'io.modelcontextprotocol/logLevel';
export const META_SERVER_INFO = 'io.modelcontextprotocol/serverInfo';
export const META_SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** Methods whose `Mcp-Name` header is REQUIRED, and where the name comes from. */
const NAME_SOURCE: Record<string, 'name' | 'uri'> = { 'tools/call': 'name', 'prompts/get': 'name', 'resources/read': 'uri' };
const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
/** RFC 9110 §5.6.2 tchar: what an x-mcp-header name (a header field-name token) is made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Visible ASCII and space (RFC 9110 field values); anything else is Base64-encoded. */
const PLAIN_VALUE = /^[\x20-\x7e]*$/;
const X_MCP_HEADER = 'x-mcp-header';
const HEADER_TYPES = new Set(['string', 'integer', 'boolean']);

/**
 * A header value as 2026-07-28 "Value Encoding" wants it: as-is when it is plain visible ASCII
 * without leading/trailing whitespace, else `=?base64?<UTF-8 Base64>?=`. Clients MUST also encode
 * a plain value that looks like the sentinel, so it cannot be mistaken for an encoded one.
 */
export function encodeHeaderValue(value: string): string {
  const plain = PLAIN_VALUE.test(value) && value.trim() === value && !(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX));
  return plain ? value : `${SENTINEL_PREFIX}${Buffer.from(value, 'utf8').toString('base64')}${SENTINEL_SUFFIX}`;
}

/** One `x-mcp-header` annotation of a tool: the header name part and the argument path it mirrors. */
export interface HeaderParam {
  name: string;
  path: string[];
}

/**
 * The `x-mcp-header` annotations of a tool's inputSchema, or a reason the tool is invalid
 * (streamable-http "Schema Extension": non-empty token, unique ignoring case, on a string/integer/
 * boolean property reached from the root through `properties` keys only).
 */
export function headerParams(inputSchema: unknown): { params: HeaderParam[] } | { invalid: string } {
  const params: HeaderParam[] = [];
  let invalid: string | undefined;
  const seen = new Set<string>();
  const walk = (node: unknown, path: string[] | null): void => {
    if (invalid || !node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      for (const item of node) walk(item, null);
      return;
    }
    const obj = node as Record<string, unknown>;
    if (X_MCP_HEADER in obj) {
      const name = obj[X_MCP_HEADER];
      const types = Array.isArray(obj.type) ? obj.type.filter((t) => t !== 'null') : [obj.type];
      if (!path || path.length === 0) invalid = `"${X_MCP_HEADER}" on a schema that is not a property reached through "properties" only`;
      else if (typeof name !== 'string' || !TOKEN.test(name)) invalid = `"${X_MCP_HEADER}" of "${path.join('.')}" is not a header name token`;
      else if (seen.has(name.toLowerCase())) invalid = `"${X_MCP_HEADER}" value "${name}" is used twice`;
      else if (types.length !== 1 || !HEADER_TYPES.has(types[0] as string))
        invalid = `"${X_MCP_HEADER}" of "${path.join('.')}" must be on a string, integer or boolean property`;
      else {
        seen.add(name.toLowerCase());
        params.push({ name, path });
      }
    }
    for (const [key, child] of Object.entries(obj)) {
      if (key === 'properties' && path && child && typeof child === 'object' && !Array.isArray(child)) {
        for (const [prop, schema] of Object.entries(child as Record<string, unknown>)) walk(schema, [...path, prop]);
      } else if (key !== X_MCP_HEADER) {
        walk(child, null);
      }
    }
  };
  walk(inputSchema, []);
  return invalid ? { invalid } : { params };
}

/** The string a parameter value becomes in its header, or undefined to omit the header. */
function paramValue(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return undefined; // null, absent, or not a primitive the annotation allows
}

/**
 * The per-POST metadata headers for `msg`: MCP-Protocol-Version (equal to the body's
 * `_meta` protocolVersion), Mcp-Method, Mcp-Name where required, and Mcp-Param-* for a tools/call
 * of a tool whose annotations are in `params` (from the last tools/list).
 */
export function requestHeaders(msg: JsonRpcMessage, params?: HeaderParam[]): Record<string, string> {
  const p = (msg.params ?? {}) as Record<string, unknown>;
  const meta = (p._meta ?? {}) as Record<string, unknown>;
  const version = typeof meta[META_PROTOCOL_VERSION] === 'string' ? (meta[META_PROTOCOL_VERSION] as string) : MODERN_PROTOCOL_VERSION;
  const headers: Record<string, string> = { 'mcp-protocol-version': version };
  if (!msg.method) return headers;
  headers['mcp-method'] = msg.method;
  const source = NAME_SOURCE[msg.method];
  if (source && typeof p[source] === 'string') headers['mcp-name'] = encodeHeaderValue(p[source] as string);
  if (msg.method === 'tools/call' && params) {
    for (const param of params) {
      let value: unknown = p.arguments;
      for (const key of param.path) value = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
      const text = paramValue(value);
      if (text !== undefined) headers[`mcp-param-${param.name.toLowerCase()}`] = encodeHeaderValue(text);
    }
  }
  return headers;
}

/** Tools from a tools/list result, split into the usable ones (with their header params) and the rejected ones. */
export function screenTools(result: unknown): { keep: Array<{ name: string; params: HeaderParam[] }>; rejected: Array<{ name: string; reason: string }> } {
  const tools = (result as { tools?: unknown } | undefined)?.tools;
  const keep: Array<{ name: string; params: HeaderParam[] }> = [];
  const rejected: Array<{ name: string; reason: string }> = [];
  if (!Array.isArray(tools)) return { keep, rejected };
  for (const tool of tools as Array<{ name?: unknown; inputSchema?: unknown }>) {
    const name = typeof tool?.name === 'string' ? tool.name : '';
    const found = headerParams(tool?.inputSchema);
    if ('invalid' in found) rejected.push({ name, reason: found.invalid });
    else keep.push({ name, params: found.params });
  }
  return { keep, rejected };
}
