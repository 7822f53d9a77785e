/**
 * The network steps of `mcp-relay doctor`: DNS, TCP and TLS, made directly (not through a proxy)
 * with Node's own resolver and sockets, so a failure names the layer that broke.
 */
import { lookup } from 'node:dns/promises';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import type { TlsClientOptions } from '../config/tls.js';
import { step, withinStep, StepTimeout, type DoctorStep } from './step.js';

/** host and port of a URL, with the scheme's default port and IPv6 brackets removed. */
export function endpointOf(url: URL): { host: string; port: number } {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return { host, port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80 };
}

function errCode(err: unknown): string {
  if (err instanceof StepTimeout) return 'TIMEOUT';
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err));
}

export async function checkDns(url: URL): Promise<DoctorStep> {
  const { host } = endpointOf(url);
  try {
    const addrs = await withinStep(lookup(host, { all: true }), `resolving ${host}`);
    return step('dns', 'ok', `${host} resolves to ${addrs.map((a) => a.address).join(', ')}`);
  } catch (err) {
    const code = errCode(err);
    return step(
      'dns',
      'fail',
      `${host} does not resolve (${code})`,
      'check the host name in the URL; on a company network, check that the VPN is up and that its DNS server is in use',
    );
  }
}

export async function checkTcp(url: URL): Promise<DoctorStep> {
  const { host, port } = endpointOf(url);
  try {
    await withinStep(
      new Promise<void>((resolve, reject) => {
        const socket = tcpConnect({ host, port });
        socket.once('connect', () => {
          socket.destroy();
          resolve();
        });
        socket.once('error', reject);
        socket.setTimeout(0);
      }),
      `connecting to ${host}:${port}`,
    );
    return step('tcp', 'ok', `connected to ${host}:${port}`);
  } catch (err) {
    const code = errCode(err);
    const advice =
      code === 'ECONNREFUSED'
        ? `nothing listens on port ${port} of ${host}: check that the server is running and that the URL has the right port`
        : code === 'TIMEOUT' || code === 'ETIMEDOUT'
          ? 'no answer: a firewall may drop the connection; on a company network, set HTTPS_PROXY to your proxy'
          : 'check the host, the port and your network connection';
    return step('tcp', 'fail', `cannot connect to ${host}:${port} (${code})`, advice);
  }
}

function nameOf(subject: Record<string, string | string[]> | undefined): string {
  if (!subject) return '(none)';
  const cn = subject.CN ?? subject.O;
  return Array.isArray(cn) ? cn.join(', ') : (cn ?? JSON.stringify(subject));
}

/** The certificate chain as "subject (issued by issuer)" from leaf to root, as the server sent it. */
function chainOf(cert: PeerCertificate & { issuerCertificate?: PeerCertificate }): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  let c: (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined = cert;
  while (c?.fingerprint256 && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(`${nameOf(c.subject as never)} (issued by ${nameOf(c.issuer as never)}, valid until ${c.valid_to})`);
    c = c.issuerCertificate;
  }
  return out;
}

/** TLS alerts that mean the server wanted a (different) client certificate. */
const CLIENT_CERT_ALERTS = /CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE/;

interface TlsOutcome {
  /** Read at the handshake, before the socket is closed (a closed socket reports no peer). */
  authorized: boolean;
  authorizationError: string | undefined;
  protocol: string | null;
  chain: string[];
  /** The server's answer to a HEAD request, or the error that ended the connection. */
  after: { kind: 'answer' } | { kind: 'error'; code: string };
}

/**
 * Handshake with the server's trust settings as the relay would use them (Node's store, which
 * already holds NODE_EXTRA_CA_CERTS, plus --tls-ca), but without refusing, so an untrusted chain
 * can still be described. A HEAD request follows: under TLS 1.3 a server rejects a client
 * certificate (or its absence) only after the handshake, with an alert in place of an answer.
 */
function handshake(url: URL, tls: TlsClientOptions | undefined): Promise<TlsOutcome> {
  const { host, port } = endpointOf(url);
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host, port, servername: /^[\d.:]+$/.test(host) ? undefined : host, ...tls, rejectUnauthorized: false });
    socket.once('error', reject);
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      const seen = {
        authorized: socket.authorized,
        authorizationError: socket.authorizationError === undefined ? undefined : String(socket.authorizationError),
        protocol: socket.getProtocol(),
        chain: chainOf(socket.getPeerCertificate(true)),
      };
      const done = (after: TlsOutcome['after']) => {
        socket.destroy();
        resolve({ ...seen, after });
      };
      socket.once('data', () => done({ kind: 'answer' }));
      socket.once('end', () => done({ kind: 'answer' }));
      socket.once('error', (err) => done({ kind: 'error', code: errCode(err) }));
      socket.write(`HEAD ${url.pathname || '/'} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);
    });
  });
}

export async function checkTls(url: URL, tls: TlsClientOptions | undefined, env: NodeJS.ProcessEnv): Promise<DoctorStep> {
  const clientCert = tls?.cert !== undefined || tls?.pfx !== undefined;
  const trust = [
    'the system store',
    ...(env.NODE_EXTRA_CA_CERTS ? [`NODE_EXTRA_CA_CERTS (${env.NODE_EXTRA_CA_CERTS})`] : []),
    ...(tls?.ca ? ['--tls-ca'] : []),
  ].join(', ');
  let out: TlsOutcome;
  try {
    out = await withinStep(handshake(url, tls), `the TLS handshake with ${url.host}`);
  } catch (err) {
    const code = errCode(err);
    const certAlert = CLIENT_CERT_ALERTS.test(code);
    return step(
      'tls',
      'fail',
      `TLS handshake with ${url.host} failed (${code})`,
      certAlert
        ? clientCert
          ? 'the server refused the client certificate: check --tls-cert/--tls-key (or --tls-pfx) with the gateway owner'
          : 'the server requires a client certificate: pass --tls-cert and --tls-key (or --tls-pfx)'
        : 'check that the URL really is https and the port serves TLS',
    );
  }
  const { after, chain } = out;
  const lines = [`protocol ${out.protocol ?? '?'}`, `chain: ${chain.join(' ← ') || '(none sent)'}`, `trusted by: ${trust}`];
  if (!out.authorized) {
    const why = out.authorizationError ?? 'not trusted';
    return step(
      'tls',
      'fail',
      `the certificate of ${url.host} is not trusted (${why}); ${lines.join('; ')}`,
      /HOSTNAME|ALTNAME|IP/.test(why)
        ? `the certificate is not issued for ${url.hostname}: check the URL's host name`
        : 'if a company proxy or private CA signs this certificate, get its CA certificate (PEM) and pass --tls-ca FILE or set NODE_EXTRA_CA_CERTS=FILE',
    );
  }
  if (after.kind === 'error' && CLIENT_CERT_ALERTS.test(after.code)) {
    return step(
      'tls',
      'fail',
      `the server ended the connection after the handshake (${after.code}); ${lines.join('; ')}`,
      clientCert
        ? 'the server refused the client certificate: check --tls-cert/--tls-key (or --tls-pfx)'
        : 'the server requires a client certificate: pass --tls-cert and --tls-key (or --tls-pfx)',
    );
  }
  if (clientCert)
    lines.push(after.kind === 'answer' ? 'client certificate accepted' : `client certificate: unclear (${after.kind === 'error' ? after.code : ''})`);
  return step('tls', 'ok', lines.join('; '));
}
