/**
 * yargs' parts inside the bundled build (bin/build.mjs puts this module in place of
 * yargs-parts.ts; never run unbundled). The `yargs-internal:` imports are resolved by the build
 * to yargs' own files and its dependencies, as yargs-parts.ts finds them in node_modules.
 *
 * The help renderer is reached with require(): esbuild evaluates a required module only at its
 * first require, so cliui and string-width (whose module body builds an Intl.Segmenter and
 * large Unicode regexes) cost nothing until help is rendered, as in yargs-lean.ts.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Cliui, StringWidth, YargsParts } from './yargs-lean.js';
import { YargsFactory } from 'yargs-internal:factory';
import { getProcessArgvBin } from 'yargs-internal:process-argv';
import Parser from 'yargs-internal:yargs-parser';
import y18n from 'yargs-internal:y18n';
import findUp from 'yargs-internal:escalade';
import getCallerFile from 'yargs-internal:get-caller-file';

/** A required ES module: its namespace, or its "module.exports" export itself. */
function defaultOf<T>(loaded: unknown): T {
  return (typeof loaded === 'function' ? loaded : (loaded as { default: T }).default) as T;
}

/** The package root (this code runs from dist/bundle/). */
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export async function loadYargsParts(preloadHelp: boolean): Promise<YargsParts> {
  let renderer: { cliui: Cliui; stringWidth: StringWidth } | undefined;
  const load = () =>
    (renderer ??= {
      cliui: defaultOf<Cliui>(require('yargs-internal:cliui')),
      stringWidth: defaultOf<StringWidth>(require('yargs-internal:string-width')),
    });
  if (preloadHelp) load();
  return {
    YargsFactory: YargsFactory as YargsParts['YargsFactory'],
    getProcessArgvBin: getProcessArgvBin as () => string,
    Parser,
    y18n: y18n as YargsParts['y18n'],
    findUp,
    getCallerFile: getCallerFile as (n: number) => string,
    renderer: load,
    // yargs' translations are not bundled: a missing folder leaves its English strings.
    localesDir: `${PACKAGE_ROOT}dist/bundle/yargs-locales`,
    mainFilename: PACKAGE_ROOT,
    require: createRequire(import.meta.url),
  };
}
