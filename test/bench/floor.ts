/**
 * The floor: the least a Node stdio-to-Streamable-HTTP bridge can do, to measure the relay
 * against (issue 16). Each stdin line is POSTed as is over one keep-alive agent; each JSON body
 * or SSE `data:` payload is printed as is; the session is DELETEd when stdin ends. No auth, no
 * recovery, no validation, no GET stream, no dependencies. Usage: `node floor.js <url>`.
 */
import { Agent, request, type IncomingMessage } from 'node:http';

const url = new URL(process.argv[2] ?? '');
const agent = new Agent({ keepAlive: true });
let session: string | undefined;

/** A keep-alive socket the server closed as the request left is retried once (Node's http docs), or the bench would hang. */
function send(method: 'POST' | 'DELETE', body?: string, retry = true): Promise<IncomingMessage> {
  const headers: Record<string, string> = { accept: 'application/json, text/event-stream', 'content-type': 'application/json' };
  if (session) headers['mcp-session-id'] = session;
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers }, resolve);
    req.on('error', (err) => (retry && req.reusedSocket ? resolve(send(method, body, false)) : reject(err))).end(body);
  });
}

/** Print a JSON body, or each SSE event's `data:` lines, one message per stdout line. */
function relay(res: IncomingMessage): void {
  res.setEncoding('utf8');
  const sse = res.headers['content-type']?.startsWith('text/event-stream');
  let pending = '';
  let data: string[] = [];
  res.on('data', (chunk: string) => {
    if (!sse) return void (pending += chunk);
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const line = pending + chunk.slice(start, nl);
      pending = '';
      start = nl + 1;
      if (line.startsWith('data:')) data.push(line.slice(line[5] === ' ' ? 6 : 5));
      else if ((line === '' || line === '\r') && data.length) {
        process.stdout.write(`${data.join('\n')}\n`);
        data = [];
      }
    }
    pending += chunk.slice(start);
  });
  res.on('end', () => {
    if (!sse && pending) process.stdout.write(`${pending}\n`);
  });
}

let buffered = '';
let queue = Promise.resolve();
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk: string) => {
  const lines = (buffered + chunk).split('\n');
  buffered = lines.pop()!;
  for (const line of lines) {
    if (!line) continue;
    // Only the initialize POST waits for its answer's headers (the session id); others go at once.
    const post = () =>
      send('POST', line).then((res) => {
        session ??= res.headers['mcp-session-id'] as string | undefined;
        relay(res);
      });
    const sent = queue.then(post).catch((err: Error) => void process.stderr.write(`${err.message}\n`));
    if (!session && line.includes('"initialize"')) queue = sent;
  }
});
process.stdin.on('end', () => {
  void queue.then(() => (session ? send('DELETE').then((res) => res.resume()) : undefined)).finally(() => process.exit(0));
});
