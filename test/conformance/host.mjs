#!/usr/bin/env node
// The "client under test" that the official conformance harness spawns: a small MCP host (the
// SDK's Client over stdio) in front of the built relay, so every check the harness makes is about
// what the relay sent. The harness appends the server URL to the command and passes the scenario
// in MCP_CONFORMANCE_SCENARIO, and credentials where a scenario needs them in
// MCP_CONFORMANCE_CONTEXT (JSON).
//
// The host does what a host does: initialize, list the tools, call each one with arguments made
// from its input schema, and answer elicitation (leaving fields with defaults to the SDK's
// applyDefaults) and sampling. Secrets from the context reach the relay through env:NAME, never argv.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CreateMessageRequestSchema, ElicitRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const ROOT = resolve(import.meta.dirname, '../..');
const RELAY_BIN = join(ROOT, 'bin/mcp-relay.js');
const BROWSER = join(ROOT, 'test/fixtures/browser.mjs');
/** The Client ID Metadata Document URL the harness's CIMD scenario expects (as its everything-client). */
const CIMD_URL = 'https://conformance-test.local/client-metadata.json';
/** Per-request timeout of the host: below the harness's 30 s per scenario, so a hang is reported, not killed. */
const REQUEST_TIMEOUT_MS = 20_000;
/** Seconds the relay waits for the (automatic) browser login. */
const AUTH_TIMEOUT_S = 20;

const serverUrl = process.argv[process.argv.length - 1];
const scenario = process.env.MCP_CONFORMANCE_SCENARIO ?? '';
const context = process.env.MCP_CONFORMANCE_CONTEXT ? JSON.parse(process.env.MCP_CONFORMANCE_CONTEXT) : {};

/** Relay flags (and env holding secrets) for what the scenario's context provides. */
function relayOptions() {
  const machine = scenario.startsWith('auth/client-credentials');
  // Enterprise sign-in: the workload JWT (WIF) or the IdP's ID token (EMA) come in the context.
  const enterprise = context.valid_jwt !== undefined || context.idp_issuer !== undefined;
  const login = machine ? ['--client-credentials'] : enterprise ? [] : ['--client-metadata-url', CIMD_URL];
  const args = ['--auth-timeout', String(AUTH_TIMEOUT_S), ...login];
  const env = {};
  if (context.valid_jwt !== undefined) {
    env.CONFORMANCE_WORKLOAD_TOKEN = context.valid_jwt;
    args.push('--workload-token', 'env:CONFORMANCE_WORKLOAD_TOKEN');
  }
  if (context.idp_issuer !== undefined) {
    args.push('--idp-issuer', context.idp_issuer);
    if (context.idp_client_id) args.push('--idp-client-id', context.idp_client_id);
    if (context.idp_token_endpoint) args.push('--idp-token-endpoint', context.idp_token_endpoint);
    env.CONFORMANCE_IDP_ID_TOKEN = context.idp_id_token;
    args.push('--idp-id-token', 'env:CONFORMANCE_IDP_ID_TOKEN');
  }
  if (context.client_id) args.push('--client-id', context.client_id);
  if (context.client_secret) {
    env.CONFORMANCE_CLIENT_SECRET = context.client_secret;
    args.push('--client-secret', 'env:CONFORMANCE_CLIENT_SECRET');
  }
  if (context.private_key_pem) {
    env.CONFORMANCE_CLIENT_KEY = context.private_key_pem;
    args.push('--client-key-file', 'env:CONFORMANCE_CLIENT_KEY');
    if (context.signing_algorithm) args.push('--client-key-alg', context.signing_algorithm);
  }
  return { args, env };
}

/** A value that satisfies a JSON schema well enough for a test tool. */
function sample(schema) {
  if (!schema || typeof schema !== 'object') return 'x';
  if (schema.default !== undefined) return schema.default;
  if (Array.isArray(schema.enum) && schema.enum.length) return schema.enum[0];
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'number':
    case 'integer':
      return 1;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object': {
      const out = {};
      for (const [k, v] of Object.entries(schema.properties ?? {})) out[k] = sample(v);
      return out;
    }
    default:
      return 'x';
  }
}

/** Form content for an elicitation: fields with a default are left out (the SDK fills them in). */
function elicitContent(requested) {
  const out = {};
  for (const [k, v] of Object.entries(requested?.properties ?? {})) if (v?.default === undefined) out[k] = sample(v);
  return out;
}

/**
 * The calls to make: the ones the scenario's context lists (exact arguments, e.g. null values and
 * non-ASCII strings for Mcp-Param headers), else one per tool with arguments from its schema. A
 * tool that takes a `schema` object gets the input schema of another listed tool as the host
 * received it (json-schema-2020-12-preservation checks what survives the relay and the host).
 */
function toolCalls(tools) {
  if (Array.isArray(context.toolCalls)) return context.toolCalls.map((c) => ({ name: c.name, arguments: c.arguments ?? {} }));
  return tools.map((tool) => {
    const props = tool.inputSchema?.properties ?? {};
    const other = tools.find((t) => t !== tool);
    if (props.schema?.type === 'object' && other) return { name: tool.name, arguments: { schema: other.inputSchema } };
    return { name: tool.name, arguments: sample({ type: 'object', ...tool.inputSchema }) };
  });
}

async function main() {
  const home = mkdtempSync(join(tmpdir(), 'mcp-relay-conformance-'));
  const { args, env } = relayOptions();
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [RELAY_BIN, serverUrl, ...args],
    env: { PATH: process.env.PATH ?? '', HOME: home, MCP_RELAY_HOME: join(home, 'store'), BROWSER: `${process.execPath} ${BROWSER}`, ...env },
    stderr: 'inherit',
  });
  const client = new Client(
    { name: 'mcp-relay-conformance-host', version: '1.0.0' },
    { capabilities: { elicitation: { form: { applyDefaults: true } }, sampling: {}, roots: { listChanged: true } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async (req) => ({ action: 'accept', content: elicitContent(req.params.requestedSchema) }));
  client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: 'assistant', model: 'conformance-host', content: { type: 'text', text: 'ok' } }));
  client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [] }));
  const opts = { timeout: REQUEST_TIMEOUT_MS };
  let failed = false;
  try {
    await client.connect(transport, opts);
    const { tools } = await client.listTools(undefined, opts);
    for (const call of toolCalls(tools)) {
      try {
        await client.callTool(call, undefined, opts);
      } catch (err) {
        // One tool failing (a scenario's deliberately invalid tool) does not stop the others.
        console.error(`conformance host: ${call.name}: ${err?.message ?? err}`);
      }
    }
  } catch (err) {
    console.error(`conformance host (${scenario}): ${err?.message ?? err}`);
    failed = true;
  } finally {
    await client.close().catch(() => {});
    rmSync(home, { recursive: true, force: true });
  }
  process.exit(failed ? 1 : 0);
}

await main();
