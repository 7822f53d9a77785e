/**
 * The credential store: one directory per remote server under a private root, shared by all
 * mcp-relay processes of the user.
 *
 * ```
 * <root>/                       0700
 *   layout.json                 {"version":1}
 *   servers/<key>/              0700, key = serverKey(...) from ./paths.ts
 *     server.json client.json tokens.json discovery.json pending.json remote.json   0600 each
 *     lock/                     the proper-lockfile lock of this directory
 * ```
 *
 * Reads take no lock and see a whole file or none (writes are atomic renames). Anything that
 * changes credentials should run inside {@link ServerStore.withLock} and re-read first.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { RelayError } from '../errors.js';
import type { Logger } from '../log.js';
import { ensurePrivateDir, readJsonFile, removeFile, writeJsonFileAtomic } from './files.js';
import {
  parseCache,
  parseClient,
  parseDiscovery,
  parsePending,
  parseRemote,
  parseServer,
  parseTokens,
  type PendingLogin,
  type StoredCache,
  type StoredClient,
  type StoredDiscovery,
  type StoredRemote,
  type StoredServer,
  type StoredTokens,
} from './guards.js';
import { checkLayout } from './layout.js';
import { LOCK_NAME, withLock, type WithLockOptions } from './lock.js';
import { SERVER_KEY_HEX_LENGTH, SERVER_KEY_PATTERN } from './paths.js';
import type { CredentialStoreMode, SecretBackendName } from './secrets/backend.js';
import { forgetSecrets, readSecretFile, secretBackendOf, secretFields, writeSecretFile } from './secrets/records.js';
import { SecretBackends } from './secrets/select.js';

export type {
  CachedMethod,
  PendingLogin,
  StoredCache,
  StoredClient,
  StoredDiscovery,
  StoredDpopKey,
  StoredRemote,
  StoredServer,
  StoredTokens,
} from './guards.js';
export { CACHED_METHODS, TOKEN_SECRET_FIELDS } from './guards.js';
export { LAYOUT_FILE, LAYOUT_VERSION } from './layout.js';

export const SERVERS_DIR = 'servers';
/** Issuer-keyed records shared by every server behind one authorization server (client registrations). */
export const ISSUERS_DIR = 'issuers';

/**
 * The directory name of an authorization server's shared records: the first 32 hex characters of
 * the SHA-256 of `{"issuer":"<issuer>"}`. The issuer is taken exactly as the metadata published
 * it (RFC 8414 §3.3 compares issuers as strings), so no canonicalisation.
 */
export function issuerKey(issuer: string): string {
  return createHash('sha256').update(JSON.stringify({ issuer }), 'utf8').digest('hex').slice(0, SERVER_KEY_HEX_LENGTH);
}

const FILES = {
  server: 'server.json',
  client: 'client.json',
  tokens: 'tokens.json',
  discovery: 'discovery.json',
  pending: 'pending.json',
  cache: 'cache.json',
  remote: 'remote.json',
} as const;

export interface ListedServer {
  key: string;
  dir: string;
  /** Absent when the directory has no (valid) server.json, e.g. after a logout. */
  server?: StoredServer;
}

export interface CredentialStoreOptions {
  /** Where new secrets are written (--credential-store); default "file". Reads follow each file's record. */
  credentialStore?: CredentialStoreMode | undefined;
  /** For the keychain probe (D-Bus address); default process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

export class CredentialStore {
  readonly root: string;
  readonly serversDir: string;
  readonly issuersDir: string;
  private readonly log: Logger;
  private readonly secrets: SecretBackends;
  private layoutVerified = false;

  constructor(root: string, log: Logger, opts: CredentialStoreOptions = {}) {
    this.root = root;
    this.serversDir = join(root, SERVERS_DIR);
    this.issuersDir = join(root, ISSUERS_DIR);
    this.log = log;
    this.secrets = new SecretBackends(opts.credentialStore ?? 'file', opts.env ?? process.env, log);
  }

  /**
   * The store of one server. `key` comes from `serverKey()`.
   *
   * @throws RelayError `BAD_CONFIG` when `key` is not a server key (so it can never escape the root).
   */
  server(key: string): ServerStore {
    if (!SERVER_KEY_PATTERN.test(key)) {
      throw new RelayError('BAD_CONFIG', `${JSON.stringify(key)} is not a server key (expected 32 lower-case hex characters, as shown by "mcp-relay status")`);
    }
    return this.open(key, this.serversDir);
  }

  /**
   * The shared records of one authorization server (`issuers/<issuerKey>/`): today its
   * client.json, a dynamic registration every server behind that issuer may reuse (see
   * auth/registration.ts). Same files, lock and secret backend as a server directory; never
   * listed by `status`.
   */
  issuer(issuer: string): ServerStore {
    return this.open(issuerKey(issuer), this.issuersDir);
  }

