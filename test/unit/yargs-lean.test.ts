import stockYargs from 'yargs';
import { describe, expect, it } from 'vitest';
import { leanYargs, loadYargs, type YargsFn } from '../../src/cli/yargs-lean.js';

/** A parser shaped like main.ts's, asked for help; the help text yargs would print. */
async function helpText(make: YargsFn): Promise<string> {
  const parser = make(['--help'])
    .scriptName('mcp-relay')
    .usage('Usage: $0 <server-url> [options]')
    .command('$0 <server-url>', 'Relay stdio to the remote MCP server', (y) => y.positional('server-url', { type: 'string' }))
    .option('header', { alias: 'H', type: 'string', array: true, describe: 'extra header, e.g. "X-Key: ${KEY}" (emoji width check: 🎉)' })
    .option('timeout', { type: 'number', default: 60, describe: 'seconds' })
    .epilogue('Examples follow.')
    .help()
    .alias('help', 'h')
    .wrap(80)
    .exitProcess(false);
  return new Promise((resolve, reject) => {
    void parser.parse(['--help'], {}, (err: Error | undefined, _argv: unknown, output: string) => (err ? reject(err) : resolve(output)));
  });
}

describe('lean yargs', () => {
  it('is built from the installed yargs (not the fallback) and parses like it', async () => {
    const y = await leanYargs(false);
    const args = y(['https://example.com/mcp', '--timeout', '5', '-H', 'A: 1', '-H', 'B: 2'])
      .option('timeout', { type: 'number' })
      .option('H', { type: 'string', array: true })
      .exitProcess(false)
      .parseSync();
    expect(args._).toEqual(['https://example.com/mcp']);
    expect(args.timeout).toBe(5);
    expect(args.H).toEqual(['A: 1', 'B: 2']);
  });

  it('renders the same help as stock yargs, with the renderer preloaded or loaded on first use', async () => {
    const stock = await helpText(stockYargs as unknown as YargsFn);
    expect(stock).toMatch(/--timeout/);
    expect(await helpText(await leanYargs(true))).toBe(stock);
    expect(await helpText(await leanYargs(false))).toBe(stock);
  });

  it('reports unknown options the way stock yargs does', async () => {
    const run = (y: YargsFn) =>
      new Promise<string>((resolve) => {
        y(['--nope'])
          .option('known', { type: 'boolean' })
          .strictOptions()
          .exitProcess(false)
          .fail((msg) => resolve(msg))
          .parse();
      });
    expect(await run(await loadYargs(['--nope']))).toBe(await run(stockYargs as unknown as YargsFn));
  });
});
