/**
 * A memory bound for an event stream parsed by someone else: the legacy HTTP+SSE transport hands
 * its body to the SDK's EventSource, which buffers a line, and an event, for as long as the
 * server keeps sending. This passes the bytes through unchanged and errors the stream (which the
 * EventSource reports, so the requests waiting on it get an error) once a line or an event passes
 * `maxBytes`, before the parser has held more.
 */
import { tooLarge } from './bounded.js';

const LF = 0x0a;
const CR = 0x0d;

/** `res` with its body passed through the bound (a response without a body is returned as it is). */
export function boundEventStream(res: Response, maxBytes: number): Response {
  if (!res.body) return res;
  let sinceLine = 0;
  let sinceEvent = 0;
  let afterCr = false;
  const guard = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      let start = 0;
      for (let i = 0; i < chunk.length; i++) {
        const b = chunk[i];
        if (b !== LF && b !== CR) continue;
        const lf = b === LF;
        // The LF of a CRLF ends the line the CR already ended.
        if (!(lf && afterCr && i === start)) {
          const line = sinceLine + (i - start);
          sinceEvent = line === 0 ? 0 : sinceEvent + line;
          sinceLine = 0;
        }
        afterCr = !lf;
        start = i + 1;
      }
      if (start < chunk.length) afterCr = false;
      sinceLine += chunk.length - start;
      if (sinceLine + sinceEvent > maxBytes) {
        controller.error(tooLarge('an SSE event', sinceLine + sinceEvent, maxBytes));
        return;
      }
      controller.enqueue(chunk);
    },
  });
  return new Response(res.body.pipeThrough(guard), { status: res.status, statusText: res.statusText, headers: res.headers });
}
