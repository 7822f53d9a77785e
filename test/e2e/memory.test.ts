/**
 * releaseGarbage (src/memory.ts), in a plain node process of its own: the test runner's workers
 * collect garbage on their own schedule, which would hide whether the relay's call does anything.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const MEMORY_MODULE = pathToFileURL(resolve(import.meta.dirname, '../../dist/memory.js')).href;

/**
 * Allocate 4 MiB of 64 KiB chunks (a forwarded message), drop them, optionally call
 * releaseGarbage, and report the ArrayBuffer bytes still held after a few turns of the loop.
 */
function heldAfter(release: boolean): { before: number; after: number } {
  const script = `
import { releaseGarbage } from ${JSON.stringify(MEMORY_MODULE)};
const ab = () => process.memoryUsage().arrayBuffers;
const base = ab();
let before = 0;
(() => { const chunks = Array.from({ length: 64 }, () => Buffer.alloc(65536, 65)); before = chunks.length && ab() - base; })();
setImmediate(async () => {
  if (${release}) releaseGarbage();
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 10));
  console.log(JSON.stringify({ before, after: ab() - base }));
});`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(out.status).toBe(0);
  return JSON.parse(out.stdout) as { before: number; after: number };
}

describe('releaseGarbage', () => {
  it('frees the chunks of a message that has gone, which V8 alone leaves for later', () => {
    const MiB = 1024 * 1024;
    const idle = heldAfter(false);
    expect(idle.before).toBeGreaterThanOrEqual(4 * MiB);
    expect(idle.after).toBeGreaterThanOrEqual(4 * MiB);
    const released = heldAfter(true);
    expect(released.before).toBeGreaterThanOrEqual(4 * MiB);
    expect(released.after).toBeLessThan(MiB);
  });
});
