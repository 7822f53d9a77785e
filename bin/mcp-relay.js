#!/usr/bin/env node
// Executable shim: everything lives in dist/bundle/ (src/ bundled by bin/build.mjs, run by
// `npm run build` and at `npm pack`), which has every dependency inside it.
import module from 'node:module';
import { join } from 'node:path';
import envPaths from '../dist/bundle/env-paths.js';

// Node >= 22.1 can keep V8's compiled code of our modules on disk so that later starts skip
// compiling them (a host starts one relay per server, often per session). Kept in the user's cache
// directory (~/.cache/mcp-relay/node-compile-cache on Linux), not in Node's default of the shared
// temp directory, where another user's copy would be unwritable and where the demo must leave
// nothing behind. NODE_COMPILE_CACHE still wins (Node turns the cache on before this runs), and
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. Node 20 has no such function and starts as before.
// A cache never stops the relay: failures are ignored. It must be on before the CLI is imported.
if (typeof module.enableCompileCache === 'function') {
  try {
    module.enableCompileCache(join(envPaths('mcp-relay', { suffix: '' }).cache, 'node-compile-cache'));
  } catch {
    // no cache: the relay starts as on Node 20
  }
}

const { main } = await import('../dist/bundle/main.js');
main(process.argv.slice(2));
