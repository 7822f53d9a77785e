/**
 * Company gateways that demand a client certificate (mutual TLS) in front of a real SDK server:
 * the built relay with --tls-cert/--tls-key or --tls-pfx, and --tls-ca for the gateway's private
 * CA. The gateway records the certificate each request came with.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeFaults, faultProxy } from '../helpers/faults.js';
import { startTestServer, type TestServer } from '../helpers/mcp-servers.js';
import { connectRelay, INIT, killAll, spawnRelay, tempHome } from '../helpers/relay.js';
import { KEY_PASSPHRASE, makeTestCa, type TestCa } from '../helpers/tls-ca.js';

let ca: TestCa;
beforeAll(async () => {
  ca = makeTestCa(await mkdtemp(join(tmpdir(), 'mcp-relay-ca-')));
});

const servers: TestServer[] = [];
afterEach(async () => {
  await killAll();
  await closeFaults();
  for (const s of servers.splice(0)) await s.close();
});

async function gateway() {
  const s = await startTestServer({ kind: 'stateful' });
  servers.push(s);
  return faultProxy({ target: `http://127.0.0.1:${s.port}`, tls: { ...ca.server, clientCa: ca.ca } });
}

const echo = (t: string) => ({ name: 'echo', arguments: { text: t } });
function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

describe('client certificates (mutual TLS)', () => {
  it('--tls-cert, --tls-key and --tls-ca: the relay relays, and every request carried the certificate', async () => {
    const g = await gateway();
    const { client } = await connectRelay([`${g.origin}/mcp`, '--tls-cert', ca.client.certFile, '--tls-key', ca.client.keyFile, '--tls-ca', ca.caFile], {
      home: await tempHome(),
    });
    expect(text(await client.callTool(echo('through the gateway')))).toBe('through the gateway');
    expect(g.seen.length).toBeGreaterThan(0);
    expect(new Set(g.seen.map((r) => r.clientCert))).toEqual(new Set(['mcp-relay-test-client']));
  });

  it('a PKCS#12 file with its passphrase from env:NAME works the same', async () => {
    const g = await gateway();
    const { client } = await connectRelay(
      [`${g.origin}/mcp`, '--tls-pfx', ca.client.pfxFile, '--tls-key-passphrase', 'env:CLIENT_P12_PASS', '--tls-ca', ca.caFile],
      {
        home: await tempHome(),
        env: { CLIENT_P12_PASS: KEY_PASSPHRASE },
      },
    );
    expect(text(await client.callTool(echo('pfx')))).toBe('pfx');
    expect(g.seen.every((r) => r.clientCert === 'mcp-relay-test-client')).toBe(true);
  });

  it('an encrypted PEM key with the right passphrase from @file works', async () => {
    const g = await gateway();
    const home = await tempHome();
    const passFile = join(home, 'pass');
    await import('node:fs/promises').then((fs) => fs.writeFile(passFile, `${KEY_PASSPHRASE}\n`, { mode: 0o600 }));
    const { client } = await connectRelay(
      [
        `${g.origin}/mcp`,
        '--tls-cert',
        ca.client.certFile,
        '--tls-key',
        ca.client.encryptedKeyFile,
        '--tls-key-passphrase',
        `@${passFile}`,
        '--tls-ca',
        ca.caFile,
      ],
      { home },
    );
    expect(text(await client.callTool(echo('encrypted')))).toBe('encrypted');
  });

  it('without a client certificate, or with one from another CA, the host gets an error saying what to give; nothing reaches the server', async () => {
    const g = await gateway();
    for (const extra of [[], ['--tls-cert', ca.stranger.certFile, '--tls-key', ca.stranger.keyFile]]) {
      const relay = spawnRelay([`${g.origin}/mcp`, '--tls-ca', ca.caFile, ...extra], { home: await tempHome() });
      relay.send(INIT(1));
      const answer = (await relay.waitFor((m) => m.id === 1)) as { error?: { message: string } };
      // The alert names the cause; over TLS 1.3 the gateway may cut the connection before it is read.
      expect(answer.error?.message).toMatch(/(wants a client certificate it trusts|requires a client certificate).*--tls-cert/);
    }
    expect(g.seen).toHaveLength(0);
  });

  it.each([
    ['a wrong passphrase', ['--tls-pfx', 'PFX', '--tls-key-passphrase', 'env:WRONG'], /--tls-pfx: the passphrase is wrong/],
    ['an encrypted key without its passphrase', ['--tls-cert', 'CERT', '--tls-key', 'ENCKEY'], /the key is encrypted and the passphrase is wrong or missing/],
    ['a key that does not match the certificate', ['--tls-cert', 'CERT', '--tls-key', 'STRANGERKEY'], /the key does not belong to the certificate/],
    ['a missing file', ['--tls-cert', '/nonexistent/client.pem', '--tls-key', 'KEY'], /--tls-cert: cannot read \/nonexistent\/client.pem \(ENOENT\)/],
  ])('%s fails at start with exit 2, naming the flag and never the passphrase', async (_what, args, message) => {
    const files: Record<string, string> = {
      PFX: ca.client.pfxFile,
      CERT: ca.client.certFile,
      KEY: ca.client.keyFile,
      ENCKEY: ca.client.encryptedKeyFile,
      STRANGERKEY: ca.stranger.keyFile,
    };
    const relay = spawnRelay(['https://127.0.0.1:1/mcp', ...args.map((a) => files[a] ?? a)], { home: await tempHome(), env: { WRONG: 'not-the-passphrase' } });
    const { code } = await relay.exited;
    expect(code).toBe(2);
    expect(relay.stderr()).toMatch(message);
    expect(relay.stderr()).not.toContain('not-the-passphrase');
    expect(relay.lines).toHaveLength(0);
  });
});
