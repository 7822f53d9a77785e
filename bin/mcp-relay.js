#!/usr/bin/env node
// Executable shim: everything lives in dist/ (built from src/ by `npm run build`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2));
