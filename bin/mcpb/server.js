#!/usr/bin/env node
// The MCP Bundle's entry point (bin/mcpb/manifest.json, "server.entry_point"): Claude Desktop runs
// `node bin/mcpb/server.js <server-url> [header ...]`, the headers being the user configuration's
// "headers" list expanded in place, one argument each. The relay wants `--header` before each
// one, which a manifest cannot say for a list that may be empty, so this adds them and runs the
// relay's own entry point with the result.
const [url = '', ...headers] = process.argv.slice(2);
process.argv = [...process.argv.slice(0, 2), url, ...headers.flatMap((header) => ['--header', header])];
await import('../mcp-relay.js');
