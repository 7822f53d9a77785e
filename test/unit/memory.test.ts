import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { releaseGarbage } from '../../src/memory.js';

const MiB = 1024 * 1024;
/** Bytes held in ArrayBuffers (Buffers): counted down as soon as a collection frees them. */
const arrayBuffers = () => process.memoryUsage().arrayBuffers;

describe('releaseGarbage', () => {
  it('frees the buffers of a message that is gone at once (V8 alone waits for ~64 MB of them)', async () => {
    let held = 0;
    const base = arrayBuffers();
    (() => {
      const chunks = Array.from({ length: 64 }, () => Buffer.alloc(64 * 1024, 0x41));
      held = chunks.length > 0 ? arrayBuffers() - base : 0;
    })();
    expect(held).toBeGreaterThanOrEqual(4 * MiB);
    await turn();
    releaseGarbage();
    expect(arrayBuffers() - base).toBeLessThan(MiB);
  });

  it('leaves buffers that are still referenced alone', async () => {
    const chunks = Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024, 0x42));
    const base = arrayBuffers();
    await turn();
    releaseGarbage();
    expect(arrayBuffers()).toBeGreaterThanOrEqual(base);
    expect(chunks[15]![65535]).toBe(0x42);
  });
});
