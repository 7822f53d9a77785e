#!/usr/bin/env node
// `npm run pack:mcpb`: the relay as an MCP Bundle (.mcpb) for Claude Desktop, which installs a
// remote server from one file: the user opens it, enters the server URL (and headers, if the
// server wants an API key rather than OAuth), and Claude Desktop runs the bundled relay with its
// own Node ("server.type": "node"). Built from the same dist/bundle/ that the npm package ships
// (run `npm run build` first; the npm script does), validated and packed with @anthropic-ai/mcpb.
//
// Usage: node bin/mcpb/pack.mjs [--out FILE]   (default: dist/mcp-relay-<version>.mcpb)
// Not part of the npm package.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packExtension, validateManifest } from '@anthropic-ai/mcpb';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MANIFEST = join(ROOT, 'bin', 'mcpb', 'manifest.json');

/** What the bundle runs: the npm package's files, nothing else (no dependencies to install). */
const PAYLOAD = ['bin/mcp-relay.js', 'bin/mcpb/server.js', 'dist/bundle', 'README.md', 'LICENSE'];

/**
 * Stage the bundle's files in a temporary folder and pack them into `out`.
 * @returns the path of the .mcpb written.
 */
export async function packMcpb(out) {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8'));
  const target = resolve(out ?? join(ROOT, 'dist', `mcp-relay-${pkg.version}.mcpb`));
  const stage = await mkdtemp(join(tmpdir(), 'mcp-relay-mcpb-'));
  try {
    for (const path of PAYLOAD) await cp(join(ROOT, path), join(stage, path), { recursive: true });
    // The bundle's modules are ES modules ("type"), and the CLI reads its version from here.
    const stagedPkg = { name: pkg.name, version: pkg.version, type: 'module', private: true, license: pkg.license };
    await writeFile(join(stage, 'package.json'), `${JSON.stringify(stagedPkg, null, 2)}\n`);
    const manifest = JSON.parse(await readFile(MANIFEST, 'utf8'));
    delete manifest.$schema; // points into node_modules: meaningful in the repo only
    manifest.version = pkg.version;
    await writeFile(join(stage, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (!validateManifest(join(stage, 'manifest.json'))) throw new Error(`${MANIFEST}: the MCP Bundle manifest does not validate`);
    if (!(await packExtension({ extensionPath: stage, outputPath: target, silent: true }))) throw new Error(`mcpb could not pack ${target}`);
    return target;
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  const written = await packMcpb(i > 0 ? process.argv[i + 1] : undefined);
  process.stdout.write(`${written}\n`);
}
