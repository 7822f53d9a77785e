/**
 * The memory bound in front of the SDK's EventSource (legacy HTTP+SSE): bytes pass unchanged
 * whatever the chunking and line endings, and a line or an event over the bound errors the stream.
 * Seeded; the seed is in every failure message (replay with MCP_RELAY_SEED=<n>).
 */
import { describe, expect, it } from 'vitest';
import { boundEventStream } from '../../src/http/sse-guard.js';
import { prng, testSeed } from '../helpers/prng.js';

const SEED = testSeed();


function chunked(bytes: Buffer, rand: () => number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; ) {
    const n = 1 + Math.floor(rand() * 40);
    out.push(new Uint8Array(bytes.subarray(i, i + n)));
    i += n;
  }
  return out;
}

async function pass(chunks: Uint8Array[], max: number): Promise<{ out: Buffer; error?: unknown }> {
  const res = boundEventStream(new Response(new ReadableStream({ start: (c) => (chunks.forEach((x) => c.enqueue(x)), c.close()) }), { headers: { 'content-type': 'text/event-stream' } }), max);
  const reader = res.body!.getReader();
  const parts: Buffer[] = [];
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(Buffer.from(r.value));
  } catch (error) {
    return { out: Buffer.concat(parts), error };
  }
  return { out: Buffer.concat(parts) };
}

describe('boundEventStream', () => {
  it(`passes streams of events under the bound unchanged, in any chunking and line ending (seed ${SEED})`, async () => {
    const rand = prng(SEED).next;
    for (let n = 0; n < 300; n++) {
      const eol = ['\n', '\r\n', '\r'][Math.floor(rand() * 3)]!;
      const events = Array.from({ length: 1 + Math.floor(rand() * 20) }, () =>
        Array.from({ length: 1 + Math.floor(rand() * 3) }, () => `data: ${'x'.repeat(Math.floor(rand() * 60))}`).join(eol) + eol + eol,
      );
      const stream = Buffer.from(`: hello${eol}${eol}${events.join('')}`);
      const { out, error } = await pass(chunked(stream, rand), 300);
      expect(error, `seed ${SEED}, case ${n}`).toBeUndefined();
      expect(out.equals(stream), `seed ${SEED}, case ${n}`).toBe(true);
    }
  });

  it(`errors a line that never ends, and an event of many lines, once past the bound (seed ${SEED})`, async () => {
    const rand = prng(SEED + 1).next;
    const line = await pass(chunked(Buffer.from(`data: ${'y'.repeat(5000)}`), rand), 1000);
    expect(String(line.error), `seed ${SEED}`).toMatch(/an SSE event of over 1000 bytes/);
    expect(line.out.length).toBeLessThanOrEqual(1040);
    const many = await pass(chunked(Buffer.from(`data: ${'z'.repeat(90)}\n`.repeat(50)), rand), 1000);
    expect(String(many.error), `seed ${SEED}`).toMatch(/an SSE event of over 1000 bytes/);
  });
});
