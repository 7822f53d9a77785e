/**
 * A push parser for `text/event-stream` that works on bytes (WHATWG HTML, "Server-sent events",
 * §9.2.6 "Interpreting an event stream"), so a multi-MiB `data:` line is framed by one scan of
 * each network chunk, never copied, and its bytes can go to the host as they came.
 *
 * Ours rather than eventsource-parser's (which the relay used before) because that one takes
 * strings: every answer had to be decoded to a string first, re-joined per chunk and then
 * encoded again for stdout. `npm run bench` measured those steps as most of the relay's cost on
 * large answers (docs/performance.md). Field handling follows the spec exactly and a test feeds
 * both parsers the same streams in random chunkings and compares what they report.
 */

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
/** Longer than any field name the parser knows ("retry"), so a colon is looked for only this far. */
const MAX_FIELD_NAME_BYTES = 64;

export interface SseEvent {
  /** The `event` field, or undefined for the default type ("message"). */
  event: string | undefined;
  /**
   * The data buffer without its final LF, in order: the bytes of the one `data` line as the
   * network chunks that carried it (a multi-MiB line is never copied into one Buffer), or the
   * lines joined with LF.
   */
  data: Buffer[];
  /** Total bytes in `data`. */
  dataBytes: number;
  /** Number of `data` lines; with one, `data` holds no line break and can be written to stdio as it is. */
  dataLines: number;
  /** The last event ID after this event (the `id` field of this or an earlier event). */
  id: string | undefined;
}

export interface SseHandlers {
  onEvent(event: SseEvent): void;
  /** A `retry` field: the reconnection time in ms. */
  onRetry?(ms: number): void;
  /** A line, or an event's data, longer than the limit was dropped together with its event. */
  onOversized?(bytes: number): void;
}

export interface SseParser {
  /** Feed the next chunk of the body. Events are reported synchronously from here. */
  feed(chunk: Uint8Array): void;
  /** The last event ID as of the last complete event, dispatched or not (for Last-Event-ID). */
  readonly lastEventId: string | undefined;
  /** Bytes held for the line and the event being built (what a memory budget must count). */
  readonly bufferedBytes: number;
}

/**
 * Create a parser. `maxLineBytes` bounds memory against a server that never ends a line, or
 * never ends an event: a longer line, or an event whose data lines add up to more, is dropped
 * together with its event (reported through onOversized).
 */
