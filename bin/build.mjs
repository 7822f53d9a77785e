#!/usr/bin/env node
// The published build: src/ bundled by esbuild into dist/bundle/, which is all that bin/mcp-relay.js
// runs and all that the package ships (package.json "files"), so an install downloads no
// dependencies at all. `npm run build` runs it after tsc (which still typechecks and emits dist/
// for the tests that import single modules); `prepare` runs that build, so `npm pack`, `npm publish`
// and an install from a git clone all get it. Not part of the package.
//
// Decisions (docs/performance.md, "Cold install"):
// - ESM, platform node, target node20, code splitting: every `import()` in src/ stays a separate
//   chunk loaded only when used (the login and account commands, the demo, doctor, undici, the
//   legacy SSE transport, `open`, yargs).
// - No source maps in the package (tsc's dist/ keeps them for development).
// - Our own code is NOT minified: the stack traces pino writes to a log file keep our function
//   names and real line numbers, readable in the shipped file. Third-party modules are minified
//   (with their names kept, since some code reads constructor names): that is most of the bytes.
// - The SDK is bundled from the paths src/ imports; its server side (express, hono, ajv, cors)
//   must stay out of everything the relay loads: `--metafile` makes that checkable
//   (test/e2e/package.test.ts reads dist/bundle-meta.json).
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const OUT_DIR = join(ROOT, 'dist', 'bundle');

/** Minify third-party modules only (see the decisions above). */
const minifyDependencies = {
  name: 'minify-dependencies',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/].*\.[cm]?js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const { code } = await esbuild.transform(source, {
        loader: 'js',
        minify: true,
        keepNames: true,
        target: 'node20',
        legalComments: 'none',
        sourcefile: args.path,
      });
      return { contents: code, loader: 'js' };
    });
  },
};

/** yargs' internal files and its dependencies, as src/cli/yargs-parts.ts finds them in node_modules. */
const YARGS_INTERNAL = {
  factory: './build/lib/yargs-factory.js',
  'process-argv': './build/lib/utils/process-argv.js',
  'yargs-parser': 'yargs-parser',
  y18n: 'y18n',
  escalade: 'escalade/sync',
  'get-caller-file': 'get-caller-file',
  cliui: 'cliui',
  'string-width': 'string-width',
};

/**
 * The lean yargs of src/cli/yargs-lean.ts, bundled: its parts module is swapped for
 * yargs-parts-bundled.ts, whose `yargs-internal:` imports resolve here (the factory is not in
 * yargs' export map, so it is reached by path, as yargs-parts.ts does at run time).
 */
const yargsInternal = {
  name: 'yargs-internal',
  setup(build) {
    const yargsRoot = join(ROOT, 'node_modules', 'yargs');
    build.onResolve({ filter: /^\.\/yargs-parts\.js$/ }, (args) =>
      args.importer.endsWith(join('src', 'cli', 'yargs-lean.ts')) ? { path: join(ROOT, 'src', 'cli', 'yargs-parts-bundled.ts') } : undefined,
    );
    build.onResolve({ filter: /^yargs-internal:/ }, async (args) => {
      const target = YARGS_INTERNAL[args.path.slice('yargs-internal:'.length)];
      if (!target) return { errors: [{ text: `unknown ${args.path}` }] };
      if (target.startsWith('./')) return { path: join(yargsRoot, target) };
      const found = await build.resolve(target, { resolveDir: yargsRoot, kind: args.kind });
      return found.errors.length > 0 ? { errors: found.errors } : { path: found.path };
    });
  },
};

/**
 * CommonJS dependencies (pino, proper-lockfile, undici...) call require() for Node's modules; in an
 * ES module bundle esbuild routes those calls to a `require` it expects in scope.
 */
const REQUIRE_SHIM = "import { createRequire as __mcpRelayCreateRequire } from 'node:module';\nconst require = __mcpRelayCreateRequire(import.meta.url);";

/** The notices file shipped beside the chunks (minifying drops the packages' license comments). */
export const LICENSES_FILE = 'THIRD-PARTY-LICENSES.txt';

/**
 * Every bundled package's name, version, license and license text, as their licenses (MIT, ISC,
 * BSD, Apache-2.0...) ask of copies that include them.
 */
async function writeLicenses(metafile) {
  const roots = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(input);
    if (m) roots.add(m[1]);
  }
  const sections = [];
  for (const root of [...roots].sort()) {
    const pkg = JSON.parse(await readFile(join(ROOT, root, 'package.json'), 'utf8'));
    const file = (await readdir(join(ROOT, root))).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
    const text = file ? (await readFile(join(ROOT, root, file), 'utf8')).trim() : `(no license file; package.json says ${pkg.license ?? 'nothing'})`;
    sections.push(`${pkg.name}@${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}`);
  }
  const head = 'mcp-relay bundles the following packages (dist/bundle/). Their notices:';
  await writeFile(join(OUT_DIR, LICENSES_FILE), `${head}\n\n${sections.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`);
}

export async function build() {
  await rm(OUT_DIR, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: {
      // The CLI (bin/mcp-relay.js imports it).
      main: 'src/cli/main.ts',
      // The demo's stand-in browser, started as `node <file>` (src/demo/run-relay.ts finds it beside the bundle).
      'auto-browser': 'src/demo/auto-browser.ts',
      // env-paths for bin/mcp-relay.js, which needs it before the CLI is imported (compile cache).
      'env-paths': 'node_modules/env-paths/index.js',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    splitting: true,
    outdir: OUT_DIR,
    // Flat: modules find package.json and bin/ by paths relative to their own file (two levels up).
    sourcemap: false,
    legalComments: 'none',
    metafile: true,
    // Native code cannot be bundled: the OS keychain module stays an (optional) dependency, found
    // in node_modules beside the package when the keychain is used.
    external: ['@napi-rs/keyring'],
    banner: { js: REQUIRE_SHIM },
    plugins: [yargsInternal, minifyDependencies],
    logLevel: 'warning',
  });
  await writeLicenses(result.metafile);
  // For checks only (test/e2e/package.test.ts); package.json "files" leaves it out.
  await writeFile(join(ROOT, 'dist', 'bundle-meta.json'), JSON.stringify(result.metafile));
  return result.metafile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await build();
