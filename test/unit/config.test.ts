import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expandEnv, isLoopbackHost, parseClientInfo, parseHeaders, parseServerUrl, readValue } from '../../src/config/config.js';
import { RelayError } from '../../src/errors.js';

/** The RelayError a call throws (fails the test when it does not throw one). */
function thrown(fn: () => unknown): RelayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(RelayError);
    return err as RelayError;
  }
  throw new Error('expected a RelayError, nothing was thrown');
}

describe('parseServerUrl', () => {
  it.each([
    ['https://mcp.example.com/mcp', 'https://mcp.example.com/mcp'],
    ['https://MCP.Example.com:443/mcp?x=1', 'https://mcp.example.com/mcp?x=1'],
    ['http://127.0.0.1:8080/mcp', 'http://127.0.0.1:8080/mcp'],
    ['http://127.45.6.7/mcp', 'http://127.45.6.7/mcp'],
    ['http://localhost:3000/mcp', 'http://localhost:3000/mcp'],
    ['http://LOCALHOST:3000/mcp', 'http://localhost:3000/mcp'],
    ['http://[::1]:3000/mcp', 'http://[::1]:3000/mcp'],
    ['http://dev.localhost:3000/mcp', 'http://dev.localhost:3000/mcp'],
  ])('accepts %s', (raw, href) => {
    expect(parseServerUrl(raw, false).href).toBe(href);
  });

  it('drops the fragment (a URI fragment is never sent and must not change the server identity)', () => {
    const url = parseServerUrl('https://mcp.example.com/mcp?a=b#section', false);
    expect(url.href).toBe('https://mcp.example.com/mcp?a=b');
    expect(url.hash).toBe('');
  });

  it.each([
    ['http://mcp.example.com/mcp', /refusing plain http to non-local host mcp\.example\.com/],
    ['http://10.0.0.5/mcp', /refusing plain http/],
    ['http://localhost.evil.example/mcp', /refusing plain http/],
    ['http://128.0.0.1/mcp', /refusing plain http/],
    ['http://[::2]/mcp', /refusing plain http/],
  ])('refuses plain http off loopback: %s', (raw, message) => {
    const err = thrown(() => parseServerUrl(raw, false));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toMatch(message);
    expect(err.message).toContain('--allow-http');
  });

  it('accepts plain http off loopback with allowHttp', () => {
    expect(parseServerUrl('http://mcp.example.com/mcp', true).href).toBe('http://mcp.example.com/mcp');
  });

  it.each(['ftp://mcp.example.com/mcp', 'file:///etc/passwd', 'ws://mcp.example.com/mcp', 'javascript:alert(1)'])(
    'refuses a non-http(s) scheme even with allowHttp: %s',
    (raw) => {
      const err = thrown(() => parseServerUrl(raw, true));
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.message).toMatch(/must be http\(s\)/);
    },
  );

  it.each(['not a url', 'mcp.example.com/mcp', '', '/mcp'])('refuses something that is not an absolute URL: %j', (raw) => {
    const err = thrown(() => parseServerUrl(raw, false));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toMatch(/is not a valid URL/);
  });

  it.each(['https://user:pass@mcp.example.com/mcp', 'https://user@mcp.example.com/mcp', 'https://:pass@mcp.example.com/mcp'])(
    'refuses credentials in the URL and does not echo them: %s',
    (raw) => {
      const err = thrown(() => parseServerUrl(raw, false));
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.message).toMatch(/username or password/);
      expect(err.message).not.toContain('pass@');
    },
  );
});

describe('isLoopbackHost', () => {
  it.each(['localhost', '127.0.0.1', '127.255.255.254', '[::1]', '::1', 'app.localhost'])('%s is loopback', (h) => {
    expect(isLoopbackHost(h)).toBe(true);
  });
  it.each(['example.com', '10.0.0.1', '0.0.0.0', '[::]', 'localhost.example.com', '127.0.0.1.nip.io', '[::ffff:7f00:1]'])('%s is not', (h) => {
    expect(isLoopbackHost(h)).toBe(false);
  });
});

