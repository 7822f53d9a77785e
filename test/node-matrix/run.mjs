#!/usr/bin/env node
/**
 * `npm run test:node-matrix`: the tests again under each Node major a host may launch us with.
 *
 *   node test/node-matrix/run.mjs [22 24 26] [--refresh] [-- <vitest arguments, default test/>]
 *
 * `npm test` runs on the machine's Node. This script fetches the other runtimes from the npm
 * registry (the `node` package, whose preinstall script installs the platform build
 * `node-<os>-<arch>` and hard-links its binary to `node_modules/node/bin/node`) into a cache outside
 * the project's dependencies, `${XDG_CACHE_HOME:-~/.cache}/mcp-relay/node-matrix/node<major>/`,
 * reused when present (`--refresh` reinstalls, which picks up the newest release of the major).
 *
 * Vitest itself runs on that binary, and its workers and every relay the tests spawn use
 * `process.execPath`, so the relay under test runs on it too: test/e2e/runtime.test.ts checks the
 * `node` the relay logs at start against MCP_RELAY_EXPECT_NODE, which this script sets. The
 * binary's directory also goes first on PATH, for anything that spawns `node` by name.
 *
 * Versions run in sequence (the tests start many processes; two cores are enough for one run).
 * One summary line per version; the exit status is non-zero if any test failed that is not listed
 * in known-failures.json for that major, or if a runtime could not be installed. A listed failure
 * is reported as such on the summary line, never skipped; a listed test that passes is reported
 * too, so the list does not outlive the problem.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');
const DEFAULT_MAJORS = ['22', '24', '26'];
/** What runs when no vitest arguments are given: the whole suite (unit tests cover node:http and the yargs loader). */
const DEFAULT_TESTS = ['test/'];
const KNOWN_FAILURES = join(import.meta.dirname, 'known-failures.json');
/** A registry download of ~50 MB on a slow link; beyond this the install is stuck, not slow. */
const INSTALL_TIMEOUT_MS = 10 * 60_000;

function cacheRoot() {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'mcp-relay', 'node-matrix');
}

/** `node --version` of a binary, or undefined if it does not run. */
function versionOf(bin) {
  if (!existsSync(bin)) return undefined;
  const out = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  return out.status === 0 ? out.stdout.trim() : undefined;
}

/** The binary for one major, installed into the cache if it is not there (or `refresh`). */
function runtime(major, refresh) {
  const prefix = join(cacheRoot(), `node${major}`);
  const bin = join(prefix, 'node_modules', 'node', 'bin', process.platform === 'win32' ? 'node.exe' : 'node');
  let version = refresh ? undefined : versionOf(bin);
  if (!version?.startsWith(`v${major}.`)) {
    rmSync(prefix, { recursive: true, force: true });
    mkdirSync(prefix, { recursive: true });
    process.stderr.write(`node-matrix: installing node@${major} into ${prefix}\n`);
    // --ignore-scripts=false: the binary arrives by the package's preinstall script, which a
    // user-wide ignore-scripts setting would otherwise silence (leaving no binary, reported below).
    const npm = spawnSync('npm', ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--ignore-scripts=false', `node@${major}`], {
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: INSTALL_TIMEOUT_MS,
      shell: process.platform === 'win32',
    });
    version = versionOf(bin);
    if (npm.status !== 0 || !version?.startsWith(`v${major}.`)) {
      throw new Error(`could not install node@${major} into ${prefix} (npm exit ${npm.status}; ${bin} ${version ? `is ${version}` : 'does not run'})`);
    }
  }
  return { bin, version };
}

/**
 * Known failures by major: `{ "24": [{ "test": "test/e2e/x.test.ts > describe > test", "reason": "..." }] }`,
 * the name exactly as the summary prints it. There is no such file while every version passes.
 */
function knownFailures(major) {
  if (!existsSync(KNOWN_FAILURES)) return [];
  const all = JSON.parse(readFileSync(KNOWN_FAILURES, 'utf8'));
  return all[major] ?? [];
}

