/**
 * NO_PROXY as curl reads it (curl's CURLOPT_NOPROXY and its man page), for every request the
 * relay makes: entries separated by commas or blanks; `*` alone exempts every host; a host name
 * exempts itself and its subdomains, with or without a leading `.` (or `*.`); `host:port` exempts
 * that port only; an IP literal (IPv6 with or without brackets) exempts that address; a CIDR block
 * (`10.0.0.0/8`, `fd00::/8`) exempts the IP literals inside it. Names are never resolved to match
 * a CIDR block (curl does not either). undici's EnvHttpProxyAgent knows no CIDR, so the relay
 * decides per request with this and hands undici a direct agent or a proxy agent.
 * CIDR matching is node:net's BlockList.
 */
import { BlockList, isIP } from 'node:net';

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

interface HostEntry {
  host: string;
  port: number | undefined;
}

/** A matcher for one NO_PROXY value: true when `url` must not go through the proxy. */
export function noProxyMatcher(value: string | undefined): (url: URL) => boolean {
  const entries = (value ?? '').split(/[,\s]+/).filter(Boolean);
  if (entries.includes('*')) return () => true;
  const hosts: HostEntry[] = [];
  const blocks = new BlockList();
  let anyBlock = false;
  for (const raw of entries) {
    const entry = raw.toLowerCase();
    const cidr = entry.match(/^\[?([0-9a-f:.]+)\]?\/(\d{1,3})$/);
    if (cidr && isIP(cidr[1]!)) {
      const type = isIP(cidr[1]!) === 6 ? 'ipv6' : 'ipv4';
      const prefix = Number(cidr[2]);
      if (prefix <= (type === 'ipv6' ? 128 : 32)) {
        blocks.addSubnet(cidr[1]!, prefix, type);
        anyBlock = true;
      }
      continue;
    }
    // [v6]:port, v4-or-name:port; a bare IPv6 literal has colons but no port.
    const bracketed = entry.match(/^\[([0-9a-f:.]+)\](?::(\d+))?$/);
    if (bracketed) {
      hosts.push({ host: bracketed[1]!, port: bracketed[2] ? Number(bracketed[2]) : undefined });
      continue;
    }
    if (isIP(entry) === 6) {
      hosts.push({ host: entry, port: undefined });
      continue;
    }
    const withPort = entry.match(/^(.+):(\d+)$/);
    const host = (withPort ? withPort[1]! : entry).replace(/^\*?\./, '');
    if (host) hosts.push({ host, port: withPort ? Number(withPort[2]) : undefined });
  }
  return (url: URL) => {
    const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
    const port = url.port ? Number(url.port) : (DEFAULT_PORTS[url.protocol] ?? 0);
    for (const e of hosts) {
      if (e.port !== undefined && e.port !== port) continue;
      if (host === e.host || (isIP(host) === 0 && host.endsWith(`.${e.host}`))) return true;
    }
    const ip = isIP(host);
    return anyBlock && ip !== 0 && blocks.check(host, ip === 6 ? 'ipv6' : 'ipv4');
  };
}
