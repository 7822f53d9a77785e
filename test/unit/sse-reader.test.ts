import { setImmediate as turn } from 'node:timers/promises';
import { PassThrough } from 'node:stream';
import { ReadableStream } from 'node:stream/web';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/log.js';
import type { JsonRpcMessage } from '../../src/jsonrpc/messages.js';
import { HOST_BACKLOG_BYTES, StdioHost } from '../../src/relay/stdio.js';
import { readSseStream } from '../../src/http/sse-reader.js';

const event = (i: number) => new TextEncoder().encode(`data: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/message', params: { i } })}\n\n`);

/** A body of `n` events that counts how many the reader has pulled. */
function countedBody(n: number) {
  let pulled = 0;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (pulled === n) return controller.close();
        controller.enqueue(event(pulled++));
      },
    },
    { highWaterMark: 0 },
  );
  return { body, pulled: () => pulled };
}

describe('readSseStream backpressure from the host', () => {
  it('reads nothing more from the server while the host is behind, and everything once it catches up', async () => {
    const { body, pulled } = countedBody(50);
    const seen: number[] = [];
    let release: () => void = () => {};
    let behind: Promise<void> | undefined;
    const reading = readSseStream(body, {
      idleMs: 0,
      onMessage: (m: JsonRpcMessage) => {
        seen.push((m.params as { i: number }).i);
        // After the third message the host falls behind.
        if (seen.length === 3) behind = new Promise<void>((resolve) => (release = resolve));
      },
      onBadEvent: () => {},
      ready: () => behind,
    });
    for (let i = 0; i < 20; i++) await turn();
    expect(seen).toEqual([0, 1, 2]);
    expect(pulled()).toBe(3);
    behind = undefined;
    release();
    const outcome = await reading;
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(outcome.events).toBe(50);
  });

  it('a wait for the host does not count as the server being silent (idle timeout)', async () => {
    const { body } = countedBody(2);
    let release: () => void = () => {};
    const behind = new Promise<void>((resolve) => (release = resolve));
    let waits = 0;
    const reading = readSseStream(body, {
      idleMs: 20,
      onMessage: () => {},
      onBadEvent: () => {},
      ready: () => (waits++ === 1 ? behind : undefined),
    });
    // Far longer than idleMs passes while the host is behind.
    await new Promise((r) => setTimeout(r, 200));
    release();
    const outcome = await reading;
    expect(outcome.idle).toBe(false);
    expect(outcome.events).toBe(2);
  });

  it('a shutdown while waiting for the host ends the read', async () => {
    const { body } = countedBody(5);
    const stop = new AbortController();
    const reading = readSseStream(body, {
      idleMs: 0,
      signal: stop.signal,
      onMessage: () => {},
      onBadEvent: () => {},
      ready: () => new Promise<void>(() => {}),
    });
    await turn();
    stop.abort();
    const outcome = await reading;
    expect(outcome.events).toBe(0);
  });
});

describe('StdioHost.whenDrained', () => {
  it('is undefined while the host keeps up, and a promise that resolves when it catches up', async () => {
    const output = new PassThrough();
    const host = new StdioHost(new PassThrough(), output, { message: () => {}, close: () => {} }, silentLogger());
    host.start();
    expect(host.whenDrained()).toBeUndefined();
    const big = Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { t: 'x'.repeat(HOST_BACKLOG_BYTES) } }));
    host.send({ jsonrpc: '2.0', id: 1, result: {} }, [big]);
    const wait = host.whenDrained();
    expect(wait).toBeInstanceOf(Promise);
    expect(host.whenDrained()).toBe(wait);
    let done = false;
    void wait!.then(() => (done = true));
    await turn();
    expect(done).toBe(false);
    // The host reads everything.
    output.resume();
    await wait;
    expect(host.whenDrained()).toBeUndefined();
  });
});
