/**
 * An HTTP server on a loopback address that can be closed for good at once: every open socket
 * (keep-alive, SSE streams) is destroyed, so a restart on the same port works and a test or a
 * benchmark leaves nothing behind. Shared by the bench server and the test fixtures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface LoopbackServer {
  readonly http: Server;
  readonly port: number;
  /** Stop listening and destroy every open socket. */
  close(): Promise<void>;
}

export async function listenLoopback(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  opts: { host?: string; port?: number } = {},
): Promise<LoopbackServer> {
  const http = createServer(handler);
  const sockets = new Set<Socket>();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      http.off('error', reject);
      resolve();
    });
  });
  return {
    http,
    port: (http.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      }),
  };
}