export function createSseParser(handlers: SseHandlers, maxLineBytes: number): SseParser {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let oversized = false;
  /** The last chunk ended in CR: an LF at the start of the next one belongs to that line end. */
  let afterCr = false;
  /** The stream's first bytes, held until it is clear whether they are a byte order mark. */
  let head: Buffer | undefined = Buffer.alloc(0);
  /** The `data` lines of the event being built, each as its segments. */
  let dataLines: Buffer[][] = [];
  /** Bytes in dataLines. */
  let dataBytes = 0;
  let eventType: string | undefined;
  let lastEventId: string | undefined;
  /** lastEventId as of the last blank line: what a resumption may claim to have seen. */
  let committedId: string | undefined;
  /** An oversized line poisoned the event being built: drop it at its blank line. */
  let dropEvent = false;

  /** One line, as the segments it arrived in (`bytes` in all). */
  const field = (segments: Buffer[], bytes: number) => {
    if (bytes === 0) {
      dispatch();
      return;
    }
    // The field name and colon are in the first segment unless a chunk ended right inside them.
    while (segments.length > 1 && segments[0]!.length < MAX_FIELD_NAME_BYTES && segments[0]!.indexOf(COLON) === -1) {
      segments = [Buffer.concat([segments[0]!, segments[1]!]), ...segments.slice(2)];
    }
    const line = segments[0]!;
    if (line[0] === COLON) return; // a comment (keep-alive)
    const colon = line.indexOf(COLON);
    if (colon === -1 && segments.length > 1) return; // a long line without a colon names no known field
    const nameEnd = colon === -1 ? line.length : colon;
    let valueStart = colon === -1 ? line.length : colon + 1;
    let rest = segments.slice(1);
    // One space after the colon is dropped, also when it starts the next segment.
    if (valueStart < line.length && line[valueStart] === SPACE) valueStart++;
    else if (colon !== -1 && valueStart === line.length && rest[0]?.[0] === SPACE) rest = [rest[0].subarray(1), ...rest.slice(1)];
    const name = line.toString('latin1', 0, nameEnd);
    if (name !== 'data' && segments.length > 1) {
      // Only data lines are worth keeping in pieces; the others are short.
      field([Buffer.concat(segments, bytes)], bytes);
      return;
    }
    switch (name) {
      case 'data': {
        if (dropEvent) break;
        const value = [line.subarray(valueStart), ...rest].filter((b) => b.length > 0);
        dataBytes += value.reduce((n, b) => n + b.length, 0) + 1;
        if (dataBytes > maxLineBytes) {
          handlers.onOversized?.(dataBytes);
          dataLines = [];
          dataBytes = 0;
          dropEvent = true;
          break;
        }
        dataLines.push(value);
        break;
      }
      case 'event':
        eventType = line.toString('utf8', valueStart);
        break;
      case 'id': {
        const id = line.toString('utf8', valueStart);
        // §9.2.6: an id containing NULL is ignored.
        if (!id.includes('\0')) lastEventId = id;
        break;
      }
      case 'retry': {
        const value = line.toString('latin1', valueStart);
        if (/^[0-9]+$/.test(value)) handlers.onRetry?.(Number(value));
        break;
      }
      default:
        break; // unknown fields are ignored
    }
  };

  /** A blank line: dispatch the event built so far (§9.2.6 "dispatch the event"). */
  const dispatch = () => {
    committedId = lastEventId;
    const lines = dataLines;
    const type = eventType;
    dataLines = [];
    dataBytes = 0;
    eventType = undefined;
    if (dropEvent) {
      dropEvent = false;
      return;
    }
    // An event whose data buffer is empty is not dispatched (the last event ID still counts).
    if (lines.length === 0) return;
    const data = lines.length === 1 ? lines[0]! : [joinLines(lines)];
    const bytes = data.reduce((n, b) => n + b.length, 0);
    handlers.onEvent({ event: type, data, dataBytes: bytes, dataLines: lines.length, id: lastEventId });
  };

  const endLine = (tail: Buffer) => {
    if (!oversized && partBytes + tail.length > maxLineBytes) {
      handlers.onOversized?.(partBytes + tail.length);
      oversized = true;
    }
    if (oversized) {
      oversized = false;
      parts = [];
      partBytes = 0;
      dataLines = [];
      dataBytes = 0;
      dropEvent = true;
      return;
    }
    const segments = parts.length === 0 ? [tail] : tail.length > 0 ? [...parts, tail] : parts;
    const bytes = partBytes + tail.length;
    parts = [];
    partBytes = 0;
    field(segments, bytes);
  };

  const keep = (piece: Buffer) => {
    if (oversized || piece.length === 0) return;
    partBytes += piece.length;
    if (partBytes > maxLineBytes) {
      handlers.onOversized?.(partBytes);
      oversized = true;
      parts = [];
      return;
    }
    parts.push(piece);
  };

  return {
    get lastEventId() {
      return committedId;
    },
    get bufferedBytes() {
      return partBytes + dataBytes;
    },
    feed(input: Uint8Array) {
      let chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
      if (head) {
        // §9.2.6: one leading U+FEFF BYTE ORDER MARK is ignored (it may arrive split across chunks).
        head = Buffer.concat([head, chunk]);
        const n = Math.min(head.length, BOM.length);
        if (head.subarray(0, n).equals(BOM.subarray(0, n))) {
          if (head.length < BOM.length) return;
          chunk = head.subarray(BOM.length);
        } else {
          chunk = head;
        }
        head = undefined;
      }
      let start = 0;
      if (afterCr && chunk.length > 0) {
        afterCr = false;
        if (chunk[0] === LF) start = 1;
      }
      while (start < chunk.length) {
        const end = nextBreak(chunk, start);
        if (end === -1) {
          keep(chunk.subarray(start));
          return;
        }
        endLine(chunk.subarray(start, end));
        if (chunk[end] === CR) {
          if (end + 1 === chunk.length) {
            afterCr = true;
            return;
          }
          start = chunk[end + 1] === LF ? end + 2 : end + 1;
        } else {
          start = end + 1;
        }
      }
    },
  };
}

/** The index of the next CR or LF at or after `from`, or -1. Two memchr-speed scans, not a byte loop. */
function nextBreak(chunk: Buffer, from: number): number {
  const lf = chunk.indexOf(LF, from);
  // A CR can only come before the LF (or anywhere when there is none); search just that far.
  const cr = lf === -1 ? chunk.indexOf(CR, from) : chunk.subarray(from, lf).indexOf(CR);
  if (cr === -1) return lf;
  return lf === -1 ? cr : from + cr;
}

function joinLines(lines: Buffer[][]): Buffer {
  const withBreaks: Buffer[] = [];
  lines.forEach((line, i) => {
    if (i > 0) withBreaks.push(Buffer.from([LF]));
    withBreaks.push(...line);
  });
  return Buffer.concat(withBreaks);
}
