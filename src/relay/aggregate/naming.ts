/**
 * Names in the aggregate. Tools and prompts of server `s` are shown to the host as
 * `<prefix>__<name>`, the prefix being `s` unless the server's entry sets another one (`""` or
 * false: no prefix, the names as they are). Resource URIs are not renamed: they are routed by which
 * server listed them (see {@link NameTable} and routing.ts).
 *
 * Clash rules (README "One relay for many servers"):
 * - at start: two servers with the same prefix, or more than one server without a prefix, is a
 *   configuration error (exit 2), because no name could tell their tools apart;
 * - at list time: when two servers still end up showing the same name (an unprefixed server's
 *   tool `gh__x` beside server gh's `x`), or list the same resource URI, the server listed first
 *   in the configuration keeps it, the other's entry is left out of the list, and a warning names
 *   both.
 */
import { RelayError } from '../../errors.js';

/** The default separator between a server's name and its tools' names. */
export const PREFIX_SEPARATOR = '__';

/**
 * What a server's names start with, from its entry's prefix setting (cli/servers.ts: the text
 * before `__`, the server's name unless the file says otherwise; null: no prefix at all).
 */
export function prefixOf(prefix: string | null): string {
  return prefix === null ? '' : `${prefix}${PREFIX_SEPARATOR}`;
}

/** Refuse, before anything connects, a set of prefixes that cannot tell servers apart. */
export function checkPrefixes(servers: ReadonlyArray<{ name: string; prefix: string }>): void {
  const seen = new Map<string, string>();
  for (const s of servers) {
    const other = seen.get(s.prefix);
    if (other !== undefined) {
      const what = s.prefix === '' ? 'both have no prefix' : `both use the prefix "${s.prefix}"`;
      throw new RelayError(
        'BAD_CONFIG',
        `servers "${other}" and "${s.name}" ${what}, so their tools and prompts could not be told apart; give one of them another "prefix" in the config file`,
      );
    }
    seen.set(s.prefix, s.name);
  }
}

/** Which server shows an item under a name, and the item's own name there. */
export interface Owner {
  server: string;
  name: string;
}

/**
 * The names (or URIs) the host was shown, per kind, from the list answers seen so far: the
 * router looks a call's name up here first, and falls back to the prefixes for names it has not
 * listed (a host that calls a tool it knows from an earlier session).
 */
export class NameTable {
  private readonly names = new Map<string, Owner>();

  /**
   * Record that `server` shows its item `name` as `shown`. Returns false (and records nothing)
   * when another server already shows that name: the caller leaves the item out of the list.
   */
  claim(shown: string, owner: Owner): boolean {
    const had = this.names.get(shown);
    if (had && had.server !== owner.server) return false;
    this.names.set(shown, owner);
    return true;
  }

  get(shown: string): Owner | undefined {
    return this.names.get(shown);
  }

  entries(): IterableIterator<[string, Owner]> {
    return this.names.entries();
  }

  /** Names a server no longer shows (its list changed) are forgotten when it lists again. */
  forgetServer(server: string): void {
    for (const [k, v] of this.names) if (v.server === server) this.names.delete(k);
  }
}

/**
 * The server whose prefix starts `shown` (the longest such prefix, so `gh__` and `gh__x__` both
 * work), and the name without it; an unprefixed server takes what no prefix claims.
 */
export function splitByPrefix(shown: string, servers: ReadonlyArray<{ name: string; prefix: string }>): Owner | undefined {
  let best: { name: string; prefix: string } | undefined;
  for (const s of servers) {
    if (s.prefix !== '' && shown.startsWith(s.prefix) && shown.length > s.prefix.length && (!best || s.prefix.length > best.prefix.length)) best = s;
  }
  best ??= servers.find((s) => s.prefix === '');
  return best && { server: best.name, name: shown.slice(best.prefix.length) };
}

/** RFC 6570 level-1 style match: each `{…}` is one or more characters (reserved `{+…}` may span `/`). */
export function templateMatches(template: string, uri: string): boolean {
  const body = template
    .split(/(\{[^}]*\})/)
    .map((part) => (part.startsWith('{') ? (part.startsWith('{+') || part.startsWith('{#') ? '.+' : '[^/]+') : part.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`, 's').test(uri);
}
