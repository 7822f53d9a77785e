/**
 * Writing to stderr without ever blocking the relay. Hosts pipe a server's stderr into their
 * logs, and some never read it: Node writes to a pipe on fd 2 synchronously, so once the pipe
 * buffer is full every log line would freeze the relay, and with it the protocol on stdout.
 * For a pipe or socket we open fd 2 as a non-blocking socket and drop lines (counting them)
 * while more than MAX_BACKLOG_BYTES wait; a terminal or a file keeps the plain synchronous write.
 */
import { fstatSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';

/** Log text allowed to wait for a slow reader before lines are dropped. */
const MAX_BACKLOG_BYTES = 1024 * 1024;

export interface StderrWriter {
  write(text: string): boolean;
  /** Bytes still waiting to be written. */
  readonly pending: number;
}

let shared: StderrWriter | undefined;

export function stderrWriter(): StderrWriter {
  if (shared) return shared;
  let socket: Socket | undefined;
  if (process.platform === 'win32') {
    // Windows pipes are not opened as sockets here; process.stderr, with the same backlog cap.
    shared = {
      write(text: string) {
        if (process.stderr.writableLength > MAX_BACKLOG_BYTES) return true;
        return process.stderr.write(text);
      },
      get pending() {
        return process.stderr.writableLength;
      },
    };
    return shared;
  }
  try {
    const st = fstatSync(2);
    if (st.isFIFO() || st.isSocket()) {
      socket = new Socket({ fd: 2, readable: false, writable: true });
      socket.on('error', () => {
        // the reader went away: nothing more can be logged there, and that must not crash us
      });
      socket.unref();
    }
  } catch {
    socket = undefined;
  }
  if (!socket) {
    shared = {
      write(text: string) {
        try {
          writeSync(2, text);
        } catch {
          // stderr closed: drop the line
        }
        return true;
      },
      pending: 0,
    };
    return shared;
  }
  const s = socket;
  let dropped = 0;
  shared = {
    write(text: string) {
      if (s.destroyed) return true;
      if (s.writableLength > MAX_BACKLOG_BYTES) {
        dropped++;
        return true;
      }
      if (dropped) {
        s.write(
          `${JSON.stringify({ level: 40, time: Date.now(), name: 'mcp-relay', msg: `${dropped} log lines dropped: nobody is reading this process's stderr` })}\n`,
        );
        dropped = 0;
      }
      return s.write(text);
    },
    get pending() {
      return s.destroyed ? 0 : s.writableLength;
    },
  };
  return shared;
}

/** Resolve once queued stderr text is written, or after `maxMs` (a host may never read it). */
export async function drainStderr(maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  while (shared && shared.pending > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10).unref());
  }
}