describe('expandEnv', () => {
  const env = { TOKEN: 'abc', EMPTY: '', URL_PART: 'x/y' };

  it('replaces ${NAME} with the variable, several times in one value', () => {
    expect(expandEnv('Bearer ${TOKEN}/${URL_PART}/${TOKEN}', env, 'test')).toBe('Bearer abc/x/y/abc');
  });

  it('expands a variable set to the empty string', () => {
    expect(expandEnv('[${EMPTY}]', env, 'test')).toBe('[]');
  });

  it('names the missing variable and what used it', () => {
    const err = thrown(() => expandEnv('Bearer ${NOPE_MISSING}', env, '--header Authorization'));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toContain('NOPE_MISSING');
    expect(err.message).toContain('--header Authorization');
  });

  it('$${NAME} is a literal ${NAME}, even when NAME is unset', () => {
    expect(expandEnv('$${TOKEN}', env, 'test')).toBe('${TOKEN}');
    expect(expandEnv('a $${NOT_SET} b ${TOKEN}', env, 'test')).toBe('a ${NOT_SET} b abc');
  });

  it('does not expand again what a variable expanded to', () => {
    expect(expandEnv('${V}', { V: '${TOKEN}' }, 'test')).toBe('${TOKEN}');
  });

  it('leaves text that is not a ${NAME} reference alone', () => {
    expect(expandEnv('$TOKEN ${} ${1X} ${TOKEN $ {TOKEN}', env, 'test')).toBe('$TOKEN ${} ${1X} ${TOKEN $ {TOKEN}');
  });
});

describe('parseHeaders', () => {
  it('accepts "Name: value" and "Name:value"', () => {
    expect(parseHeaders(['X-Api-Key: k1', 'X-Other:plain'], {})).toEqual({ 'x-api-key': 'k1', 'x-other': 'plain' });
  });

  it('splits at the first colon only', () => {
    expect(parseHeaders(['Authorization: Bearer a:b', 'X-Url:https://x.example:8443/p'], {})).toEqual({
      authorization: 'Bearer a:b',
      'x-url': 'https://x.example:8443/p',
    });
  });

  it('trims whitespace around the name and value, keeps it inside the value', () => {
    expect(parseHeaders(['  X-A  :   one  two  '], {})).toEqual({ 'x-a': 'one  two' });
  });

  it('allows an empty value', () => {
    expect(parseHeaders(['X-Empty:'], {})).toEqual({ 'x-empty': '' });
  });

  it('expands ${ENV} in the value (the Windows-friendly Authorization:${AUTH} form)', () => {
    expect(parseHeaders(['Authorization:${AUTH}'], { AUTH: 'Bearer xyz' })).toEqual({ authorization: 'Bearer xyz' });
  });

  it('does not expand ${ENV} in the name', () => {
    const err = thrown(() => parseHeaders(['${NAME}: v'], { NAME: 'X-A' }));
    expect(err.message).toMatch(/not a valid HTTP header name/);
  });

  it('names the missing variable', () => {
    const err = thrown(() => parseHeaders(['X-Key: ${MISSING_VAR}'], {}));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toContain('MISSING_VAR is not set');
  });

  it('folds names to lower case so a repeated name (any case) is one header, the last given winning', () => {
    // Two spellings in one record would reach fetch as two headers, joined into "a, b" on the wire,
    // and the relay's own lower-case content-type/accept would be combined with the user's.
    expect(parseHeaders(['X-Key: a', 'x-key: b', 'Accept: text/plain'], {})).toEqual({ 'x-key': 'b', accept: 'text/plain' });
  });

  it.each([
    ['NoColonHere', /must look like "Name: value"/],
    [': value', /must look like "Name: value"/],
    ['', /must look like "Name: value"/],
    ['Bad Name: v', /not a valid HTTP header name/],
    ['Bad(Name): v', /not a valid HTTP header name/],
    ['Ünïcode: v', /not a valid HTTP header name/],
    ['X-A\r\nX-B: v', /not a valid HTTP header name/],
  ])('refuses %j', (raw, message) => {
    const err = thrown(() => parseHeaders([raw], {}));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toMatch(message);
  });

  it.each([['X-A: one\r\nX-Injected: two'], ['X-A: one\ntwo'], ['X-A: one\rtwo'], ['X-A: a\0b']])('refuses a line break or NUL in the value: %j', (raw) => {
    const err = thrown(() => parseHeaders([raw], {}));
    expect(err.message).toMatch(/line break/);
  });

  it('refuses a line break that arrives through ${ENV}', () => {
    const err = thrown(() => parseHeaders(['X-A: ${V}'], { V: 'one\r\nX-Injected: two' }));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toMatch(/line break/);
  });

  it('does not echo a secret-looking argument that lacks the colon', () => {
    const err = thrown(() => parseHeaders(['Authorization Bearer sk-live-0123456789'], {}));
    expect(err.message).toMatch(/must look like "Name: value"/);
    expect(err.message).not.toContain('sk-live');
  });
});

