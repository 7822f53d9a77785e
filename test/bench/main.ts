/**
 * `npm run bench`: mcp-relay against a direct SDK client, the floor bridge (floor.ts) and
 * mcp-remote (the reference peer), all on one in-process MCP server, in interleaved rounds. Prints a table and
 * the issue's targets, and writes JSON (--out) for comparing commits. Not a test: nothing fails
 * on a slow figure; the exit code is non-zero only when the bench itself could not run.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { availableParallelism, constants as osConstants, cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { MIB, parseBenchArgs, USAGE, type BenchOptions } from './options.js';
import { checkTargets, formatTable, formatTargets, lostProgress, summarize } from './report.js';
import { runRound, type RoundResult } from './round.js';
import { startBenchServer } from './server.js';
import { AGGREGATE_SERVERS, formatAggregate, runAggregateBench, type AggregateRound } from './aggregate.js';
import { formatColdInstall, measureColdInstall, type ColdInstallSummary } from './cold-install.js';
import { ChildRegistry, findMcpRemote, RELAY_BIN, VARIANTS, type VariantName } from './targets.js';

/** Exit code for bad flags, as the CLI uses. */
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;
/** Shells report a death by signal N as exit code 128 + N. */
const EXIT_SIGNAL_BASE = 128;
/** The SDK's stdio reader limit must exceed the largest message: payload plus JSON envelope. */
const STDIO_BUFFER_HEADROOM = 2;
const MIN_STDIO_BUFFER_BYTES = 10 * MIB;
/** The aggregate row group times this share of --calls echo calls per variant per round. */
const AGGREGATE_CALLS_DIVISOR = 4;
/** The checkout the relay under test comes from (bin/ is at its root). */
const PROJECT_DIR = dirname(dirname(RELAY_BIN));

/** The checkout's commit, with "-dirty" when the working tree has changes; undefined outside git. */
function gitCommit(): string | undefined {
  const git = (...args: string[]) => execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: PROJECT_DIR }).trim();
  try {
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--untracked-files=no') ? '-dirty' : ''}`;
  } catch {
    return undefined;
  }
}

function machine() {
  return {
    nproc: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryBytes: totalmem(),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
  };
}

/**
 * The SDK's StreamableHTTPClientTransport (the direct variant, in this process) passes one
 * AbortSignal to every fetch, and Node's fetch only drops its listener on that signal when the
 * Request is garbage-collected; thousands of calls then trip Node's listener-leak warning, once
 * per call. It is the bench host's, not the relay's: say so once instead of flooding stderr.
 */
function quietSharedSignalWarning(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  let told = false;
  process.on('warning', (warning) => {
    if (warning.name === 'MaxListenersExceededWarning' && warning.message.includes('[AbortSignal]')) {
      if (!told)
        process.stderr.write(
          "  (note: the SDK's HTTP client transport in the bench host reuses one AbortSignal per session; Node warns about its listeners, harmless)\n",
        );
      told = true;
      return;
    }
    for (const print of printers) print(warning);
  });
}

