/**
 * The aggregate's answer to the host's `initialize` (MCP 2025-11-25 lifecycle): one server that
 * carries every configured server.
 * - capabilities: the union of what the servers that answered declared, and always `tools`,
 *   `prompts` and `resources` with `listChanged` (a server that answers later, or comes back,
 *   is announced with list_changed, so the host must listen for it) and `logging` (the level is
 *   set on every server that has it);
 * - protocolVersion: the one the servers agreed on, or else the host's (each server keeps the
 *   revision it negotiated on its own link);
 * - instructions: which servers are carried, the prefix of each, its state, and its own
 *   instructions.
 */
import type { Upstream } from './upstream.js';

/** How long the host's initialize waits for the servers before it is answered without the slow ones. */
export const INITIALIZE_WAIT_MS = 5_000;

const DEFAULT_PROTOCOL_VERSION = '2025-11-25';

type Caps = Record<string, unknown>;

function mergeCapabilities(all: Caps[]): Caps {
  const out: Caps = {};
  for (const caps of all) {
    for (const [k, v] of Object.entries(caps)) {
      if (v && typeof v === 'object' && !Array.isArray(v)) out[k] = { ...(out[k] as Caps | undefined), ...(v as Caps) };
      else if (out[k] === undefined) out[k] = v;
    }
  }
  for (const k of ['tools', 'prompts', 'resources']) out[k] = { ...(out[k] as Caps | undefined), listChanged: true };
  out.logging ??= {};
  // Task-augmented requests (tasks/*) are not routed by the aggregate yet: not offered.
  delete out.tasks;
  return out;
}

function stateNote(up: Upstream): string {
  switch (up.state) {
    case 'login':
      return ' (waiting for you to log in; its tools appear once that is done)';
    case 'down':
      return ' (not reachable now; its tools appear when it is back)';
    case 'starting':
      return ' (still starting; its tools appear once it answers)';
    default:
      return '';
  }
}

/** The initialize result for the host, from what the servers answered so far. */
export function mergedInitialize(upstreams: readonly Upstream[], hostParams: unknown, version: string): Record<string, unknown> {
  const answered = upstreams.filter((u) => u.init);
  const versions = new Set(answered.map((u) => u.init!.protocolVersion).filter((v): v is string => typeof v === 'string'));
  const requested = (hostParams as { protocolVersion?: unknown } | undefined)?.protocolVersion;
  const protocolVersion = versions.size === 1 ? [...versions][0]! : typeof requested === 'string' ? requested : DEFAULT_PROTOCOL_VERSION;
  const lines = [
    `This MCP server is mcp-relay carrying ${upstreams.length} servers. The tools and prompts of each are named with its prefix; resources keep their URIs.`,
  ];
  for (const up of upstreams) {
    const info = up.init?.serverInfo as { name?: unknown } | undefined;
    const own = typeof up.init?.instructions === 'string' ? `: ${up.init.instructions}` : '';
    const named = typeof info?.name === 'string' ? ` (${info.name})` : '';
    lines.push(`- ${up.name}${named}, prefix "${up.prefix}"${stateNote(up)}${own}`);
  }
  return {
    protocolVersion,
    capabilities: mergeCapabilities(answered.map((u) => (u.init!.capabilities ?? {}) as Caps)),
    serverInfo: { name: 'mcp-relay', title: `mcp-relay (${upstreams.map((u) => u.name).join(', ')})`, version },
    instructions: lines.join('\n'),
  };
}
