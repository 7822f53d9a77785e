/**
 * The OS keychain backend (macOS Keychain, Windows Credential Manager, a Secret Service such as
 * gnome-keyring or KeePassXC on Linux) through @napi-rs/keyring. This module and the native
 * library are loaded with a dynamic import only when a keychain is used: a relay that keeps its
 * secrets in files never maps them.
 *
 * One entry per store file: service "mcp-relay", account = the file's absolute path (so two
 * stores, e.g. two MCP_RELAY_HOMEs, never share entries), password = JSON {version, secrets}.
 *
 * Usability is probed once per process, before the first use, by writing, reading back and
 * deleting a probe entry in a CHILD process killed after {@link PROBE_TIMEOUT_MS}: on Linux the
 * library connects to D-Bus synchronously, and a bus or daemon that accepts but never answers
 * (or a keychain waiting for a password prompt) would otherwise freeze the relay; a stuck
 * worker thread would still block the relay's exit.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RelayError } from '../../errors.js';
import type { SecretBackend, SecretEntry } from './backend.js';

/** The keychain service name of every entry. */
export const KEYCHAIN_SERVICE = 'mcp-relay';
/** The probe (a child process) is killed after this long, and the keychain counted unusable. */
export const PROBE_TIMEOUT_MS = 10_000;
/** One keychain operation after a good probe (a prompt may be answered by a person meanwhile). */
const OP_TIMEOUT_MS = 30_000;
const LIB = '@napi-rs/keyring';

type Keyring = typeof import('@napi-rs/keyring');
type Usable = { backend: SecretBackend } | { reason: string };

/** On Linux the entries are pinned to the Secret Service: the library's fallback, the kernel keyring, forgets them at reboot. */
function entryOptions(): { linux: { store: 'secret-service' } } | undefined {
  return process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined;
}

/** Run by `node --input-type=module -e` with argv: library URL, service, account, value. Prints one JSON line. */
const PROBE_SCRIPT = `
const [, url, service, account, value] = process.argv;
const say = (o) => process.stdout.write(JSON.stringify(o));
try {
  const m = await import(url);
  const { AsyncEntry } = m.AsyncEntry ? m : m.default;
  const e = new AsyncEntry(service, account, process.platform === 'linux' ? { linux: { store: 'secret-service' } } : undefined);
  await e.setPassword(value);
  const got = await e.getPassword();
  await e.deletePassword();
  say(got === value ? { ok: true } : { ok: false, reason: 'the keychain returned something else than was stored' });
} catch (err) {
  say({ ok: false, reason: String(err && err.message ? err.message : err) });
}`;

let probed: Promise<Usable> | undefined;

/**
 * The keychain backend when usable here, else why not (a sentence with the next step). Probed
 * once per process; later calls share the first answer.
 */
export function openKeychain(env: NodeJS.ProcessEnv): Promise<Usable> {
  probed ??= probe(env);
  return probed;
}

async function probe(env: NodeJS.ProcessEnv): Promise<Usable> {
  if (process.platform === 'linux') {
    const runtime = env.XDG_RUNTIME_DIR;
    // libdbus's own default when the variable is unset; with neither there is no bus to ask.
    if (!env.DBUS_SESSION_BUS_ADDRESS && !(runtime && existsSync(join(runtime, 'bus')))) {
      return { reason: 'no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is not set), so no Secret Service to hold secrets' };
    }
  }
  let url: string;
  try {
    url = import.meta.resolve(LIB);
  } catch {
    return { reason: `${LIB} is not installed with this mcp-relay` };
  }
  const account = `probe ${process.pid} ${Date.now()}`;
  const answer = await runProbe(url, account, env);
  if (answer.ok) return { backend: new KeychainBackend(await loadKeyring()) };
  return { reason: explain(answer.reason) };
}

function runProbe(url: string, account: string, env: NodeJS.ProcessEnv): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, url, KEYCHAIN_SERVICE, account, 'mcp-relay probe'], {
      env,
      stdio: ['ignore', 'pipe', 'ignore'],
      windowsHide: true,
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({
        ok: false,
        reason: `the keychain did not answer within ${PROBE_TIMEOUT_MS / 1000} s (locked and waiting for a password, or a D-Bus service that does not respond)`,
      });
    }, PROBE_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: `could not run the keychain probe: ${err.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as { ok: true } | { ok: false; reason: string });
      } catch {
        resolve({ ok: false, reason: `the keychain probe ended without an answer (exit ${code})` });
      }
    });
  });
}

/** The library's message, plus what to do about it where we can tell. */
function explain(reason: string): string {
  if (process.platform !== 'linux') return reason;
  if (/ServiceUnknown|org\.freedesktop\.secrets|not provided by any/i.test(reason)) {
    return `no Secret Service on the D-Bus session bus (${reason}); start one such as gnome-keyring-daemon or KeePassXC's Secret Service integration`;
  }
  if (/connect|socket|No such file/i.test(reason)) return `the D-Bus session bus cannot be reached (${reason})`;
  return reason;
}

async function loadKeyring(): Promise<Keyring> {
  const m = (await import(LIB)) as Keyring & { default?: Keyring };
  return m.AsyncEntry ? m : (m.default as Keyring);
}

function failure(op: string, file: string, err: unknown): RelayError {
  const msg = err instanceof Error ? err.message : String(err);
  return new RelayError('KEYCHAIN_UNAVAILABLE', `the OS keychain failed to ${op} the entry of ${file}: ${explain(msg)}`, { cause: err });
}

/**
 * No memory of entries between reads: after a writer died between its entry and its file, the
 * file names the old version and only the keychain has the newest (rotated) refresh token; a
 * copy remembered by version would hand out the dead one.
 */
class KeychainBackend implements SecretBackend {
  readonly name = 'keychain' as const;
  readonly inline = false;

  constructor(private readonly lib: Keyring) {}

  private entry(file: string) {
    return new this.lib.AsyncEntry(KEYCHAIN_SERVICE, file, entryOptions());
  }

  async put(file: string, entry: SecretEntry): Promise<void> {
    try {
      await this.entry(file).setPassword(JSON.stringify(entry), AbortSignal.timeout(OP_TIMEOUT_MS));
    } catch (err) {
      throw failure('write', file, err);
    }
  }

  async get(file: string): Promise<SecretEntry | undefined> {
    let text: string | null;
    try {
      text = await this.entry(file).getPassword(AbortSignal.timeout(OP_TIMEOUT_MS));
    } catch (err) {
      throw failure('read', file, err);
    }
    return text === null ? undefined : parseEntry(text);
  }

  async delete(file: string): Promise<void> {
    try {
      await this.entry(file).deletePassword(AbortSignal.timeout(OP_TIMEOUT_MS));
    } catch (err) {
      throw failure('delete', file, err);
    }
  }
}

/** An entry that is not ours (or damaged) counts as absent: a login replaces it. */
function parseEntry(text: string): SecretEntry | undefined {
  try {
    const v = JSON.parse(text) as { version?: unknown; secrets?: unknown };
    if (typeof v.version !== 'string' || typeof v.secrets !== 'object' || v.secrets === null || Array.isArray(v.secrets)) return undefined;
    return { version: v.version, secrets: v.secrets as Record<string, unknown> };
  } catch {
    return undefined;
  }
}
