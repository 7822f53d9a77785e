/**
 * The allow/deny filters through the built relay: a server that pages its lists and counts what
 * reaches it, a host driving the relay over stdio. Filtered items are absent from every page, and
 * calls, gets and reads of them are refused by the relay (the server's counts prove it).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { type PagedServer, startPagedServer } from '../helpers/paged-server.js';
import { connectRelay, killAll, tempHome } from '../helpers/relay.js';
import { sleep } from '../../src/sleep.js';

/** Pause between two notify calls while the relay's GET stream is not yet open. */
const RETRY_PAUSE_MS = 200;

const CONTENT = {
  tools: ['get_a', 'delete_a', 'get_b', 'delete_b', 'get_secret', 'list_x', 'notify'],
  prompts: ['hello', 'admin_reset', 'admin_drop', 'summary'],
  resources: ['file:///docs/a.md', 'file:///secret/key', 'file:///docs/b.md', 'file:///etc/passwd'],
  templates: ['file:///docs/{name}', 'db://{table}'],
};

let server: PagedServer | undefined;
afterEach(async () => {
  await killAll();
  await server?.close();
  server = undefined;
});

/** Every page of a list, as the host sees it: the names and how many pages it took. */
async function listAll(client: Client, kind: 'tools' | 'prompts' | 'resources' | 'templates'): Promise<{ names: string[]; pages: number }> {
  const names: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    pages += 1;
    if (kind === 'tools') {
      const r = await client.listTools(cursor ? { cursor } : {});
      names.push(...r.tools.map((t) => t.name));
      cursor = r.nextCursor;
    } else if (kind === 'prompts') {
      const r = await client.listPrompts(cursor ? { cursor } : {});
      names.push(...r.prompts.map((p) => p.name));
      cursor = r.nextCursor;
    } else if (kind === 'resources') {
      const r = await client.listResources(cursor ? { cursor } : {});
      names.push(...r.resources.map((x) => x.uri));
      cursor = r.nextCursor;
    } else {
      const r = await client.listResourceTemplates(cursor ? { cursor } : {});
      names.push(...r.resourceTemplates.map((x) => x.uriTemplate));
      cursor = r.nextCursor;
    }
  } while (cursor !== undefined);
  return { names, pages };
}

/** The JSON-RPC error a request ends with (fails the test when it succeeds). */
async function refusal(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  return p.then(
    () => {
      throw new Error('expected the relay to refuse the request');
    },
    (err: { code: number; message: string }) => err,
  );
}

async function relayTo(args: string[]) {
  server = await startPagedServer(CONTENT);
  return connectRelay([server.url, ...args], { home: await tempHome() });
}

describe('filters through the relay', () => {
  it('a denied tool is absent from every page and its call never reaches the server', async () => {
    const { client } = await relayTo(['--deny-tool', 'delete_*']);
    const { names, pages } = await listAll(client, 'tools');
    expect(names).toEqual(['get_a', 'get_b', 'get_secret', 'list_x', 'notify']);
    // Every page went through (the one holding only denied tools comes back empty, with its cursor).
    expect(pages).toBe(4);
    expect(server!.pages.filter((p) => p.startsWith('tools/list'))).toHaveLength(4);

    const err = await refusal(client.callTool({ name: 'delete_b', arguments: {} }));
    expect(err.code).toBe(-32602);
    expect(err.message).toContain('"delete_b" is blocked by --deny-tool "delete_*"');
    await client.callTool({ name: 'get_a', arguments: {} });
    expect(server!.seen).toEqual(['tools/call get_a']);
  });

  it('deny beats allow, and globs match with * and ?', async () => {
    const { client } = await relayTo(['--allow-tool', 'get_*', '--allow-tool', 'list_?', '--deny-tool', 'get_secre?']);
    expect((await listAll(client, 'tools')).names).toEqual(['get_a', 'get_b', 'list_x']);

    const denied = await refusal(client.callTool({ name: 'get_secret', arguments: {} }));
    expect(denied.message).toContain('--deny-tool "get_secre?"');
    const notAllowed = await refusal(client.callTool({ name: 'notify', arguments: {} }));
    expect(notAllowed.message).toContain('"notify" matches no --allow-tool ("get_*", "list_?")');
    await client.callTool({ name: 'list_x', arguments: {} });
    expect(server!.seen).toEqual(['tools/call list_x']);
  });

  it('prompts and resources: lists filtered on every page, gets and reads refused at the relay', async () => {
    const { client } = await relayTo(['--deny-prompt', 'admin_*', '--allow-resource', 'file:///docs/*']);
    expect((await listAll(client, 'prompts')).names).toEqual(['hello', 'summary']);
    expect((await listAll(client, 'resources')).names).toEqual(['file:///docs/a.md', 'file:///docs/b.md']);
    expect((await listAll(client, 'templates')).names).toEqual(['file:///docs/{name}']);

    const prompt = await refusal(client.getPrompt({ name: 'admin_drop' }));
    expect(prompt.code).toBe(-32602);
    expect(prompt.message).toContain('--deny-prompt "admin_*"');
    const read = await refusal(client.readResource({ uri: 'file:///etc/passwd' }));
    // MCP 2025-11-25 server/resources: "Resource not found" is -32002.
    expect(read.code).toBe(-32002);
    expect(read.message).toContain('--allow-resource');

    await client.getPrompt({ name: 'hello' });
    await client.readResource({ uri: 'file:///docs/a.md' });
    expect(server!.seen).toEqual(['prompts/get hello', 'resources/read file:///docs/a.md']);
  });

  it('list_changed still reaches the host, and the list it re-reads is filtered', async () => {
    server = await startPagedServer(CONTENT);
    let changed!: () => void;
    const notified = new Promise<void>((resolve) => (changed = resolve));
    const { client } = await connectRelay([server.url, '--deny-tool', 'delete_*'], {
      home: await tempHome(),
      setup: (c) => c.setNotificationHandler(ToolListChangedNotificationSchema, () => changed()),
    });
    // The server sends list_changed on its standalone GET stream, which the relay opens after
    // initialize: until it is open the notification is lost, so call again until one arrives.
    let arrived = false;
    void notified.then(() => (arrived = true));
    while (!arrived) {
      await client.callTool({ name: 'notify', arguments: {} });
      await Promise.race([notified, sleep(RETRY_PAUSE_MS)]);
    }
    expect((await listAll(client, 'tools')).names).not.toContain('delete_a');
  });
});
