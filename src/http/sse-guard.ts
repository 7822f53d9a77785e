/**
 * A memory bound for an event stream parsed by someone else: the legacy HTTP+SSE transport hands
 * its body to the SDK's EventSource, which buffers a line, and an event, for as long as the server
 * keeps sending. This passes whole events through unchanged and skips (reports, and does not pass
 * on) an event that passes `maxBytes`, holding at most that much meanwhile. Skipping rather than
 * failing the stream keeps the legacy session alive (the relay cannot re-establish one after the
 * SDK reconnects); the request the skipped event answered is answered when its budget runs out.
 */
import { tooLarge } from './bounded.js';

const LF = 0x0a;
const CR = 0x0d;

/** `res` with its body passed through the bound (a response without a body is returned as it is). */
export function boundEventStream(res: Response, maxBytes: number, onDropped: (message: string) => void): Response {
  if (!res.body) return res;
  const body = res.body.pipeThrough(boundedEvents(maxBytes, (bytes) => onDropped(tooLarge('an SSE event', bytes, maxBytes).message)));
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/**
 * Pass an SSE byte stream on one whole event at a time (an event ends at a blank line), holding at
 * most `maxBytes` of it: an event over that is dropped (`onDropped`) and the stream goes on, since
 * on the legacy transport one stream carries every answer of the session. The request whose answer
 * was dropped is answered by its budget (--timeout). Line ends are found with indexOf.
 */
function boundedEvents(maxBytes: number, onDropped: (bytes: number) => void): TransformStream<Uint8Array, Uint8Array> {
  let held: Uint8Array[] = [];
  let heldBytes = 0;
  let dropping = false;
  /** Bytes of the current line so far, and the byte before the current chunk (for a CRLF split across chunks). */
  let lineBytes = 0;
  let prev = LF;
  const keep = (piece: Uint8Array) => {
    if (dropping || piece.length === 0) return;
    held.push(piece);
    heldBytes += piece.length;
    if (heldBytes > maxBytes) {
      dropping = true;
      held = [];
    }
  };
  return new TransformStream({
    transform(chunk, controller) {
      let start = 0;
      for (let nl = chunk.indexOf(LF); nl !== -1; nl = chunk.indexOf(LF, start)) {
        const line = lineBytes + nl - start;
        keep(chunk.subarray(start, nl + 1));
        lineBytes = 0;
        start = nl + 1;
        const blank = line === 0 || (line === 1 && (nl > 0 ? chunk[nl - 1] : prev) === CR);
        if (!blank) continue;
        if (dropping) onDropped(heldBytes);
        else for (const piece of held) controller.enqueue(piece);
        held = [];
        heldBytes = 0;
        dropping = false;
      }
      keep(chunk.subarray(start));
      lineBytes += chunk.length - start;
      if (chunk.length > 0) prev = chunk[chunk.length - 1]!;
    },
    flush(controller) {
      if (!dropping) for (const piece of held) controller.enqueue(piece);
    },
  });
}
