/**
 * yargs without its help renderer until help is wanted.
 *
 * Every relay a host starts parses its command line with yargs, and `import('yargs')` loads
 * cliui and string-width (with its emoji tables) for the help screen: ~100 ms of a relay's start
 * and ~5 MB of its resident memory, measured by `npm run bench` (docs/performance.md). This builds
 * the same yargs from its own factory with the platform shim yargs ships for ESM
 * (yargs/lib/platform-shims/esm.mjs, MIT), except that the help renderer is loaded ahead of the
 * parse when the command line asks for help, and on first use otherwise.
 *
 * The factory is not in yargs' export map, so it is reached by file path. If that ever fails (a
 * yargs release that moves it), the plain `import('yargs')` is used: slower, never broken.
 */
import { notStrictEqual, strictEqual } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import type { Argv } from 'yargs';

export type YargsFn = (argv: string[]) => Argv;

/** The arguments that make yargs render help (main.ts: `.help()` with alias `h`). */
function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((a) => a === '--help' || a === '-h');
}

/** yargs, lean when possible (see the module comment). */
export async function loadYargs(argv: readonly string[]): Promise<YargsFn> {
  try {
    return await leanYargs(wantsHelp(argv));
  } catch {
    return (await import('yargs')).default as unknown as YargsFn;
  }
}

type Cliui = (opts: unknown) => unknown;

/** A required ES module: its namespace, or its "module.exports" export itself (cliui has one). */
function defaultOf<T>(loaded: unknown): T {
  return (typeof loaded === 'function' ? loaded : (loaded as { default: T }).default) as T;
}
type StringWidth = (text: string) => number;

/** The lean build itself (exported for tests; use loadYargs). */
export async function leanYargs(preloadHelp: boolean): Promise<YargsFn> {
  const entry = fileURLToPath(import.meta.resolve('yargs'));
  const root = dirname(entry);
  const requireHere = createRequire(entry);
  // yargs' own dependencies, resolved from yargs (not from this package: stricter installs nest them).
  const dep = (name: string) => import(pathToFileURL(requireHere.resolve(name)).href) as Promise<{ default: unknown }>;
  const own = (...path: string[]) => import(pathToFileURL(join(root, ...path)).href) as Promise<Record<string, unknown>>;
  const [factory, argvBin, parser, i18n, findUp, callerFile, help] = await Promise.all([
    own('build', 'lib', 'yargs-factory.js'),
    own('build', 'lib', 'utils', 'process-argv.js'),
    dep('yargs-parser'),
    dep('y18n'),
    dep('escalade/sync'),
    dep('get-caller-file'),
    preloadHelp ? Promise.all([dep('cliui'), dep('string-width')]) : undefined,
  ]);
  const YargsFactory = factory.YargsFactory as (shim: unknown) => YargsFn;
  const getCallerFile = callerFile.default as (n: number) => string;
  let cliui = help?.[0].default as Cliui | undefined;
  let stringWidth = help?.[1].default as StringWidth | undefined;
  // Help rendered without being asked for on the command line: load it now. cliui and string-width
  // are ES modules, and require() of one works from Node 20.19 and 22.12 (unflagged there); on
  // 22.0-22.11 it throws ERR_REQUIRE_ESM, which is why package.json's engines skips those releases
  // (test/unit/yargs-lean.test.ts, "loaded on first use", fails on 22.11).
  const renderer = () => {
    cliui ??= defaultOf<Cliui>(requireHere('cliui'));
    stringWidth ??= defaultOf<StringWidth>(requireHere('string-width'));
    return { cliui, stringWidth };
  };
  const mainFilename = root.substring(0, root.lastIndexOf('node_modules'));
  const shim = {
    assert: { notStrictEqual, strictEqual },
    cliui: (opts: unknown) => renderer().cliui(opts),
    findUp: findUp.default,
    getEnv: (key: string) => process.env[key],
    inspect,
    getProcessArgvBin: argvBin.getProcessArgvBin,
    mainFilename: mainFilename || process.cwd(),
    Parser: parser.default,
    path: { basename, dirname, extname, relative, resolve, join },
    process: {
      argv: () => process.argv,
      cwd: process.cwd,
      emitWarning: (warning: string, type: string) => process.emitWarning(warning, type),
      execPath: () => process.execPath,
      exit: (code: number) => process.exit(code),
      nextTick: process.nextTick,
      stdColumns: typeof process.stdout.columns !== 'undefined' ? process.stdout.columns : null,
    },
    readFileSync,
    readdirSync,
    require: requireHere,
    getCallerFile: () => {
      const callerFile = getCallerFile(3);
      return callerFile.startsWith('file://') ? fileURLToPath(callerFile) : callerFile;
    },
    stringWidth: (text: string) => renderer().stringWidth(text),
    y18n: (i18n.default as (opts: unknown) => unknown)({ directory: join(root, 'locales'), updateFiles: false }),
  };
  return YargsFactory(shim);
}
