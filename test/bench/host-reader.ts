/**
 * An optional host-side line reader for the bench's stdio clients (`--host-reader linear`).
 *
 * The SDK's StdioClientTransport buffers stdout with `Buffer.concat` per chunk and re-scans from
 * the start (SDK 1.32 shared/stdio.js ReadBuffer), which is quadratic in a message's size: for
 * an 8 MiB answer arriving in 64 KiB pipe reads the host itself spends hundreds of ms. That cost
 * is the host's, not the bridge's, and it is the same for the relay and mcp-remote. With this
 * reader the bench can tell the two apart. It keeps the SDK's parsing (`deserializeMessage`),
 * so only the buffering differs. It replaces a private field, which is acceptable in a bench
 * and checked at runtime.
 */
import type { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { deserializeMessage } from '@modelcontextprotocol/sdk/shared/stdio.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

export type HostReader = 'sdk' | 'linear';
export const HOST_READERS: readonly HostReader[] = ['sdk', 'linear'];

const NEWLINE = 0x0a;

/** Same interface as the SDK's ReadBuffer; each byte is scanned once. */
export class LinearReadBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  private readonly ready: string[] = [];

  constructor(private readonly maxBufferSize: number) {}

  append(chunk: Buffer): void {
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl !== -1; nl = chunk.indexOf(NEWLINE, start)) {
      this.chunks.push(chunk.subarray(start, nl));
      const line = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.ready.push(line.toString('utf8').replace(/\r$/, ''));
      this.chunks = [];
      this.size = 0;
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.size += chunk.length - start;
      if (this.size > this.maxBufferSize) {
        this.clear();
        throw new Error(`ReadBuffer exceeded maximum size of ${this.maxBufferSize} bytes`);
      }
      this.chunks.push(chunk.subarray(start));
    }
  }

  readMessage(): JSONRPCMessage | null {
    const line = this.ready.shift();
    return line === undefined ? null : deserializeMessage(line);
  }

  clear(): void {
    this.chunks = [];
    this.size = 0;
    this.ready.length = 0;
  }
}

/** Swap the transport's reader for a {@link LinearReadBuffer} (call before `connect`). */
export function useLinearReader(transport: StdioClientTransport, maxBufferSize: number): void {
  const t = transport as unknown as { _readBuffer?: unknown };
  if (t._readBuffer === undefined) throw new Error('the SDK StdioClientTransport no longer has a _readBuffer; --host-reader linear needs updating');
  t._readBuffer = new LinearReadBuffer(maxBufferSize);
}
