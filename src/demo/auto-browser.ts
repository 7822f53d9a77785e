/**
 * A stand-in for the user's browser that approves the consent page: the demo sets
 * `BROWSER="<node> <this file>"` for the relay when no real browser can open, so the relay
 * launches it exactly as it would launch a browser (URL as the last argument, no shell).
 *
 * It walks the authorization URL with {@link followingOpener} (GET the consent page, press
 * Approve, follow the redirect to the relay's loopback callback) and exits 0, or 1 with the
 * reason on stderr. When `MCP_RELAY_DEMO_BROWSER_REPORT` names a file, it appends one JSON line
 * per event there (pages as host and path only: query strings carry codes and state).
 *
 * Usage: node dist/demo/auto-browser.js <authorization-url>
 */
import { appendFileSync } from 'node:fs';
import { describeError } from '../errors.js';
import { scrub } from '../log.js';
import { followingOpener } from './browser.js';
import { BROWSER_REPORT_ENV, type BrowserReport } from './run-observe.js';

function report(event: BrowserReport): void {
  const file = process.env[BROWSER_REPORT_ENV];
  if (file) appendFileSync(file, `${JSON.stringify(event)}\n`, { mode: 0o600 });
}

/** Host and path of a URL, without query or fragment (they carry the code and state). */
function page(url: string): string {
  try {
    const u = new URL(url);
    return `${u.host}${u.pathname}`;
  } catch {
    return '(unparseable URL)';
  }
}

async function main(argv: string[]): Promise<number> {
  const url = argv[argv.length - 1];
  if (argv.length === 0 || !url) {
    process.stderr.write('usage: auto-browser <authorization-url>\n');
    return 2;
  }
  report({ event: 'launched' });
  try {
    await followingOpener({ onVisit: (visited) => report({ event: 'visit', page: page(visited) }) })(url);
    report({ event: 'done' });
    return 0;
  } catch (err) {
    const message = scrub(describeError(err));
    report({ event: 'error', message });
    process.stderr.write(`auto-browser: ${message}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
