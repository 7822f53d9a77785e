/**
 * yargs' parts from its files in node_modules (see yargs-lean.ts): what runs from a git clone
 * with dist/ and the unit tests. The bundled build uses yargs-parts-bundled.ts instead.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Cliui, StringWidth, YargsParts } from './yargs-lean.js';

/** A required ES module: its namespace, or its "module.exports" export itself (cliui has one). */
function defaultOf<T>(loaded: unknown): T {
  return (typeof loaded === 'function' ? loaded : (loaded as { default: T }).default) as T;
}

export async function loadYargsParts(preloadHelp: boolean): Promise<YargsParts> {
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
  let cliui = help?.[0].default as Cliui | undefined;
  let stringWidth = help?.[1].default as StringWidth | undefined;
  return {
    YargsFactory: factory.YargsFactory as YargsParts['YargsFactory'],
    getProcessArgvBin: argvBin.getProcessArgvBin as () => string,
    Parser: parser.default,
    y18n: i18n.default as YargsParts['y18n'],
    findUp: findUp.default,
    getCallerFile: callerFile.default as (n: number) => string,
    // Help rendered without being asked for on the command line: load it now. cliui and string-width
    // are ES modules, and require() of one works from Node 20.19 and 22.12 (unflagged there); on
    // 22.0-22.11 it throws ERR_REQUIRE_ESM, which is why package.json's engines skips those releases
    // (test/unit/yargs-lean.test.ts, "loaded on first use", fails on 22.11).
    renderer: () => {
      cliui ??= defaultOf<Cliui>(requireHere('cliui'));
      stringWidth ??= defaultOf<StringWidth>(requireHere('string-width'));
      return { cliui, stringWidth };
    },
    localesDir: join(root, 'locales'),
    mainFilename: root.substring(0, root.lastIndexOf('node_modules')),
    require: requireHere,
  };
}
