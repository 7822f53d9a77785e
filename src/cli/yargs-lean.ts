/**
 * yargs without its help renderer until help is wanted.
 *
 * The command lines plain-argv.ts leaves to yargs (subcommands, help, anything not plainly the
 * relay's flags) are parsed with yargs, and `import('yargs')` loads
 * cliui and string-width (with its emoji tables) for the help screen: ~100 ms of a relay's start
 * and ~5 MB of its resident memory, measured by `npm run bench` (docs/performance.md). This builds
 * the same yargs from its own factory with the platform shim yargs ships for ESM
 * (yargs/lib/platform-shims/esm.mjs, MIT), except that the help renderer is loaded ahead of the
 * parse when the command line asks for help, and on first use otherwise.
 *
 * The parts come from yargs-parts.ts (yargs' files in node_modules, reached by path since the
 * factory is not in yargs' export map) or, in the bundled build, from yargs-parts-bundled.ts
 * (bin/build.mjs swaps the module). If that ever fails (a yargs release that moves them), the
 * plain `import('yargs')` is used: slower, never broken.
 */
import { notStrictEqual, strictEqual } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import type { Argv } from 'yargs';
import { loadYargsParts } from './yargs-parts.js';

export type YargsFn = (argv: string[]) => Argv;
export type Cliui = (opts: unknown) => unknown;
export type StringWidth = (text: string) => number;

/** yargs' factory and what its platform shim needs, wherever they were loaded from. */
export interface YargsParts {
  YargsFactory: (shim: unknown) => YargsFn;
  getProcessArgvBin: () => string;
  Parser: unknown;
  y18n: (opts: unknown) => unknown;
  findUp: unknown;
  getCallerFile: (n: number) => string;
  /** The help renderer if it was preloaded, else a synchronous load on first use. */
  renderer: () => { cliui: Cliui; stringWidth: StringWidth };
  /** yargs' locales folder (a missing one leaves yargs' English strings). */
  localesDir: string;
  /** Where yargs looks for the application's package.json. */
  mainFilename: string;
  require: NodeJS.Require;
}

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

/** The lean build itself (exported for tests; use loadYargs). */
export async function leanYargs(preloadHelp: boolean): Promise<YargsFn> {
  const parts = await loadYargsParts(preloadHelp);
  const shim = {
    assert: { notStrictEqual, strictEqual },
    cliui: (opts: unknown) => parts.renderer().cliui(opts),
    findUp: parts.findUp,
    getEnv: (key: string) => process.env[key],
    inspect,
    getProcessArgvBin: parts.getProcessArgvBin,
    mainFilename: parts.mainFilename || process.cwd(),
    Parser: parts.Parser,
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
    require: parts.require,
    getCallerFile: () => {
      const callerFile = parts.getCallerFile(3);
      return callerFile.startsWith('file://') ? fileURLToPath(callerFile) : callerFile;
    },
    stringWidth: (text: string) => parts.renderer().stringWidth(text),
    y18n: parts.y18n({ directory: parts.localesDir, updateFiles: false }),
  };
  return parts.YargsFactory(shim);
}