  /**
   * Forget every issuer record (`logout --all`): each under its lock, keychain entries included.
   * Servers that reused one keep their own copy in client.json until their own logout.
   */
  async removeIssuerRecords(): Promise<void> {
    await this.ready(false);
    let names: string[];
    try {
      names = await fs.readdir(this.issuersDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new RelayError('STORE_IO', `could not list ${this.issuersDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check its permissions`, {
        cause: err,
      });
    }
    for (const key of names.filter((n) => SERVER_KEY_PATTERN.test(n))) {
      const record = this.open(key, this.issuersDir);
      await record.withLock(() => record.removeAll());
      await record.removeAll(); // the emptied directory, now that the lock is gone
    }
  }

  private open(key: string, parent: string): ServerStore {
    return new ServerStore(key, join(parent, key), {
      log: this.log,
      secrets: this.secrets,
      ready: (forWrite) => this.ready(forWrite),
      ensureParents: async () => {
        await ensurePrivateDir(this.root);
        await ensurePrivateDir(parent);
      },
      issuer: (issuer) => this.issuer(issuer),
    });
  }

  /** Every server directory in the store, with its server.json when readable. */
  async list(): Promise<ListedServer[]> {
    await this.ready(false);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(this.serversDir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new RelayError(
        'STORE_IO',
        `could not list ${this.serversDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check its permissions, or set MCP_RELAY_HOME to move the store`,
        { cause: err },
      );
    }
    const keys = entries
      .filter((e) => e.isDirectory() && SERVER_KEY_PATTERN.test(e.name))
      .map((e) => e.name)
      .sort();
    const listed: ListedServer[] = [];
    for (const key of keys) {
      const store = this.server(key);
      const server = await store.readServer();
      listed.push(server === undefined ? { key, dir: store.dir } : { key, dir: store.dir, server });
    }
    return listed;
  }

  /**
   * Check layout.json before touching anything else (see ./layout.ts). Once it is known to be
   * current it is not read again by this instance.
   */
  private async ready(forWrite: boolean): Promise<void> {
    if (this.layoutVerified) return;
    this.layoutVerified = await checkLayout(this.root, this.log, { forWrite });
  }
}

interface ServerStoreDeps {
  log: Logger;
  secrets: SecretBackends;
  ready: (forWrite: boolean) => Promise<void>;
  ensureParents: () => Promise<void>;
  issuer: (issuer: string) => ServerStore;
}

/** The files of one server. Reads never lock; writes are atomic and create the directory. */
export class ServerStore {
  readonly key: string;
  readonly dir: string;
  private readonly deps: ServerStoreDeps;

  constructor(key: string, dir: string, deps: ServerStoreDeps) {
    this.key = key;
    this.dir = dir;
    this.deps = deps;
  }

  readServer(): Promise<StoredServer | undefined> {
    return this.read(FILES.server, parseServer);
  }
  writeServer(server: StoredServer): Promise<void> {
    return this.write(FILES.server, server, parseServer);
  }
  /** Record that the server was used now. Best effort: never throws (not worth failing a request for). */
  async touch(now: number = Date.now()): Promise<void> {
    try {
      const server = await this.readServer();
      if (server) await this.writeServer({ ...server, last_used_at: now });
    } catch (err) {
      this.deps.log.debug({ err, dir: this.dir }, 'could not update last_used_at in server.json');
    }
  }

  readClient(): Promise<StoredClient | undefined> {
    return this.read(FILES.client, parseClient);
  }
  writeClient(client: StoredClient): Promise<void> {
    return this.write(FILES.client, client, parseClient);
  }
  clearClient(): Promise<void> {
    return this.clear(FILES.client);
  }

  /** The shared records of the authorization server `issuer` in the same store ({@link CredentialStore.issuer}). */
  issuerStore(issuer: string): ServerStore {
    return this.deps.issuer(issuer);
  }

  readTokens(): Promise<StoredTokens | undefined> {
    return this.read(FILES.tokens, parseTokens);
  }
  writeTokens(tokens: StoredTokens): Promise<void> {
    return this.write(FILES.tokens, tokens, parseTokens);
  }
  clearTokens(): Promise<void> {
    return this.clear(FILES.tokens);
  }
  /**
   * With --credential-store keychain, fail now (before a browser login whose tokens could not be
   * kept) when no keychain is usable here. Other modes decide lazily, at the first secret written
   * (auto) or read from the keychain.
   * @throws RelayError `KEYCHAIN_UNAVAILABLE`
   */
  async checkSecretStore(): Promise<void> {
    if (this.deps.secrets.mode === 'keychain') {
      await this.deps.secrets.forWrite();
      return;
    }
    // A stored login in the keychain: start its probe (a child process) now, alongside the rest
    // of the start-up, rather than when the first request needs the token. Errors surface there.
    // A store that cannot be read is not this check's business: the first request that needs the
    // store reports it (a server that needs no login must keep working).
    const backend = await this.tokensBackend().catch(() => undefined);
    if (backend === 'keychain') this.deps.secrets.byName('keychain').catch(() => undefined);
  }
  /** Where the secrets of the stored login are (what `status` shows); undefined without tokens. */
  async tokensBackend(): Promise<SecretBackendName | undefined> {
    await this.deps.ready(false);
    return secretBackendOf(join(this.dir, FILES.tokens));
  }

