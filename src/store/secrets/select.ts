/**
 * Which backend holds secrets: for writing, the one `--credential-store` asks for (auto: the
 * keychain where usable, else the files, said once in the log); for reading, the one each file
 * names. The keychain module is imported only on the first call that needs it.
 */
import { RelayError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CredentialStoreMode, SecretBackend, SecretBackendName } from './backend.js';
import { FILE_BACKEND } from './file.js';

/** Once per process, whatever the number of stores opened: the fallback is a fact about the machine. */
let fallbackLogged = false;

export class SecretBackends {
  constructor(
    readonly mode: CredentialStoreMode,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: Logger,
  ) {}

  /**
   * Where new secrets go.
   * @throws RelayError `KEYCHAIN_UNAVAILABLE` in keychain mode when no keychain is usable here.
   */
  async forWrite(): Promise<SecretBackend> {
    if (this.mode === 'file') return FILE_BACKEND;
    const kc = await this.keychain();
    if ('backend' in kc) return kc.backend;
    if (this.mode === 'keychain') throw unavailable(kc.reason);
    this.fallBack(kc.reason);
    return FILE_BACKEND;
  }

  /**
   * A keychain write failed after a good probe (e.g. an entry over Windows' 2.5 KB limit):
   * auto keeps the secrets in the file (logged once); keychain mode rethrows.
   */
  writeFailed(err: unknown): SecretBackend {
    if (this.mode !== 'auto') throw err;
    this.fallBack(err instanceof Error ? err.message : String(err));
    return FILE_BACKEND;
  }

  /**
   * The backend a file names as holding its secrets.
   * @throws RelayError `KEYCHAIN_UNAVAILABLE` when it is the keychain and none is usable here.
   */
  async byName(name: SecretBackendName): Promise<SecretBackend> {
    if (name === 'file') return FILE_BACKEND;
    const kc = await this.keychain();
    if ('backend' in kc) return kc.backend;
    throw new RelayError(
      'KEYCHAIN_UNAVAILABLE',
      `this login's secrets are in the OS keychain, which is not usable here: ${kc.reason}. Run mcp-relay where that keychain is available, or log out and log in again here`,
    );
  }

  private async keychain(): Promise<{ backend: SecretBackend } | { reason: string }> {
    return (await import('./keychain.js')).openKeychain(this.env);
  }

  private fallBack(reason: string): void {
    if (fallbackLogged) return;
    fallbackLogged = true;
    this.log.warn(
      `OS keychain not usable (${reason}); keeping credentials in owner-only (0600) files in the store directory instead. --credential-store file silences this, --credential-store keychain makes it an error`,
    );
  }
}

function unavailable(reason: string): RelayError {
  return new RelayError(
    'KEYCHAIN_UNAVAILABLE',
    `--credential-store keychain: no usable OS keychain here: ${reason}. Fix that, or use --credential-store auto (falls back to files) or file`,
  );
}
