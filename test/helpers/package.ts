/**
 * The package as it ships: `npm pack` of the built repository (dist/bundle/ from `npm run build`),
 * installed into an empty folder the way `npx` would, and the esbuild metafile of that build
 * (dist/bundle-meta.json, written by bin/build.mjs) to see which dependency went into which file.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const REPO = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
/** npm pack + install of a 2.5 MB tarball from the local cache: seconds, more on a loaded machine. */
export const NPM_TIMEOUT_MS = 120_000;

export interface PackedFile {
  path: string;
  size: number;
}

/**
 * `npm pack` into `dir` without lifecycle scripts: the suite runs after `npm run build`, which is
 * what `prepare` would run. Returns the tarball's path and its file list.
 */
export async function packRepo(dir: string): Promise<{ tarball: string; files: PackedFile[] }> {
  const { stdout } = await run(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: REPO, timeout: NPM_TIMEOUT_MS });
  const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: PackedFile[] }>;
  if (!packed) throw new Error(`npm pack printed no package: ${stdout}`);
  return { tarball: join(dir, packed.filename), files: packed.files };
}

/**
 * Install a tarball into the empty folder `dir` with nothing from the network (`--offline`: the
 * local npm cache only) and without optional dependencies (the OS keychain's native module).
 * Returns the installed package's folder.
 */
export async function installTarball(tarball: string, dir: string): Promise<string> {
  await writeFile(join(dir, 'package.json'), '{ "name": "install-check", "private": true }\n');
  await run(NPM, ['install', tarball, '--offline', '--omit=optional', '--no-audit', '--no-fund', '--no-package-lock'], { cwd: dir, timeout: NPM_TIMEOUT_MS });
  return join(dir, 'node_modules', 'mcp-relay');
}

/** Every file under `dir` with its size in bytes (paths relative to `dir`, `/`-separated). */
export async function filesUnder(dir: string, prefix = ''): Promise<PackedFile[]> {
  const out: PackedFile[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(path, rel)));
    else out.push({ path: rel, size: (await stat(path)).size });
  }
  return out;
}

interface MetaOutput {
  bytes: number;
  entryPoint?: string;
  imports: Array<{ path: string; kind: string; external?: boolean }>;
  inputs: Record<string, { bytesInOutput: number }>;
}

/** esbuild's metafile of the last `npm run build` (outputs keyed by path relative to the repo). */
export function bundleMeta(): { outputs: Record<string, MetaOutput> } {
  return JSON.parse(readFileSync(join(REPO, 'dist', 'bundle-meta.json'), 'utf8')) as { outputs: Record<string, MetaOutput> };
}

/** The npm package an input file of the bundle comes from (`src` for our own code). */
export function packageOf(input: string): string {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
  return m ? m[1]! : 'src';
}

/**
 * The output files reachable from `entry` through static and dynamic imports, not entering the
 * outputs whose entry point `skip` accepts (and what only they import).
 */
export function reachableOutputs(meta: { outputs: Record<string, MetaOutput> }, entry: string, skip: (entryPoint: string) => boolean): Set<string> {
  const seen = new Set<string>();
  const visit = (out: string) => {
    const o = meta.outputs[out];
    if (!o || seen.has(out) || (o.entryPoint && skip(o.entryPoint))) return;
    seen.add(out);
    for (const imp of o.imports) if (!imp.external) visit(imp.path);
  };
  visit(entry);
  return seen;
}
