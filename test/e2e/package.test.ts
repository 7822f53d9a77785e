/**
 * The published package (issue 16, "What a user pays before the first message"): `npm pack` of
 * the build, installed into an empty folder with nothing from the network, is a complete relay:
 * one package, no dependencies to download (the OS keychain's native module is optional and left
 * out here), at most MAX_INSTALLED_BYTES, no source maps, and none of the MCP SDK's server side
 * in anything the relay loads. Timing is measured by `npm run bench`, not here.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { bundleMeta, filesUnder, installTarball, NPM_TIMEOUT_MS, packageOf, packRepo, reachableOutputs, REPO, type PackedFile } from '../helpers/package.js';
import { INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';

/** bin/build.mjs's notices file (LICENSES_FILE there). */
const LICENSES_FILE = 'THIRD-PARTY-LICENSES.txt';

/** Issue 16's goal for the installed package (without the optional keychain module). */
const MAX_INSTALLED_BYTES = 3 * 1024 * 1024;
/** The MCP SDK's server-side dependencies: a client never runs them. */
const SERVER_SIDE = ['express', '@hono/node-server', 'hono', 'ajv', 'ajv-formats', 'cors', 'raw-body', 'body-parser', 'express-rate-limit'];
/** The demo's chunks (`mcp-relay demo`, `demo-server`): they run an MCP server, with the SDK's. */
const DEMO_ENTRIES = new Set(['src/demo/run.ts', 'src/demo/run-server.ts']);

const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
let work: string;
let packed: PackedFile[];
let installed: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'mcp-relay-package-'));
  const { tarball, files } = await packRepo(work);
  packed = files;
  const target = join(work, 'install');
  await mkdir(target);
  installed = await installTarball(tarball, target);
}, 2 * NPM_TIMEOUT_MS);

afterAll(async () => {
  await killAll();
  await rm(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the bundle and nothing else: bin/mcp-relay.js, dist/bundle/, package.json, README, LICENSE; no source maps', () => {
    const outside = packed
      .map((f) => f.path)
      .filter((p) => !(p.startsWith('dist/bundle/') || ['bin/mcp-relay.js', 'package.json', 'README.md', 'LICENSE'].includes(p)));
    expect(outside).toEqual([]);
    expect(packed.filter((f) => f.path.endsWith('.map'))).toEqual([]);
    // The build's outputs, exactly (a stale chunk of an older build would be shipped dead weight),
    // and the notices of the packages bundled in them.
    const built = [...Object.keys(bundleMeta().outputs), `dist/bundle/${LICENSES_FILE}`].sort();
    const shipped = packed.map((f) => f.path).filter((p) => p.startsWith('dist/bundle/'));
    expect(shipped.sort()).toEqual(built);
  });

  it('names every bundled package, with its license, in the shipped notices file', async () => {
    const notices = await readFile(join(installed, 'dist', 'bundle', LICENSES_FILE), 'utf8');
    const bundled = new Set(Object.values(bundleMeta().outputs).flatMap((o) => Object.keys(o.inputs).map(packageOf)));
    bundled.delete('src');
    expect(bundled.size).toBeGreaterThan(20);
    expect([...bundled].filter((name) => !notices.includes(`\n${name}@`))).toEqual([]);
  });

  it(`installs offline as one package with no dependencies, at most ${MAX_INSTALLED_BYTES} bytes`, async () => {
    const manifest = JSON.parse(await readFile(join(installed, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(Object.keys((manifest.optionalDependencies as object | undefined) ?? {})).toEqual(['@napi-rs/keyring']);
    // npm's own entries aside (.bin links, .package-lock.json), one package.
    const modules = (await readdir(join(installed, '..'))).filter((m) => !m.startsWith('.'));
    expect(modules).toEqual(['mcp-relay']);
    const files = await filesUnder(installed);
    const bytes = files.reduce((sum, f) => sum + f.size, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_INSTALLED_BYTES);
    expect(files.filter((f) => f.path.endsWith('.map'))).toEqual([]);
  });

  it('runs from the install: --version, --help, status, and one tool call relayed to a real server, logged as JSON to stderr and the log file', async () => {
    const bin = join(installed, 'bin', 'mcp-relay.js');
    const run = (...args: string[]) => promisify(execFile)(process.execPath, [bin, ...args], { env: { ...process.env, MCP_RELAY_HOME: join(work, 'store') } });
    expect((await run('--version')).stdout.trim()).toBe(pkg.version);
    // The help renderer (bundled, evaluated on first use) and a lazily loaded command chunk.
    expect((await run('--help')).stdout).toContain('Usage: mcp-relay <server-url');
    expect((await run('status')).stdout).toContain('Nothing is stored yet');

    const server: TestServer = await startTestServer({ kind: 'stateful' });
    try {
      const home = await tempHome();
      const logFile = join(home, 'relay.log');
      const relay = spawnRelay([server.url, '--log-level', 'debug', '--log-file', logFile], { home, bin });
      relay.send(INIT(1));
      await relay.waitFor((m) => m.id === 1);
      relay.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      relay.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { text: 'through the package' } } });
      const answer = await relay.waitFor((m) => m.id === 2);
      expect(JSON.stringify(answer.result)).toContain('through the package');
      const calls = server.requests.filter((r) => (r.body as { method?: string } | undefined)?.method === 'tools/call');
      expect(calls.map((r) => (r.body as { params: { arguments: unknown } }).params.arguments)).toEqual([{ text: 'through the package' }]);
      relay.child.stdin.end();
      expect((await relay.exited).code).toBe(0);
      // pino, bundled: JSON lines (stderr is a pipe here) from the relay, in both destinations.
      const fileLines = (await readFile(logFile, 'utf8')).trim().split('\n');
      const stderrLines = relay.stderr().trim().split('\n');
      for (const lines of [fileLines, stderrLines]) {
        expect(lines.length).toBeGreaterThan(0);
        for (const line of lines) expect(JSON.parse(line)).toMatchObject({ name: 'mcp-relay', level: expect.any(Number) });
      }
    } finally {
      await server.close();
    }
  });

  it("never loads the SDK's server side (express, hono, ajv, cors): only the demo's chunks carry it", () => {
    const meta = bundleMeta();
    const packagesOf = (outputs: Iterable<string>) => new Set([...outputs].flatMap((o) => Object.keys(meta.outputs[o]!.inputs).map(packageOf)));
    const relay = packagesOf(reachableOutputs(meta, 'dist/bundle/main.js', (entry) => DEMO_ENTRIES.has(entry)));
    expect(SERVER_SIDE.filter((p) => relay.has(p))).toEqual([]);
    // The check sees them where they are (the demo runs the SDK's Server, which validates with ajv).
    const everything = packagesOf(reachableOutputs(meta, 'dist/bundle/main.js', () => false));
    expect(everything.has('ajv')).toBe(true);
    expect(relay.has('@modelcontextprotocol/sdk')).toBe(true);
  });
});