/** Run vitest on `bin`; the jest-style JSON report vitest writes, or undefined if it wrote none. */
function runTests(bin, version, tests) {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-relay-node-matrix-'));
  const report = join(dir, 'report.json');
  try {
    const env = { ...process.env, PATH: `${dirname(bin)}${delimiter}${process.env.PATH ?? ''}`, MCP_RELAY_EXPECT_NODE: version };
    const vitest = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');
    const run = spawnSync(bin, [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...tests], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const json = existsSync(report) ? JSON.parse(readFileSync(report, 'utf8')) : undefined;
    return { status: run.status, json };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Failed and passed test names from the report: `test/e2e/x.test.ts > describe > test`. */
function outcomes(json) {
  const failed = [];
  const passed = new Set();
  for (const file of json.testResults ?? []) {
    const rel = file.name.startsWith(ROOT) ? file.name.slice(ROOT.length + 1) : file.name;
    for (const t of file.assertionResults ?? []) {
      const name = [rel, ...(t.ancestorTitles ?? []), t.title].join(' > ');
      if (t.status === 'failed') failed.push(name);
      else if (t.status === 'passed') passed.add(name);
    }
    // A file that failed to load (syntax, import) has no test results, only a message.
    if (file.status === 'failed' && (file.assertionResults ?? []).length === 0) failed.push(`${rel} (file failed: ${(file.message ?? '').split('\n')[0]})`);
  }
  return { failed, passed };
}

function parseArgs(argv) {
  const dash = argv.indexOf('--');
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const tests = dash < 0 ? DEFAULT_TESTS : argv.slice(dash + 1);
  const majors = own.filter((a) => /^\d+$/.test(a));
  const unknown = own.filter((a) => !/^\d+$/.test(a) && a !== '--refresh');
  if (unknown.length > 0) throw new Error(`unknown argument ${unknown[0]} (usage: run.mjs [22 24 26] [--refresh] [-- <vitest arguments>])`);
  return { majors: majors.length > 0 ? majors : DEFAULT_MAJORS, refresh: own.includes('--refresh'), tests };
}

function main() {
  const { majors, refresh, tests } = parseArgs(process.argv.slice(2));
  // The tests spawn bin/mcp-relay.js, which runs dist/: build it once, with the machine's Node (tsc output does not depend on it).
  const build = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], shell: process.platform === 'win32' });
  if (build.status !== 0) return 1;

  const lines = [];
  let bad = false;
  for (const major of majors) {
    const t0 = performance.now();
    let rt;
    try {
      rt = runtime(major, refresh);
    } catch (err) {
      lines.push(`node ${major}: NOT RUN, ${err.message}`);
      bad = true;
      continue;
    }
    process.stderr.write(`\nnode-matrix: ${tests.join(' ')} on node ${rt.version} (${rt.bin})\n`);
    const { status, json } = runTests(rt.bin, rt.version, tests);
    const seconds = ((performance.now() - t0) / 1000).toFixed(0);
    if (!json) {
      lines.push(`node ${rt.version}: FAILED, vitest exited ${status} without a report, ${seconds} s`);
      bad = true;
      continue;
    }
    const { failed, passed } = outcomes(json);
    const known = knownFailures(major);
    const knownNames = new Set(known.map((k) => k.test));
    const unexpected = failed.filter((name) => !knownNames.has(name));
    const expected = failed.filter((name) => knownNames.has(name));
    const fixed = known.filter((k) => passed.has(k.test)).map((k) => k.test);
    const verdict = unexpected.length > 0 || (status !== 0 && failed.length === 0) ? 'FAILED' : 'ok';
    if (verdict !== 'ok') bad = true;
    let line = `node ${rt.version}: ${verdict}, ${passed.size} passed, ${unexpected.length} failed`;
    if (expected.length > 0) line += `, ${expected.length} known failure(s)`;
    line += `, ${seconds} s`;
    lines.push(line);
    for (const name of unexpected) lines.push(`  failed: ${name}`);
    for (const name of expected) lines.push(`  known failure: ${name} (${known.find((k) => k.test === name).reason})`);
    for (const name of fixed) lines.push(`  listed as a known failure but passed (remove it from known-failures.json): ${name}`);
    if (status !== 0 && failed.length === 0) lines.push(`  vitest exited ${status} with no failed test (see its output above)`);
  }
  process.stdout.write(`\nnode-matrix summary (${tests.join(' ')}):\n${lines.join('\n')}\n`);
  return bad ? 1 : 0;
}

try {
  process.exitCode = main();
} catch (err) {
  process.stderr.write(`node-matrix: ${err.message}\n`);
  process.exitCode = 2;
}
