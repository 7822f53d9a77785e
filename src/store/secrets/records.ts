/**
 * Reading and writing a store file whose secret fields ({@link SECRET_FIELDS}) may live in
 * another backend. Callers keep the store's protocol: writes run under the server's lock, and
 * the backend entry is written BEFORE the file that names its version, so a reader that sees
 * the new file finds the new entry (a reader that sees an older file re-reads it, below).
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { basename } from 'node:path';
import type { Logger } from '../../log.js';
import { readJsonFile, writeJsonFileAtomic } from '../files.js';
import { EXTERNAL_BACKENDS, SECRET_FIELDS, type SecretBackendName, type SecretRef } from './backend.js';
import type { SecretBackends } from './select.js';

/** Bytes of randomness in a version. */
const VERSION_BYTES = 8;
/** Reads of a file whose entry holds another version (a writer between the two) before trusting the entry. */
const MIXED_READ_ATTEMPTS = 3;

type Obj = Record<string, unknown>;

/** The secret fields of a store file name, or undefined for files without secrets. */
export function secretFields(name: string): readonly string[] | undefined {
  return SECRET_FIELDS[name];
}

/** The `"secrets"` reference of a file's JSON; throws (the file is then set aside) when it is malformed. */
function refOf(v: unknown, file: string): SecretRef | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !('secrets' in v)) return undefined;
  const r = (v as Obj).secrets as Obj | null;
  if (r === null || typeof r !== 'object' || typeof r.store !== 'string' || !EXTERNAL_BACKENDS.has(r.store) || typeof r.version !== 'string' || !r.version) {
    throw new Error(`"secrets" in ${basename(file)} must name a secret store (${[...EXTERNAL_BACKENDS].join(', ')}) and a version`);
  }
  return { store: r.store as SecretRef['store'], version: r.version };
}

/** Files whose entry vanished, warned about once per process (waiting relays re-read every 500 ms). */
const vanishedWarned = new Set<string>();

/**
 * Read `file` and its secrets: undefined when the file is absent or damaged (set aside) or its
 * backend entry is gone (deleted in the keychain: that is no login, never a crash).
 * @throws RelayError `KEYCHAIN_UNAVAILABLE` when its backend cannot be used here; `STORE_IO`.
 */
export async function readSecretFile<T>(file: string, parse: (v: unknown) => T, backends: SecretBackends, log: Logger): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    const raw = await readJsonFile<{ ref: SecretRef; rest: Obj } | { value: T }>(
      file,
      (v) => {
        const ref = refOf(v, file);
        return ref ? { ref, rest: v as Obj } : { value: parse(v) };
      },
      log,
    );
    if (raw === undefined) return undefined;
    if ('value' in raw) return raw.value;
    const backend = await backends.byName(raw.ref.store);
    const entry = await backend.get(file);
    if (entry === undefined) {
      if (!vanishedWarned.has(file)) {
        vanishedWarned.add(file);
        log.warn({ file }, `the ${raw.ref.store} entry holding the secrets of ${file} is gone; treating this login as absent (a new login replaces it)`);
      }
      return undefined;
    }
    // Another process wrote a newer entry and is about to replace the file: read the file again.
    // After a few tries trust the entry (a writer died between the two writes; its secrets are the newest).
    if (entry.version !== raw.ref.version && attempt < MIXED_READ_ATTEMPTS) continue;
    const { secrets: _ref, ...rest } = raw.rest;
    try {
      return parse({ ...rest, ...entry.secrets });
    } catch (err) {
      log.warn(
        { file },
        `ignoring ${file}: with its secrets from the ${raw.ref.store} it is not valid (${err instanceof Error ? err.message : String(err)}); a new login replaces it`,
      );
      return undefined;
    }
  }
}

/**
 * Write `record` (already validated) to `file`, its secret fields to the backend chosen for
 * writing. A previous entry in another backend is deleted once the file no longer names it.
 */
export async function writeSecretFile(file: string, record: Obj, fields: readonly string[], backends: SecretBackends, log: Logger): Promise<void> {
  const previous = await peekRef(file);
  const secrets: Obj = {};
  const rest: Obj = {};
  for (const [k, v] of Object.entries(record)) (fields.includes(k) ? secrets : rest)[k] = v;
  let onDisk: Obj = record;
  if (Object.keys(secrets).length > 0) {
    const backend = await backends.forWrite();
    if (!backend.inline) {
      const version = randomBytes(VERSION_BYTES).toString('hex');
      try {
        await backend.put(file, { version, secrets });
        onDisk = { ...rest, secrets: { store: backend.name, version } };
      } catch (err) {
        backends.writeFailed(err); // auto: logged, the secrets stay in the file; otherwise rethrown
      }
    }
  }
  await writeJsonFileAtomic(file, onDisk);
  const now = (onDisk.secrets as SecretRef | undefined)?.store;
  if (previous && previous.store !== now) await forgetEntry(file, previous.store, backends, log);
}

/** Delete the backend entry of `file` if the file names one; call before removing the file. Best effort, with a warning. */
export async function forgetSecrets(file: string, backends: SecretBackends, log: Logger): Promise<void> {
  const ref = await peekRef(file);
  if (ref) await forgetEntry(file, ref.store, backends, log);
}

/** Which backend holds the secrets of `file`: undefined when there is no such file. */
export async function secretBackendOf(file: string): Promise<SecretBackendName | undefined> {
  try {
    await fs.access(file);
  } catch {
    return undefined;
  }
  return (await peekRef(file))?.store ?? 'file';
}

async function forgetEntry(file: string, store: SecretBackendName, backends: SecretBackends, log: Logger): Promise<void> {
  try {
    await (await backends.byName(store)).delete(file);
  } catch (err) {
    log.warn(
      { file },
      `could not delete the ${store} entry of ${file} (${err instanceof Error ? err.message : String(err)}); remove it with your keychain's tool (service "mcp-relay", account "${file}")`,
    );
  }
}

/** The reference in `file`, if any, without judging the rest (tolerant: a damaged file names none). */
async function peekRef(file: string): Promise<SecretRef | undefined> {
  try {
    return refOf(JSON.parse(await fs.readFile(file, 'utf8')) as unknown, file);
  } catch {
    return undefined;
  }
}
