/**
 * The cold-install figure (issue 16, "What a user pays before the first message"): what a host's
 * first `npx -y <package>` costs before the bridge can start. `npm pack` of this checkout, then
 * the tarball and mcp-remote (from the npm registry) are installed into empty folders, each with
 * an EMPTY npm cache of its own (`--cache <tmpdir>`), back to back and interleaved (the order
 * alternates per round) so that a slow moment of the network or the disk hits both. The relay
 * is installed twice per round: as npm installs it by default (with the optional OS-keychain
 * module, fetched from the registry), and with `--omit=optional` (the package alone).
 *
 * Reported per target: install time (wall clock of `npm install`), installed bytes (every file
 * under node_modules, symlinks not followed) and package count; and the ratios to mcp-remote,
 * taken per round and then the median.
 */
import { execFile, execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from './stats.js';

/** The reference peer's version, as the issue measured it. */
export const MCP_REMOTE_VERSION = '0.15.1';
/** One install of ~150 packages over a slow network must still finish. */
const INSTALL_TIMEOUT_MS = 300_000;
/** Issue 16's goals: at most half of mcp-remote's install time, at most 3 MB installed. */
export const COLD_INSTALL_TIME_RATIO_GOAL = 0.5;
export const COLD_INSTALL_MAX_BYTES = 3 * 1024 * 1024;

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TARGETS = ['mcp-relay', 'mcp-relay --omit=optional', `mcp-remote ${MCP_REMOTE_VERSION}`] as const;
export type InstallTarget = (typeof TARGETS)[number];

export interface InstallSample {
  target: InstallTarget;
  round: number;
  ms: number;
  bytes: number;
  packages: number;
}

export interface ColdInstallSummary {
  rounds: number;
  registry: string;
  targets: Array<{ target: InstallTarget; medianMs: number; minMs: number; maxMs: number; bytes: number; packages: number }>;
  /** Medians of per-round ratios, mcp-relay (default install) over mcp-remote. */
  timeRatio: number;
  sizeRatio: number;
  samples: InstallSample[];
}

/** Bytes of every regular file under `dir` (symlinks, such as node_modules/.bin, not followed). */
async function bytesUnder(dir: string): Promise<number> {
  let sum = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) sum += await bytesUnder(path);
    else if (entry.isFile()) sum += (await lstat(path)).size;
  }
  return sum;
}

/** Packages npm installed, from its hidden lockfile (node_modules/.package-lock.json). */
async function packagesIn(prefix: string): Promise<number> {
  const lock = JSON.parse(await readFile(join(prefix, 'node_modules', '.package-lock.json'), 'utf8')) as { packages?: Record<string, unknown> };
  return Object.keys(lock.packages ?? {}).filter((k) => k !== '').length;
}

function npm(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(NPM, args, { cwd, timeout: INSTALL_TIMEOUT_MS }, (err, _stdout, stderr) =>
      err ? reject(new Error(`npm ${args.join(' ')} failed: ${stderr || err.message}`)) : resolve(),
    );
  });
}

