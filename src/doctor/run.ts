/**
 * `mcp-relay doctor <url>`: every check in order, each bounded by STEP_TIMEOUT_MS. A failed network
 * step skips the ones that need it, so the report ends at the real cause. Never starts a login and
 * never writes to the store.
 */
import type { Config } from '../config/config.js';
import { createFetch, proxyFromEnv } from '../http/fetch.js';
import { noProxyMatcher } from '../http/no-proxy.js';
import type { Logger } from '../log.js';
import { openStore } from '../store/open.js';
import type { StoredClient, StoredTokens } from '../store/store.js';
import { checkDns, checkTcp, checkTls } from './network.js';
import { authorizationValue, DpopNonces, DpopProver, isDpopBound, requestProof } from '../auth/dpop.js';
import { checkClock, checkProtocol, checkProxy, type DoctorAuth } from './mcp.js';
import { checkLogin, checkMetadata, checkRegistration } from './oauth.js';
import { step, type DoctorStep } from './step.js';

export type { DoctorStep, StepStatus } from './step.js';

export interface DoctorDeps {
  env: NodeJS.ProcessEnv;
  log: Logger;
  now(): number;
}

const skipped = (name: string, why: string): DoctorStep => step(name, 'skip', `not checked: ${why}`);

async function readStored(config: Config, deps: DoctorDeps): Promise<{ tokens?: StoredTokens | undefined; client?: StoredClient | undefined; error?: string }> {
  try {
    const { server } = openStore(config, deps.env, deps.log);
    const [tokens, client] = await Promise.all([server.readTokens(), server.readClient()]);
    return { tokens, client };
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

export async function runDoctor(config: Config, deps: DoctorDeps): Promise<DoctorStep[]> {
  const url = config.serverUrl;
  const steps: DoctorStep[] = [];
  const viaProxy = checkProxy(url, deps.env);
  const proxied = proxyFromEnv(deps.env) !== undefined && !noProxyMatcher(deps.env.NO_PROXY ?? deps.env.no_proxy)(url);
  // Behind a proxy the direct path may be closed on purpose: a direct failure is then a warning.
  const direct = (s: DoctorStep): DoctorStep => (proxied && s.status === 'fail' ? { ...s, status: 'warn' } : s);

  steps.push(direct(await checkDns(url)));
  if (steps.at(-1)!.status !== 'fail') steps.push(direct(await checkTcp(url)));
  else steps.push(skipped('tcp', 'the name does not resolve'));
  const netOk = steps.every((s) => s.status !== 'fail');
  if (url.protocol !== 'https:') steps.push(skipped('tls', 'plain http URL'));
  else if (netOk) steps.push(direct(await checkTls(url, config.tls, deps.env)));
  else steps.push(skipped('tls', 'no connection'));
  steps.push(viaProxy);

  const stored = await readStored(config, deps);
  if (!steps.every((s) => s.status !== 'fail')) {
    for (const name of ['http', 'protocol', 'metadata', 'registration']) steps.push(skipped(name, 'an earlier step failed'));
    steps.push(
      stored.error ? step('login', 'warn', `the credential store cannot be read: ${stored.error}`) : checkLogin(url, stored.tokens, false, deps.now()),
    );
    steps.push(skipped('clock', 'no answer from the server'));
    return steps;
  }

  const fetch = createFetch(deps.env, config.tls && { options: config.tls, certHost: url.host });
  const live = stored.tokens && (stored.tokens.expires_at === undefined || stored.tokens.expires_at > deps.now());
  const auth = live && !hasAuthorization(config) ? storedLogin(stored.tokens!, deps.now) : undefined;
  const found = await checkProtocol(fetch, config, auth);
  steps.push(found.http, found.protocol);
  const status = found.first?.status;
  const loginAsked = status === 401 || status === 403 || stored.tokens !== undefined;
  if (hasAuthorization(config)) {
    steps.push(skipped('metadata', 'an Authorization header is given, so the relay does not log in'), skipped('registration', 'no login'));
  } else if (found.first) {
    const meta = await checkMetadata(config, fetch, deps.log, found.first.challenge, loginAsked);
    steps.push(meta.step);
    steps.push(
      meta.discovered ? checkRegistration(config, meta.discovered.metadata, stored.client) : skipped('registration', 'no usable authorization server metadata'),
    );
  } else {
    steps.push(skipped('metadata', 'the server did not answer'), skipped('registration', 'the server did not answer'));
  }
  steps.push(
    stored.error ? step('login', 'warn', `the credential store cannot be read: ${stored.error}`) : checkLogin(url, stored.tokens, loginAsked, deps.now()),
  );
  steps.push(checkClock(found.first?.date, deps.now()));
  return steps;
}

/**
 * The stored login presented as the relay presents it: `DPoP <token>` with a fresh proof of the
 * stored key per request for a bound login (RFC 9449 §7.1), with the server's nonce once it gave
 * one (§9); `Bearer <token>` otherwise (RFC 6750 §2.1).
 */
function storedLogin(tokens: StoredTokens, now: () => number): DoctorAuth {
  const prover = new DpopProver(now);
  const nonces = new DpopNonces();
  const authorization = authorizationValue(tokens);
  return {
    async headers(method, url): Promise<Record<string, string>> {
      const proof = await requestProof(prover, tokens, { method, url, authorization, nonce: nonces.get(url) });
      return proof ? { authorization, dpop: proof } : { authorization };
    },
    nonce: (url, value) => isDpopBound(tokens) && nonces.remember(url, value),
  };
}

function hasAuthorization(config: Config): boolean {
  return Object.keys(config.headers).some((k) => k.toLowerCase() === 'authorization');
}

/** 1 when a step failed, else 0 (warnings pass). */
export function doctorExitCode(steps: DoctorStep[]): number {
  return steps.some((s) => s.status === 'fail') ? 1 : 0;
}
