/**
 * Where the secrets of the store's files live. The files (layout, metadata, the lock) always
 * stay in the store directory; only the fields listed in {@link SECRET_FIELDS} may go to another
 * backend, and the file then records which backend holds them and which version it wrote
 * (`"secrets": {"store": "keychain", "version": "<hex>"}`). A new backend is one new file here
 * plus its entry in ./select.ts.
 */
import { TOKEN_SECRET_FIELDS } from '../guards.js';

/** `--credential-store`: where new secrets are written (reads follow what each file records). */
export type CredentialStoreMode = 'auto' | 'keychain' | 'file';
export const CREDENTIAL_STORE_MODES = ['auto', 'keychain', 'file'] as const satisfies readonly CredentialStoreMode[];

/** The backends a file can name as holding its secrets ("file" = inline, the default). */
export type SecretBackendName = 'file' | 'keychain';
/** Backends that keep secrets outside the file (what `"secrets".store` may name). */
export const EXTERNAL_BACKENDS: ReadonlySet<string> = new Set<SecretBackendName>(['keychain']);

/**
 * THE list of secret fields, per store file. Everything else in a file is metadata and stays in
 * the file. A new secret field is one more entry here (for tokens.json: TOKEN_SECRET_FIELDS in guards.ts);
 * values may be any JSON (strings, objects such as a JWK).
 */
export const SECRET_FIELDS: Readonly<Record<string, readonly string[]>> = {
  'tokens.json': TOKEN_SECRET_FIELDS,
  'client.json': ['client_secret'],
};

/** What a file records about its secrets when they live outside it. */
export interface SecretRef {
  store: Exclude<SecretBackendName, 'file'>;
  /** Random, new on every write; the entry holds the same value so a reader can tell a mix of generations. */
  version: string;
}

/** The secrets of one file as one backend entry holds them. */
export interface SecretEntry {
  version: string;
  secrets: Record<string, unknown>;
}

export interface SecretBackend {
  readonly name: SecretBackendName;
  /** True for the file backend: the secrets stay in the JSON file and put/get/delete are never called. */
  readonly inline: boolean;
  /**
   * Replace the entry of the store file `file` (an absolute path, the entry's name).
   * @throws RelayError `KEYCHAIN_UNAVAILABLE` naming the cause (never a secret).
   */
  put(file: string, entry: SecretEntry): Promise<void>;
  /** The entry of `file`, or undefined when there is none (deleted by the user: no login). */
  get(file: string): Promise<SecretEntry | undefined>;
  /** Delete the entry of `file`; an absent one is fine. */
  delete(file: string): Promise<void>;
}
