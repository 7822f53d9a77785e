/**
 * Small node:http helpers for the demo server: bodies, forms, JSON/HTML answers, OAuth error
 * answers, loopback and resource URI comparisons, random values. No framework.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Large enough for multi-MiB MCP messages (benchmarks echo big payloads), small enough to bound memory. */
export const MAX_BODY_BYTES = 32 * 1024 * 1024;
/** OAuth endpoints take small forms or JSON documents. */
export const MAX_FORM_BYTES = 64 * 1024;
/** 256 bits: unguessable tokens, codes and secrets. */
const TOKEN_BYTES = 32;

/** An answer that aborts request handling (thrown by body readers and validators). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(description);
  }
}

export function randomToken(bytes = TOKEN_BYTES): string {
  return randomBytes(bytes).toString('base64url');
}

/** RFC 7636 §4.2: BASE64URL-ENCODE(SHA256(ASCII(code_verifier))). */
export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Constant-time string comparison for secrets. */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > maxBytes) throw new HttpError(413, 'invalid_request', `request body over ${maxBytes} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > maxBytes) throw new HttpError(413, 'invalid_request', `request body over ${maxBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * Read an application/x-www-form-urlencoded body. RFC 6749 §3.1: parameters sent without a
 * value are treated as omitted, and a parameter MUST NOT be included more than once.
 */
export async function readForm(req: IncomingMessage): Promise<Map<string, string>> {
  if (mediaType(req) !== 'application/x-www-form-urlencoded') {
    throw new HttpError(400, 'invalid_request', 'Content-Type must be application/x-www-form-urlencoded');
  }
  return paramsToMap(new URLSearchParams((await readBody(req, MAX_FORM_BYTES)).toString('utf8')));
}

/** Query or form parameters as a map; rejects repeated parameters (RFC 6749 §3.1). */
export function paramsToMap(params: URLSearchParams): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of params) {
    if (out.has(k)) throw new HttpError(400, 'invalid_request', `parameter "${k}" included more than once`);
    if (v !== '') out.set(k, v);
  }
  return out;
}

export async function readJson(req: IncomingMessage, maxBytes: number): Promise<unknown> {
  if (mediaType(req) !== 'application/json') {
    throw new HttpError(400, 'invalid_request', 'Content-Type must be application/json');
  }
  const text = (await readBody(req, maxBytes)).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpError(400, 'invalid_request', 'body is not valid JSON');
  }
}

/** JSON answer; no-store because most of them carry credentials (RFC 6749 §5.1). */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Cache-Control': 'no-store',
    Pragma: 'no-cache',
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** OAuth error answer (RFC 6749 §5.2). */
export function sendOAuthError(res: ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error, error_description: description }, headers);
}

/** HTML answer that cannot be framed (clickjacking on the consent page) and loads nothing external. */
export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Length': Buffer.byteLength(html),
  });
  res.end(html);
}

export function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, 'Cache-Control': 'no-store' });
  res.end();
}

/** Loopback host names as URL.hostname spells them. */
export function isLoopbackHostname(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** An http URL on a loopback host, e.g. a native app's redirect URI (RFC 8252 §7.3). */
export function isLoopbackHttpUrl(url: URL): boolean {
  return url.protocol === 'http:' && isLoopbackHostname(url.hostname);
}

export function tryParseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/**
 * Canonical form of a resource indicator for comparison: lowercase scheme and host (MCP
 * 2025-11-25 "Canonical Server URI" SHOULD accept uppercase ones), no trailing slash on a
 * non-root path. Undefined when it is not an absolute URI or carries a fragment (RFC 8707 §2).
 */
export function canonicalResource(value: string): string | undefined {
  const url = tryParseUrl(value);
  if (!url || value.includes('#')) return undefined;
  const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : '';
  return `${url.protocol}//${url.host}${path}${url.search}`;
}

export function sameResource(a: string, b: string): boolean {
  const x = canonicalResource(a);
  return x !== undefined && x === canonicalResource(b);
}

/** RFC 6749 §2.3.1: client_id and secret are form-urlencoded before Basic encoding. */
export function parseBasicAuth(header: string | undefined): { id: string; secret: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: unform(decoded.slice(0, colon)), secret: unform(decoded.slice(colon + 1)) };
  } catch {
    return undefined;
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header ?? '');
  return m?.[1];
}
