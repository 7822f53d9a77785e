/** Reading mcp-remote's store (src/auth/mcp-remote-import.ts) from real files in a temp folder. */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { findMcpRemoteLogin, mcpRemoteHashes, mcpRemoteRoot } from '../../src/auth/mcp-remote-import.js';

const URL_ = 'https://mcp.example.com/mcp';
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
let root: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'mcp-remote-store-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function put(layout: string, hash: string, file: string, value: unknown, mtimeS?: number): Promise<void> {
  await mkdir(join(root, layout), { recursive: true });
  const path = join(root, layout, `${hash}_${file}`);
  await writeFile(path, JSON.stringify(value));
  if (mtimeS !== undefined) await utimes(path, mtimeS, mtimeS);
}

describe('mcp-remote store', () => {
  it('lives in MCP_REMOTE_CONFIG_DIR, else ~/.mcp-auth', () => {
    expect(mcpRemoteRoot({ MCP_REMOTE_CONFIG_DIR: '/x' })).toBe('/x');
    expect(mcpRemoteRoot({ HOME: '/home/u' })).toBe(join('/home/u', '.mcp-auth'));
  });

  it('names files by the MD5 of the URL as typed, joined with the resource', () => {
    expect(mcpRemoteHashes(URL_)).toEqual([md5(URL_)]);
    expect(mcpRemoteHashes(URL_, 'https://t1.example.net/')).toEqual([md5(`${URL_}|https://t1.example.net/`)]);
    // mcp-relay writes a bare origin with its slash; mcp-remote kept what the user typed.
    expect(mcpRemoteHashes('https://mcp.example.com/')).toEqual([md5('https://mcp.example.com/'), md5('https://mcp.example.com')]);
  });

  it('prefers mcp-remote-v1, then the newest per-version folder', async () => {
    const h = md5(URL_);
    await put('mcp-remote-0.1.9', h, 'tokens.json', { access_token: 'old9', token_type: 'bearer' });
    await put('mcp-remote-0.1.9', h, 'client_info.json', { client_id: 'c9', redirect_uris: [] });
    await put('mcp-remote-0.1.18', h, 'tokens.json', { access_token: 'old18', token_type: 'bearer' });
    await put('mcp-remote-0.1.18', h, 'client_info.json', { client_id: 'c18', redirect_uris: [] });
    expect((await findMcpRemoteLogin(root, URL_, { staticClient: false }))?.tokens.access_token).toBe('old18');
    await put('mcp-remote-v1', h, 'tokens.json', { access_token: 'new', token_type: 'Bearer', expires_at: 123_000 });
    await put('mcp-remote-v1', h, 'client_info.json', { client_id: 'cv1', redirect_uris: ['http://localhost:1/oauth/callback'], client_id_issued_at: 100 });
    const found = await findMcpRemoteLogin(root, URL_, { staticClient: false });
    expect(found?.tokens).toMatchObject({ access_token: 'new', expires_at: 123_000, grant: 'authorization_code' });
    expect(found?.client).toMatchObject({ client_id: 'cv1', kind: 'dynamic', registered_at: 100_000 });
  });

  it('old layouts without expires_at: expiry from the file time and expires_in', async () => {
    const h = md5(URL_);
    await put('mcp-remote-0.0.1', h, 'tokens.json', { access_token: 'a', token_type: 'bearer', expires_in: 3600, refresh_token: 'r' }, 1_000_000);
    await put('mcp-remote-0.0.1', h, 'client_info.json', { client_id: 'c', redirect_uris: [] });
    const found = await findMcpRemoteLogin(root, URL_, { staticClient: false });
    expect(found?.tokens.expires_at).toBe(1_000_000_000 + 3_600_000);
    expect(found?.tokens.refresh_token).toBe('r');
  });

  it('tokens without their client are not a login; with a static client only tokens are taken', async () => {
    const h = md5(URL_);
    await put('mcp-remote-v1', h, 'tokens.json', { access_token: 'a', token_type: 'Bearer' });
    expect(await findMcpRemoteLogin(root, URL_, { staticClient: false })).toBeUndefined();
    const found = await findMcpRemoteLogin(root, URL_, { staticClient: true });
    expect(found?.client).toBeUndefined();
    expect(found?.tokens.access_token).toBe('a');
    // Another server's files are never taken.
    expect(await findMcpRemoteLogin(root, 'https://other.example.com/mcp', { staticClient: true })).toBeUndefined();
  });
});
