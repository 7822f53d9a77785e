/**
 * A real Secret Service for tests: a private D-Bus session bus (dbus-daemon with its own config
 * and socket in a temp dir) and gnome-keyring-daemon on it, unlocked with a throwaway password,
 * its keyrings in the same temp dir. Relays get `env` to reach it; `stop()` kills both daemons.
 *
 * When gnome-keyring-daemon or dbus-daemon is missing, `startKeyring()` resolves to a string
 * saying why: tests then skip, unless MCP_RELAY_KEYCHAIN_TESTS=required (CI), where it throws.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Keyring {
  /** DBUS_SESSION_BUS_ADDRESS and friends, for relays and for the library in the test process. */
  env: Record<string, string>;
  /** The pid of the bus (tests stop it with SIGSTOP to play a bus that hangs). */
  busPid: number;
  stop(): Promise<void>;
}

/** How long the daemons get to start (their sockets appear). */
const START_TIMEOUT_MS = 15_000;
const POLL_MS = 50;

function has(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function keyringMissing(): string | undefined {
  const missing = ['dbus-daemon', 'gnome-keyring-daemon'].filter((c) => !has(c));
  if (missing.length === 0) return undefined;
  const why = `${missing.join(' and ')} not installed (apt-get install gnome-keyring dbus)`;
  if (process.env.MCP_RELAY_KEYCHAIN_TESTS === 'required') throw new Error(`MCP_RELAY_KEYCHAIN_TESTS=required but ${why}`);
  return why;
}

export async function startKeyring(): Promise<Keyring> {
  const dir = await mkdtemp(join(tmpdir(), 'mcp-relay-keyring-'));
  const runtime = join(dir, 'run');
  await mkdir(runtime, { mode: 0o700 });
  const socket = join(dir, 'bus');
  const config = join(dir, 'bus.conf');
  await writeFile(
    config,
    `<busconfig><type>session</type><listen>unix:path=${socket}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>\n`,
  );
  // --fork --print-pid: the daemon detaches; we learn its pid to kill it.
  const busOut = execFileSync('dbus-daemon', ['--config-file', config, '--fork', '--print-address=1', '--print-pid=1'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const busPid = Number(busOut[1]);
  const env: Record<string, string> = {
    DBUS_SESSION_BUS_ADDRESS: `unix:path=${socket}`,
    XDG_RUNTIME_DIR: runtime,
    XDG_DATA_HOME: join(dir, 'data'),
  };
  const keyring = spawn('gnome-keyring-daemon', ['--unlock', '--components=secrets', '--foreground'], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...env },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  keyring.stdin.end('test-password');
  const stop = async () => {
    keyring.kill('SIGKILL');
    try {
      process.kill(busPid, 'SIGCONT');
      process.kill(busPid, 'SIGKILL');
    } catch {
      // already gone
    }
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  // Ready when the Secret Service answers through the library (the same path the relay takes).
  const { AsyncEntry } = await import('@napi-rs/keyring');
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        const e = new AsyncEntry('mcp-relay-test', 'ready', { linux: { store: 'secret-service' } });
        await e.setPassword('x');
        await e.deletePassword();
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          await stop();
          throw new Error(`the test Secret Service did not come up: ${String(err)}`);
        }
        await sleep(POLL_MS);
      }
    }
  } finally {
    for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
    Object.assign(process.env, saved);
  }
  return { env, busPid, stop };
}

/** The entry the relay keeps for a store file, read through the Secret Service of `k` (null: none). */
export async function keychainEntry(k: Keyring, file: string): Promise<string | null> {
  const { AsyncEntry } = await import('@napi-rs/keyring');
  const saved = process.env.DBUS_SESSION_BUS_ADDRESS;
  process.env.DBUS_SESSION_BUS_ADDRESS = k.env.DBUS_SESSION_BUS_ADDRESS;
  try {
    return await new AsyncEntry('mcp-relay', file, { linux: { store: 'secret-service' } }).getPassword();
  } finally {
    if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
    else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
  }
}
