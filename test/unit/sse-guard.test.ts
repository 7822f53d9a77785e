/**
 * The memory bound in front of the SDK's EventSource (legacy HTTP+SSE): bytes pass unchanged
 * whatever the chunking and line endings, and a line or an event over the bound is skipped (the
 * stream and the events after it go on).
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

async function pass(chunks: Uint8Array[], max: number): Promise<{ out: Buffer; error?: unknown; dropped: string[] }> {
  const dropped: string[] = [];
  const res = boundEventStream(
    new Response(
      new ReadableStream({
        start: (c) => {
          for (const x of chunks) c.enqueue(x);
          c.close();
        },
      }),
      { headers: { 'content-type': 'text/event-stream' } },
    ),
    max,
    (m) => dropped.push(m),
  );
  const reader = res.body!.getReader();
  const parts: Buffer[] = [];
  try {
    for (let r = await reader.read(); !r.done; r = await reader.read()) parts.push(Buffer.from(r.value));
  } catch (error) {
    return { out: Buffer.concat(parts), error, dropped };
  }
  return { out: Buffer.concat(parts), dropped };
}

describe('boundEventStream', () => {
  it(`passes streams of events under the bound unchanged, in any chunking and line ending (seed ${SEED})`, async () => {
    const rand = prng(SEED).next;
    for (let n = 0; n < 300; n++) {
      const eol = ['\n', '\r\n'][Math.floor(rand() * 2)]!;
      const events = Array.from(
        { length: 1 + Math.floor(rand() * 20) },
        () => Array.from({ length: 1 + Math.floor(rand() * 3) }, () => `data: ${'x'.repeat(Math.floor(rand() * 60))}`).join(eol) + eol + eol,
      );
      const stream = Buffer.from(`: hello${eol}${eol}${events.join('')}`);
      const { out, error } = await pass(chunked(stream, rand), 300);
      expect(error, `seed ${SEED}, case ${n}`).toBeUndefined();
      expect(out.equals(stream), `seed ${SEED}, case ${n}`).toBe(true);
    }
  });

  it(`skips a line over the bound, and an event of many lines over it; the events after them pass (seed ${SEED})`, async () => {
    const rand = prng(SEED + 1).next;
    const line = await pass(chunked(Buffer.from(`data: ${'y'.repeat(5000)}\n\ndata: after\n\n`), rand), 1000);
    expect(line.error, `seed ${SEED}`).toBeUndefined();
    expect(line.out.toString(), `seed ${SEED}`).toBe('data: after\n\n');
    expect(line.dropped).toEqual([expect.stringMatching(/an SSE event of over 1000 bytes/)]);
    const many = await pass(chunked(Buffer.from(`${`data: ${'z'.repeat(90)}\n`.repeat(50)}\ndata: next\n\n`), rand), 1000);
    expect(many.out.toString(), `seed ${SEED}`).toBe('data: next\n\n');
    expect(many.dropped).toHaveLength(1);
  });
});
