/**
 * `mcp-relay doctor` with a DPoP-bound login (RFC 9449): its live check must present the stored
 * token as `DPoP <token>` with a fresh proof per request (and answer the server's
 * `use_dpop_nonce` once), not as `Bearer <token>`, which a DPoP server refuses, so the report
 * said the stored login was refused. Real AS and MCP server (test/helpers/dpop-as.ts, dpop-mcp.ts).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { startDpopAs } from '../helpers/dpop-as.js';
import { startDpopMcpServer, type DpopMcpServer } from '../helpers/dpop-mcp.js';
import { browserEnv } from '../helpers/oauth.js';
import { connectRelay, killAll, RELAY_BIN, relayEnv, tempHome } from '../helpers/relay.js';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await killAll();
  for (const c of closers.splice(0)) await c();
});

interface Step {
  name: string;
  status: 'ok' | 'warn' | 'fail' | 'skip';
  detail: string;
}

async function dpopServer(mcpNonce: boolean): Promise<DpopMcpServer> {
  let mcp: DpopMcpServer | undefined;
  const as = await startDpopAs({ resource: () => mcp!.url });
  closers.push(() => as.close());
  mcp = await startDpopMcpServer({ as: () => as, requireNonce: mcpNonce });
  closers.push(() => mcp!.close());
  return mcp;
}

async function doctor(home: string, url: string): Promise<Step[]> {
  const run = await promisify(execFile)(process.execPath, [RELAY_BIN, 'doctor', url, '--json'], { env: relayEnv(home) }).catch((err: { stdout?: string }) => ({
    stdout: err.stdout ?? '',
  }));
  return (JSON.parse(run.stdout) as { steps: Step[] }).steps;
}

describe('doctor with a DPoP-bound login', () => {
  for (const mcpNonce of [false, true]) {
    it(`reports the stored DPoP login as working${mcpNonce ? ', answering the server’s use_dpop_nonce' : ''}`, async () => {
      const mcp = await dpopServer(mcpNonce);
      const home = await tempHome();
      const r = await connectRelay([mcp.url], { home, env: browserEnv(home) });
      await r.client.listTools();
      await r.transport.close();
      const verified = mcp.counters.verified.POST ?? 0;

      const steps = await doctor(home, mcp.url);
      const protocol = steps.find((s) => s.name === 'protocol')!;
      expect(protocol.status, protocol.detail).toBe('ok');
      expect(protocol.detail).not.toContain('refused the stored access token');
      expect(steps.find((s) => s.name === 'login')!.status).toBe('ok');
      // What the server saw: verified proofs from the doctor, none refused, no jti twice.
      expect(mcp.counters.verified.POST ?? 0).toBeGreaterThan(verified);
      expect(mcp.counters.failures).toEqual([]);
      expect(mcp.counters.repeatedJti).toBe(0);
    });
  }
});