/** One install into an empty folder with an empty cache; the folder is removed afterwards. */
async function installOnce(target: InstallTarget, tarball: string, round: number, work: string): Promise<InstallSample> {
  const dir = await mkdtemp(join(work, 'install-'));
  const prefix = join(dir, 'app');
  await mkdir(prefix);
  await writeFile(join(prefix, 'package.json'), '{ "name": "cold-install", "private": true }\n');
  const spec = target.startsWith('mcp-remote') ? `mcp-remote@${MCP_REMOTE_VERSION}` : tarball;
  const extra = target === 'mcp-relay --omit=optional' ? ['--omit=optional'] : [];
  const args = [
    'install',
    spec,
    ...extra,
    '--cache',
    join(dir, 'cache'),
    '--prefer-online',
    '--no-audit',
    '--no-fund',
    '--no-package-lock',
    '--loglevel=error',
  ];
  try {
    const t0 = performance.now();
    await npm(args, prefix);
    const ms = performance.now() - t0;
    return { target, round, ms, bytes: await bytesUnder(join(prefix, 'node_modules')), packages: await packagesIn(prefix) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Run the cold-install rounds against the checkout at `projectDir` (built: `npm run bench` builds first). */
export async function measureColdInstall(projectDir: string, rounds: number, log: (line: string) => void): Promise<ColdInstallSummary> {
  const work = await mkdtemp(join(tmpdir(), 'mcp-relay-cold-install-'));
  try {
    // No scripts: `npm run bench` has just built dist/bundle/, which is what `prepare` makes.
    const packed = execFileSync(NPM, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: projectDir, encoding: 'utf8' });
    const [info] = JSON.parse(packed) as Array<{ filename: string }>;
    if (!info) throw new Error('npm pack printed no package');
    const tarball = join(work, info.filename);
    const registry = execFileSync(NPM, ['config', 'get', 'registry'], { encoding: 'utf8' }).trim();
    const samples: InstallSample[] = [];
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? TARGETS : [...TARGETS].reverse();
      for (const target of order) samples.push(await installOnce(target, tarball, round, work));
      log(`  cold install round ${round + 1}/${rounds} done`);
    }
    const of = (target: InstallTarget) => samples.filter((s) => s.target === target);
    const perRound = (f: (relay: InstallSample, remote: InstallSample) => number) =>
      median(of('mcp-relay').map((relay) => f(relay, of(`mcp-remote ${MCP_REMOTE_VERSION}`).find((r) => r.round === relay.round)!)));
    return {
      rounds,
      registry,
      targets: TARGETS.map((target) => {
        const ms = of(target).map((s) => s.ms);
        return {
          target,
          medianMs: median(ms),
          minMs: Math.min(...ms),
          maxMs: Math.max(...ms),
          bytes: median(of(target).map((s) => s.bytes)),
          packages: median(of(target).map((s) => s.packages)),
        };
      }),
      timeRatio: perRound((relay, remote) => relay.ms / remote.ms),
      sizeRatio: perRound((relay, remote) => relay.bytes / remote.bytes),
      samples,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const MB = 1024 * 1024;

/** The cold-install table and the issue's goals, for the bench's report. */
export function formatColdInstall(s: ColdInstallSummary): string {
  const rows = s.targets.map(
    (t) =>
      `  ${t.target.padEnd(28)} ${`${(t.medianMs / 1000).toFixed(1)} s (${(t.minMs / 1000).toFixed(1)}–${(t.maxMs / 1000).toFixed(1)})`.padEnd(20)} ` +
      `${`${(t.bytes / MB).toFixed(2)} MiB`.padEnd(12)} ${t.packages}`,
  );
  const alone = s.targets.find((t) => t.target === 'mcp-relay --omit=optional');
  return [
    `Cold install: empty folder and empty npm cache per install, ${s.rounds} interleaved rounds, registry ${s.registry}`,
    `  ${'target'.padEnd(28)} ${'time (median, range)'.padEnd(20)} ${'installed'.padEnd(12)} packages`,
    ...rows,
    `  mcp-relay / mcp-remote: time ${s.timeRatio.toFixed(2)}x (goal <= ${COLD_INSTALL_TIME_RATIO_GOAL}x: ${s.timeRatio <= COLD_INSTALL_TIME_RATIO_GOAL ? 'met' : 'NOT met'}), ` +
      `size ${s.sizeRatio.toFixed(2)}x; the package alone ${alone ? `${(alone.bytes / MB).toFixed(2)} MiB` : 'n/a'} ` +
      `(goal <= ${COLD_INSTALL_MAX_BYTES / MB} MiB: ${alone && alone.bytes <= COLD_INSTALL_MAX_BYTES ? 'met' : 'NOT met'})`,
  ].join('\n');
}
