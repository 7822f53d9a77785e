/**
 * The Claude Desktop extension (issue 16, "Claude Desktop extension"): `npm run pack:mcpb`'s
 * .mcpb validates with @anthropic-ai/mcpb, and once unpacked, the command its manifest gives
 * (user configuration substituted by the same library function Claude Desktop uses) starts the
 * bundled relay, which relays to a real server with the configured headers.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import { promisify } from 'node:util';
import { getMcpConfigForManifest, type McpbManifestAny, unpackExtension, validateManifest } from '@anthropic-ai/mcpb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { REPO } from '../helpers/package.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

/** Packing 2.5 MB with zip compression, on a loaded machine. */
const PACK_TIMEOUT_MS = 120_000;

let work: string;
let unpacked: string;
let manifest: McpbManifestAny;
const servers: TestServer[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-relay-mcpb-'));
  const file = join(work, 'mcp-relay.mcpb');
  await promisify(execFile)(process.execPath, [join(REPO, 'bin', 'mcpb', 'pack.mjs'), '--out', file], { cwd: REPO, timeout: PACK_TIMEOUT_MS });
  unpacked = join(work, 'unpacked');
  expect(await unpackExtension({ mcpbPath: file, outputDir: unpacked, silent: true })).toBe(true);
  manifest = JSON.parse(await readFile(join(unpacked, 'manifest.json'), 'utf8')) as McpbManifestAny;
}, PACK_TIMEOUT_MS);

afterEach(async () => {
  await killAll();
  for (const s of servers.splice(0)) await s.close();
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** The command Claude Desktop runs for this user configuration (undefined when required values are missing). */
function commandFor(userConfig: Record<string, string | string[]>) {
  return getMcpConfigForManifest({ manifest, extensionPath: unpacked, systemDirs: {}, userConfig, pathSeparator: sep });
}

/** Start the relay as the manifest says and relay one echo; what the host got back. */
async function relayOneEcho(config: { command: string; args?: string[]; env?: Record<string, string> }): Promise<string> {
  // "node" is the Node that Claude Desktop ships for node servers: here, the one running the tests.
  expect(config.command).toBe('node');
  const [bin, ...args] = config.args ?? [];
  expect(bin).toBe(join(unpacked, 'bin', 'mcpb', 'server.js'));
  const relay = spawnRelay(args, { home: await tempHome(), bin: bin!, env: config.env ?? {} });
  relay.send(INIT(1));
  await relay.waitFor((m) => m.id === 1);
  relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
  relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'from Claude Desktop' } } });
  return JSON.stringify((await relay.waitFor((m) => m.id === 2)).result);
}

describe('the .mcpb bundle', () => {
  it('has a manifest that validates, in the repository and in the bundle, with the package version and a node server', async () => {
    expect(validateManifest(join(REPO, 'bin', 'mcpb', 'manifest.json'))).toBe(true);
    expect(validateManifest(join(unpacked, 'manifest.json'))).toBe(true);
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect(manifest.version).toBe(pkg.version);
    expect(manifest.server.type).toBe('node');
    // The server URL is required: without it Claude Desktop has no command to run.
    expect(await commandFor({})).toBeUndefined();
  });

  it('runs as its manifest says with the server URL and headers from the user configuration, and relays a call', async () => {
    const server = await startTestServer({ kind: 'stateful', requireHeader: { name: 'X-Api-Key', value: 'k-123' } });
    servers.push(server);
    const config = await commandFor({ server_url: server.url, headers: ['X-Api-Key: k-123', 'X-Team: blue'] });
    expect(await relayOneEcho(config!)).toContain('from Claude Desktop');
    const calls = server.requests.filter((r) => (r.body as { method?: string } | undefined)?.method === 'tools/call');
    expect(calls).toHaveLength(1);
    expect(server.seenHeaders.every((h) => h['x-api-key'] === 'k-123' && h['x-team'] === 'blue')).toBe(true);
  });

  it('runs with the server URL alone (no headers configured)', async () => {
    const server = await startTestServer({ kind: 'stateful' });
    servers.push(server);
    const config = await commandFor({ server_url: server.url });
    expect(await relayOneEcho(config!)).toContain('from Claude Desktop');
    expect(server.seenHeaders.some((h) => h['x-api-key'] !== undefined)).toBe(false);
  });
});
