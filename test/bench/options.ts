/**
 * `npm run bench -- [flags]`: the pure step from argv to {@link BenchOptions}.
 */
import { parseArgs } from 'node:util';
import { HOST_READERS, type HostReader } from './host-reader.js';

export const MIB = 1024 * 1024;

export interface BenchOptions {
  rounds: number;
  /** Sequential echo calls per variant per round (after warm-up). */
  calls: number;
  /** The sequential calls are split into this many blocks, interleaved across variants. */
  latencyBlocks: number;
  warmup: number;
  concurrency: number;
  throughputMs: number;
  /** Payload sizes in bytes. */
  payloads: number[];
  /** MiB each variant downloads per payload size per round (calls = budget / size, clamped). */
  payloadBudgetMib: number;
  progressSteps: number;
  progressDelayMs: number;
  progressCalls: number;
  /** Wait before reading the RSS "after the run" (lets the child's GC and timers settle). */
  settleMs: number;
  out: string;
  /** Leave mcp-remote out (ratios against it are then n/a). */
  skipMcpRemote: boolean;
  /** Run the relay children with --cpu-prof into this directory. */
  cpuProfDir: string | undefined;
  /** How the host reads the bridges' stdout: the SDK's reader, or a linear one (see host-reader.ts). */
  hostReader: HostReader;
  quick: boolean;
  /** The ten-server aggregate row group (aggregate.ts): run it too, skip it, or run only it. */
  aggregate: 'on' | 'off' | 'only';
  /** Cold-install rounds (cold-install.ts; needs the npm registry); 0 leaves the figure out. */
  coldInstallRounds: number;
}

/** Defaults of a full run: about 2 to 3 minutes on 2 cores (plus the cold installs: network-bound). */
const FULL: Omit<BenchOptions, 'out' | 'skipMcpRemote' | 'cpuProfDir' | 'hostReader' | 'quick' | 'aggregate'> = {
  coldInstallRounds: 3,
  rounds: 5,
  calls: 2_000,
  latencyBlocks: 4,
  warmup: 200,
  concurrency: 32,
  throughputMs: 2_500,
  payloads: [1 * MIB, 8 * MIB],
  payloadBudgetMib: 32,
  progressSteps: 20,
  progressDelayMs: 2,
  progressCalls: 2,
  settleMs: 500,
};

/** --quick: about 30 s. */
const QUICK: Partial<BenchOptions> = {
  coldInstallRounds: 2,
  rounds: 3,
  calls: 400,
  latencyBlocks: 2,
  warmup: 50,
  throughputMs: 750,
  payloadBudgetMib: 12,
  progressCalls: 1,
  settleMs: 200,
};

/** Payload calls per size per round are kept within these bounds. */
export const MIN_PAYLOAD_CALLS = 3;
export const MAX_PAYLOAD_CALLS = 20;

export const USAGE = `Usage: npm run bench -- [options]

  --quick                 ~30 s run (3 rounds, 400 calls, 0.75 s throughput)
  --rounds N              interleaved rounds (default ${FULL.rounds}); figures are medians across rounds
  --calls N               sequential echo calls per variant per round (default ${FULL.calls})
  --warmup N              untimed echo calls first (default ${FULL.warmup})
  --concurrency N         requests in flight in the throughput scenario (default ${FULL.concurrency})
  --throughput-ms N       length of the throughput scenario per variant per round (default ${FULL.throughputMs})
  --payload-mib A,B       payload sizes in MiB (default 1,8)
  --payload-budget-mib N  MiB per variant per size per round (default ${FULL.payloadBudgetMib})
  --progress-steps N      progress notifications per slow call (default ${FULL.progressSteps})
  --no-mcp-remote         leave the mcp-remote reference out
  --cold-install-rounds N npm pack + installs with empty caches vs mcp-remote (default ${FULL.coldInstallRounds}; 0: skip)
  --cpu-prof DIR          run the relay children with node --cpu-prof, profiles into DIR
  --host-reader R         sdk (default): the SDK's StdioClientTransport reader, as SDK-based hosts
                          have it; linear: same parsing, linear buffering, to see the bridge alone
  --aggregate on|off|only ten servers through one aggregated relay vs single relays (default on)
  --out FILE              JSON results (default bench-results.json)
  --help`;

function positiveInt(value: string | undefined, flag: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer >= ${min} (got ${value})`);
  return n;
}

/** Parse the bench's flags; throws an Error naming the flag; undefined means "print usage". */
export function parseBenchArgs(argv: string[]): BenchOptions | undefined {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      calls: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      'throughput-ms': { type: 'string' },
      'payload-mib': { type: 'string' },
      'payload-budget-mib': { type: 'string' },
      'progress-steps': { type: 'string' },
      'no-mcp-remote': { type: 'boolean', default: false },
      'cpu-prof': { type: 'string' },
      'host-reader': { type: 'string', default: 'sdk' },
      aggregate: { type: 'string', default: 'on' },
      out: { type: 'string', default: 'bench-results.json' },
      help: { type: 'boolean', default: false },
      'cold-install-rounds': { type: 'string' },
    },
  });
  if (values.help) return undefined;
  const base = { ...FULL, ...(values.quick ? QUICK : {}) };
  const payloads =
    values['payload-mib'] === undefined
      ? base.payloads
      : values['payload-mib'].split(',').map((s) => {
          const mib = Number(s.trim());
          if (!Number.isFinite(mib) || mib <= 0) throw new Error(`--payload-mib takes sizes in MiB separated by commas (got ${values['payload-mib']})`);
          return Math.round(mib * MIB);
        });
  const calls = positiveInt(values.calls, '--calls', base.calls);
  const hostReader = HOST_READERS.find((r) => r === values['host-reader']);
  if (hostReader === undefined) throw new Error(`--host-reader must be one of ${HOST_READERS.join(', ')} (got ${values['host-reader']})`);
  const aggregate = (['on', 'off', 'only'] as const).find((v) => v === values.aggregate);
  if (aggregate === undefined) throw new Error(`--aggregate must be on, off or only (got ${values.aggregate})`);
  return {
    ...base,
    aggregate,
    rounds: positiveInt(values.rounds, '--rounds', base.rounds),
    calls,
    latencyBlocks: Math.min(base.latencyBlocks, calls),
    warmup: positiveInt(values.warmup, '--warmup', base.warmup, 0),
    concurrency: positiveInt(values.concurrency, '--concurrency', base.concurrency),
    throughputMs: positiveInt(values['throughput-ms'], '--throughput-ms', base.throughputMs),
    payloads,
    payloadBudgetMib: positiveInt(values['payload-budget-mib'], '--payload-budget-mib', base.payloadBudgetMib),
    progressSteps: positiveInt(values['progress-steps'], '--progress-steps', base.progressSteps),
    out: values.out,
    skipMcpRemote: values['no-mcp-remote'],
    cpuProfDir: values['cpu-prof'],
    hostReader,
    quick: values.quick,
    coldInstallRounds: positiveInt(values['cold-install-rounds'], '--cold-install-rounds', base.coldInstallRounds, 0),
  };
}

/** Calls per round for one payload size: the MiB budget divided by the size, within bounds. */
export function payloadCalls(bytes: number, budgetMib: number): number {
  return Math.min(MAX_PAYLOAD_CALLS, Math.max(MIN_PAYLOAD_CALLS, Math.round((budgetMib * MIB) / bytes)));
}