describe('readValue and parseClientInfo (files)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mcp-relay-config-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('readValue: @path reads the file and trims the trailing newline', async () => {
    const file = join(dir, 'secret.txt');
    await writeFile(file, '  s3cret-value \n');
    expect(readValue(`@${file}`, {}, '--client-secret')).toBe('s3cret-value');
  });

  it('readValue: ${ENV} expands in the @path, not in the file contents', async () => {
    const file = join(dir, 'secret.txt');
    await writeFile(file, 'literal ${NOT_EXPANDED}\n');
    expect(readValue('@${DIR}/secret.txt', { DIR: dir }, '--client-secret')).toBe('literal ${NOT_EXPANDED}');
  });

  it('readValue: a missing file is a BAD_CONFIG naming the option and the path', () => {
    const file = join(dir, 'absent.txt');
    const err = thrown(() => readValue(`@${file}`, {}, '--client-secret'));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toContain('--client-secret');
    expect(err.message).toContain(file);
    expect(err.message).toContain('ENOENT');
  });

  it('parseClientInfo: @file JSON, with ${ENV} expanded inside string values', async () => {
    const file = join(dir, 'client.json');
    await writeFile(file, JSON.stringify({ client_id: 'cid-1', client_secret: '${CLIENT_SECRET}', redirect_uris: ['http://127.0.0.1:9000/cb'], n: 3 }));
    expect(parseClientInfo(`@${file}`, { CLIENT_SECRET: 'shh' })).toEqual({
      client_id: 'cid-1',
      client_secret: 'shh',
      redirect_uris: ['http://127.0.0.1:9000/cb'],
      n: 3,
    });
  });

  it('parseClientInfo: a file that is not JSON is refused', async () => {
    const file = join(dir, 'client.json');
    await writeFile(file, 'client_id=abc');
    expect(thrown(() => parseClientInfo(`@${file}`, {})).message).toMatch(/not valid JSON/);
  });
});

describe('readValue', () => {
  it('env:NAME reads the variable as is (no further expansion)', () => {
    expect(readValue('env:SECRET', { SECRET: 'a ${B} c' }, '--client-secret')).toBe('a ${B} c');
  });

  it('env:NAME of an unset variable names it', () => {
    const err = thrown(() => readValue('env:NOT_SET_X', {}, '--client-secret'));
    expect(err.code).toBe('BAD_CONFIG');
    expect(err.message).toContain('NOT_SET_X');
    expect(err.message).toContain('--client-secret');
  });

  it('a plain value is used as given, with ${ENV} expansion', () => {
    expect(readValue('plain-id', {}, '--client-id')).toBe('plain-id');
    expect(readValue('id-${N}', { N: '7' }, '--client-id')).toBe('id-7');
  });
});

describe('parseClientInfo (inline)', () => {
  it('expands ${ENV} inside string values', () => {
    expect(parseClientInfo('{"client_id":"${ID}","client_secret":"${SECRET}"}', { ID: 'cid', SECRET: 'shh' })).toEqual({
      client_id: 'cid',
      client_secret: 'shh',
    });
  });

  it('a variable whose value holds a quote or backslash stays that string (expansion happens after JSON parsing)', () => {
    const secret = 'a"b\\c';
    expect(parseClientInfo('{"client_id":"cid","client_secret":"${SECRET}"}', { SECRET: secret })).toEqual({ client_id: 'cid', client_secret: secret });
  });

  it('$${NAME} stays a literal ${NAME} in inline JSON', () => {
    expect(parseClientInfo('{"client_id":"cid","note":"$${HOME_X}"}', {})).toEqual({ client_id: 'cid', note: '${HOME_X}' });
  });

  it('env:NAME holding the JSON works', () => {
    expect(parseClientInfo('env:CLIENT_JSON', { CLIENT_JSON: '{"client_id":"from-env"}' })).toEqual({ client_id: 'from-env' });
  });

  it.each([['{"client_secret":"x"}'], ['{"client_id":42}'], ['{"client_id":""}'], ['[{"client_id":"x"}]'], ['"client_id"'], ['null']])(
    'refuses %s: client_id must be a non-empty string in an object',
    (raw) => {
      const err = thrown(() => parseClientInfo(raw, {}));
      expect(err.code).toBe('BAD_CONFIG');
      expect(err.message).toMatch(/"client_id"/);
    },
  );

  it('refuses text that is not JSON', () => {
    expect(thrown(() => parseClientInfo('{client_id: x}', {})).message).toMatch(/not valid JSON/);
  });

  it('names a variable missing inside a value', () => {
    const err = thrown(() => parseClientInfo('{"client_id":"cid","client_secret":"${NO_SUCH_SECRET}"}', {}));
    expect(err.message).toContain('NO_SUCH_SECRET');
    expect(err.message).toContain('client_secret');
  });
});
