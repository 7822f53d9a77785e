/**
 * A throwaway certificate authority for mutual-TLS tests, made with the openssl CLI: a server
 * certificate for 127.0.0.1 and client certificates (PEM, an encrypted PEM key, PKCS#12), all
 * signed by the CA, plus a client certificate from a second CA the server does not trust.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const DAYS = '1';
export const KEY_PASSPHRASE = 'correct horse';

export interface TestCa {
  caFile: string;
  ca: string;
  server: { key: string; cert: string };
  client: { certFile: string; keyFile: string; encryptedKeyFile: string; pfxFile: string };
  /** A client certificate and key signed by another CA. */
  stranger: { certFile: string; keyFile: string };
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function issue(dir: string, name: string, cn: string, caName: string, ext?: string): void {
  openssl(
    ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`],
    dir,
  );
  const extArgs = ext ? ['-extfile', ext] : [];
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${caName}.pem`,
      '-CAkey',
      `${caName}-key.pem`,
      '-CAcreateserial',
      '-days',
      DAYS,
      '-out',
      `${name}.pem`,
      ...extArgs,
    ],
    dir,
  );
}

export function makeTestCa(dir: string): TestCa {
  for (const ca of ['ca', 'other-ca']) {
    openssl(
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${ca}-key.pem`,
        '-out',
        `${ca}.pem`,
        '-days',
        DAYS,
        '-subj',
        `/CN=mcp-relay test ${ca}`,
      ],
      dir,
    );
  }
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > server.ext'], { cwd: dir });
  issue(dir, 'server', '127.0.0.1', 'ca', 'server.ext');
  issue(dir, 'client', 'mcp-relay-test-client', 'ca');
  issue(dir, 'stranger', 'stranger', 'other-ca');
  openssl(['pkey', '-in', 'client-key.pem', '-aes256', '-passout', `pass:${KEY_PASSPHRASE}`, '-out', 'client-key-encrypted.pem'], dir);
  openssl(['pkcs12', '-export', '-in', 'client.pem', '-inkey', 'client-key.pem', '-passout', `pass:${KEY_PASSPHRASE}`, '-out', 'client.p12'], dir);
  const at = (f: string) => join(dir, f);
  return {
    caFile: at('ca.pem'),
    ca: readFileSync(at('ca.pem'), 'utf8'),
    server: { key: readFileSync(at('server-key.pem'), 'utf8'), cert: readFileSync(at('server.pem'), 'utf8') },
    client: { certFile: at('client.pem'), keyFile: at('client-key.pem'), encryptedKeyFile: at('client-key-encrypted.pem'), pfxFile: at('client.p12') },
    stranger: { certFile: at('stranger.pem'), keyFile: at('stranger-key.pem') },
  };
}
