#!/usr/bin/env node
// Executable shim: everything lives in dist/ (built from src/ by `npm run build`).
import module from 'node:module';

// Node >= 22.1 keeps V8's compiled code of our modules on disk (in the OS temp directory, or in
// NODE_COMPILE_CACHE) so later starts skip compiling them; a host starts a relay per server and
// per session. Older Nodes have no such function and start as before. It must run before dist/
// is imported, hence the dynamic import below.
if (typeof module.enableCompileCache === 'function') module.enableCompileCache();

const { main } = await import('../dist/cli/main.js');
main(process.argv.slice(2));