  readDiscovery(): Promise<StoredDiscovery | undefined> {
    return this.read(FILES.discovery, parseDiscovery);
  }
  writeDiscovery(discovery: StoredDiscovery): Promise<void> {
    return this.write(FILES.discovery, discovery, parseDiscovery);
  }

  readCache(): Promise<StoredCache | undefined> {
    return this.read(FILES.cache, parseCache);
  }
  writeCache(cache: StoredCache): Promise<void> {
    return this.write(FILES.cache, cache, parseCache);
  }

  readRemote(): Promise<StoredRemote | undefined> {
    return this.read(FILES.remote, parseRemote);
  }
  writeRemote(remote: StoredRemote): Promise<void> {
    return this.write(FILES.remote, remote, parseRemote);
  }

  readPending(): Promise<PendingLogin | undefined> {
    return this.read(FILES.pending, parsePending);
  }
  writePending(pending: PendingLogin): Promise<void> {
    return this.write(FILES.pending, pending, parsePending);
  }
  clearPending(): Promise<void> {
    return this.clear(FILES.pending);
  }

  /**
   * Forget this server: delete the keychain entries its files name, every file in its
   * directory (credentials, set-aside corrupt files, leftover temp files) and then the
   * directory. The lock is left alone, so this is safe inside {@link withLock}; the then-empty
   * directory goes when the lock is released
   * and the next removeAll or write runs (an empty directory lists without `server`).
   */
  async removeAll(): Promise<void> {
    await this.deps.ready(false);
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new RelayError('STORE_IO', `could not list ${this.dir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; check its permissions`, {
        cause: err,
      });
    }
    for (const name of names) if (secretFields(name)) await forgetSecrets(join(this.dir, name), this.deps.secrets, this.deps.log);
    for (const name of names) {
      if (name === LOCK_NAME) continue;
      const path = join(this.dir, name);
      try {
        await fs.rm(path, { recursive: true, force: true });
      } catch (err) {
        throw new RelayError('STORE_IO', `could not remove ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}; delete it by hand`, { cause: err });
      }
    }
    // Fails while the lock is held (not empty): that is fine, see above.
    await fs.rmdir(this.dir).catch(() => undefined);
  }

  /**
   * Run `fn` holding this server's cross-process lock (see ./lock.ts), creating the directory
   * first. Re-read the files inside `fn` before acting on them: another process may have
   * changed them while this one waited.
   */
  async withLock<T>(fn: (signal: AbortSignal) => Promise<T>, opts: WithLockOptions = {}): Promise<T> {
    await this.ensureDir();
    return withLock(this.dir, fn, { log: this.deps.log, ...opts });
  }

  private async read<T>(name: string, parse: (v: unknown) => T): Promise<T | undefined> {
    await this.deps.ready(false);
    const file = join(this.dir, name);
    if (secretFields(name)) return readSecretFile(file, parse, this.deps.secrets, this.deps.log);
    return readJsonFile(file, parse, this.deps.log);
  }

  private async write<T>(name: string, data: T, parse: (v: unknown) => T): Promise<void> {
    let checked: T;
    try {
      // Write only what a reader will accept (and in its normalised form), so a bug here
      // shows up now rather than as a file moved aside later.
      checked = parse(JSON.parse(JSON.stringify(data)) as unknown);
    } catch (err) {
      throw new RelayError('STORE_IO', `refusing to write ${join(this.dir, name)}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    await this.ensureDir();
    const fields = secretFields(name);
    if (fields) await writeSecretFile(join(this.dir, name), checked as Record<string, unknown>, fields, this.deps.secrets, this.deps.log);
    else await writeJsonFileAtomic(join(this.dir, name), checked);
  }

  private async clear(name: string): Promise<void> {
    await this.deps.ready(false);
    const file = join(this.dir, name);
    // The file names its keychain entry: delete that first (a file left without its entry reads as no login).
    if (secretFields(name)) await forgetSecrets(file, this.deps.secrets, this.deps.log);
    await removeFile(file);
  }

  /** Directories are created lazily and re-created if someone deleted the store meanwhile. */
  private async ensureDir(): Promise<void> {
    await this.deps.ready(true);
    await this.deps.ensureParents();
    await ensurePrivateDir(this.dir);
  }
}