async function run(opts: BenchOptions): Promise<void> {
  quietSharedSignalWarning();
  const remote = opts.skipMcpRemote ? undefined : findMcpRemote();
  if (!opts.skipMcpRemote && !remote) process.stderr.write('mcp-remote is not installed (npm install in a dev checkout); running without it\n');
  const variants: VariantName[] = VARIANTS.filter((v) => v !== 'mcp-remote' || remote !== undefined);

  const home = await mkdtemp(join(tmpdir(), 'mcp-relay-bench-'));
  const registry = new ChildRegistry();
  // Children die with the bench, however it ends (an 'exit' handler must be synchronous).
  const onExit = () => {
    registry.killAll();
    rmSync(home, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals) => process.exit(EXIT_SIGNAL_BASE + osConstants.signals[signal]);
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const server = await startBenchServer();
  const started = Date.now();
  const rounds: RoundResult[] = [];
  let aggregateRounds: AggregateRound[] = [];
  const info = machine();
  process.stderr.write(
    `mcp-relay bench: ${opts.rounds} rounds of ${variants.join(', ')}${opts.quick ? ' (quick)' : ''}; ` +
      `node ${info.node}, ${info.nproc} CPUs, ${(info.memoryBytes / 1024 ** 3).toFixed(1)} GiB; server ${server.url}\n`,
  );
  try {
    for (let i = 0; i < (opts.aggregate === 'only' ? 0 : opts.rounds); i++) {
      const t0 = Date.now();
      rounds.push(
        await runRound(
          {
            url: server.url,
            opts,
            registry,
            home,
            mcpRemoteBin: remote?.bin,
            variants,
            maxBufferSize: Math.max(MIN_STDIO_BUFFER_BYTES, STDIO_BUFFER_HEADROOM * Math.max(...opts.payloads)),
          },
          i,
        ),
      );
      process.stderr.write(`  round ${i + 1}/${opts.rounds} done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
    if (opts.aggregate !== 'off') {
      const t0 = Date.now();
      aggregateRounds = await runAggregateBench({
        rounds: opts.rounds,
        calls: Math.ceil(opts.calls / AGGREGATE_CALLS_DIVISOR),
        warmup: opts.warmup,
        settleMs: opts.settleMs,
        home,
        registry,
        maxBufferSize: MIN_STDIO_BUFFER_BYTES,
      });
      process.stderr.write(`  aggregate row group (${AGGREGATE_SERVERS} servers) done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  } finally {
    await server.close();
    onExit();
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  // After the bridge rounds: installing downloads and writes much, which must not disturb them.
  let coldInstall: ColdInstallSummary | undefined;
  if (opts.coldInstallRounds > 0) coldInstall = await measureColdInstall(PROJECT_DIR, opts.coldInstallRounds, (line) => process.stderr.write(`${line}\n`));

  const summary = summarize(rounds);
  const targets = checkTargets(rounds);
  const lost = lostProgress(summary);
  const seconds = (Date.now() - started) / 1000;
  const out = resolve(opts.out);
  const doc = {
    date: new Date(started).toISOString(),
    commit: gitCommit(),
    durationS: seconds,
    machine: info,
    versions: { mcpRemote: remote?.version },
    options: opts,
    summary,
    targets,
    warnings: lost,
    rounds,
    aggregate: aggregateRounds,
    coldInstall,
  };
  await writeFile(out, `${JSON.stringify(doc, null, 2)}\n`);

  process.stdout.write(
    `\nmcp-relay bench, ${doc.date.slice(0, 10)}${doc.commit ? ` (${doc.commit})` : ''}: ${info.nproc} CPUs (${info.cpu}), ` +
      `${(info.memoryBytes / 1024 ** 3).toFixed(1)} GiB, node ${info.node}; ${opts.rounds} rounds, ${opts.calls} sequential calls and ` +
      `${opts.concurrency} in flight for ${opts.throughputMs} ms per variant per round; medians across rounds (peak RSS: highest round).\n\n`,
  );
  if (rounds.length)
    process.stdout.write(
      `${formatTable(summary)}\n\nTargets (medians of per-round figures; each round runs the variants side by side):\n${formatTargets(targets)}\n`,
    );
  if (aggregateRounds.length) process.stdout.write(`\n${formatAggregate(aggregateRounds)}\n`);
  if (coldInstall) process.stdout.write(`\n${formatColdInstall(coldInstall)}\n`);
  for (const w of lost) process.stdout.write(`warning: ${w}\n`);
  process.stdout.write(`\n${seconds.toFixed(0)} s; JSON written to ${out}\n`);
}

async function main(argv: string[]): Promise<void> {
  let opts: BenchOptions | undefined;
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  if (!opts) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  try {
    await run(opts);
  } catch (err) {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT_FAILURE;
  }
}

await main(process.argv.slice(2));
