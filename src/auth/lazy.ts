/**
 * The proxy's auth hook, loading the coordinator (the SDK's OAuth helpers, jose, the callback
 * listener: tens of MB) only when it is needed: when the server refuses a token, or when the
 * stored token is due for renewal. A relay started with a valid stored token serves it from the
 * store and loads nothing else.
 */
import type { UnauthorizedInfo, AuthHook, DpopProofRequest } from './hook.js';
import { authorizationValue, DpopProver, requestProof } from './dpop.js';
import type { LoginStatus } from './login-status.js';
import type { ServerStore, StoredTokens } from '../store/store.js';
import type { AuthCoordinator } from './coordinator.js';
import { expiresSoon } from './expiry.js';
import { readTokensOrWarn } from '../store/open.js';
import type { Logger } from '../log.js';

type Listener = (event: 'waiting' | 'done') => void;

export class LazyAuth implements AuthHook, LoginStatus {
  private coordinator: AuthCoordinator | undefined;
  private loading: Promise<AuthCoordinator> | undefined;
  private tokens: StoredTokens | undefined;
  private read = false;
  private readonly listeners: Listener[] = [];
  private readonly prover: DpopProver;

  constructor(
    private readonly load: () => Promise<AuthCoordinator>,
    private readonly store: ServerStore,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.prover = new DpopProver(now);
  }

  private real(): Promise<AuthCoordinator> {
    this.loading ??= this.load().then((c) => {
      for (const l of this.listeners) c.subscribe(l);
      this.coordinator = c;
      return c;
    });
    return this.loading;
  }

  async authorization(): Promise<string | undefined> {
    if (this.coordinator) return this.coordinator.authorization();
    if (!this.read) {
      this.tokens = await readTokensOrWarn(this.store, this.log);
      this.read = true;
    }
    const t = this.tokens;
    if (!t) return undefined;
    if (expiresSoon(t, this.now())) return (await this.real()).authorization();
    return authorizationValue(t);
  }

  dpopProof(r: DpopProofRequest): Promise<string | undefined> {
    if (this.coordinator) return this.coordinator.dpopProof(r);
    return requestProof(this.prover, this.tokens, r);
  }

  async unauthorized(info: UnauthorizedInfo): Promise<void> {
    return (await this.real()).unauthorized(info);
  }

  idle(): Promise<void> {
    return this.coordinator?.idle() ?? Promise.resolve();
  }

  waitingForUser(): boolean {
    return this.coordinator?.waitingForUser() ?? false;
  }

  subscribe(listener: Listener): void {
    this.listeners.push(listener);
    this.coordinator?.subscribe(listener);
  }

  authorizationUrl(): Promise<string | undefined> {
    return this.coordinator?.authorizationUrl() ?? Promise.resolve(undefined);
  }

  async close(): Promise<void> {
    await this.coordinator?.close();
  }
}
