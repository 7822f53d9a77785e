/**
 * A stand-in for the user's browser that approves whatever it is asked: for tests and demos
 * that must run a real authorization code flow without a human. Plain fetch, no DOM.
 */
import { RelayError } from '../errors.js';
import { scrub } from '../log.js';

/** A real login is a handful of redirects; more means a loop. */
export const MAX_HOPS = 10;
/** Labels of the button a user presses to consent. */
const APPROVE_LABEL = /\b(approve|allow|authori[sz]e|accept|continue)\b/i;

export interface FollowingOpenerOptions {
  /** Called with every URL the "browser" requests, in order (including the callback). */
  onVisit?(url: string): void;
  /** Injected for tests of the opener itself; default global fetch. */
  fetchFn?: typeof fetch;
}

interface SubmittableForm {
  action: string;
  method: 'GET' | 'POST';
  fields: URLSearchParams;
}

function decodeEntities(s: string): string {
  return s.replace(/&(#x[0-9a-f]+|#\d+|amp|lt|gt|quot|apos|#39);/gi, (_, e: string) => {
    const lower = e.toLowerCase();
    if (lower.startsWith('#x')) return String.fromCodePoint(parseInt(lower.slice(2), 16));
    if (lower.startsWith('#')) return String.fromCodePoint(parseInt(lower.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[lower] ?? '';
  });
}

function parseAttributes(tag: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const m of tag.matchAll(/([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?/g)) {
    attrs.set(m[1]!.toLowerCase(), decodeEntities(m[2] ?? m[3] ?? m[4] ?? ''));
  }
  return attrs;
}

/**
 * The form whose submit button approves (by its value or label), with the fields a browser
 * would send when that button is pressed. Pure; exported for tests.
 */
export function findApproveForm(html: string): SubmittableForm | undefined {
  for (const form of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
    const formAttrs = parseAttributes(form[1]!);
    const inner = form[2]!;
    const fields = new URLSearchParams();
    let submitter: Map<string, string> | undefined;
    for (const input of inner.matchAll(/<input\b([^>]*)>/gi)) {
      const a = parseAttributes(input[1]!);
      const type = (a.get('type') ?? 'text').toLowerCase();
      if (type === 'submit') {
        if (!submitter && APPROVE_LABEL.test(a.get('value') ?? '')) submitter = a;
        continue;
      }
      if (type === 'button' || type === 'image' || type === 'reset') continue;
      if ((type === 'checkbox' || type === 'radio') && !a.has('checked')) continue;
      const name = a.get('name');
      if (name) fields.append(name, a.get('value') ?? (type === 'checkbox' ? 'on' : ''));
    }
    for (const button of inner.matchAll(/<button\b([^>]*)>([\s\S]*?)<\/button>/gi)) {
      const a = parseAttributes(button[1]!);
      const label = decodeEntities(button[2]!.replace(/<[^>]*>/g, '')).trim();
      if ((a.get('type') ?? 'submit').toLowerCase() !== 'submit') continue;
      if (!submitter && (APPROVE_LABEL.test(label) || APPROVE_LABEL.test(a.get('value') ?? ''))) submitter = a;
    }
    if (!submitter) continue;
    const name = submitter.get('name');
    if (name) fields.append(name, submitter.get('value') ?? '');
    return { action: formAttrs.get('action') ?? '', method: (formAttrs.get('method') ?? 'get').toUpperCase() === 'POST' ? 'POST' : 'GET', fields };
  }
  return undefined;
}

/** Only http(s) ever leaves this "browser" (no file:, javascript:, data:, custom schemes). */
function checkedUrl(value: string, base?: URL): URL {
  let url: URL;
  try {
    url = new URL(value, base);
  } catch {
    throw new RelayError('UNSAFE_URL', `the browser was given an invalid URL: ${scrub(value)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RelayError('UNSAFE_URL', `the browser refuses to open a ${url.protocol} URL (only http and https)`);
  }
  return url;
}

function isLoopback(url: URL): boolean {
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(url.hostname));
}

/**
 * An opener that behaves like a browser whose user approves everything: GET the URL without
 * following redirects automatically, follow Location headers (relative ones resolved), submit
 * the Approve button of a consent form, and stop after requesting the loopback callback: the
 * first loopback http URL on another origin than the one the flow started on. A 2xx page
 * without an approve form also ends the walk (e.g. "device connected"); a 4xx/5xx page, more
 * than {@link MAX_HOPS} requests, or a non-http(s) URL rejects.
 */
export function followingOpener(opts: FollowingOpenerOptions = {}): (url: string) => Promise<void> {
  const fetchFn = opts.fetchFn ?? fetch;
  return async (start: string) => {
    let url = checkedUrl(start);
    const startOrigin = url.origin;
    let method: 'GET' | 'POST' = 'GET';
    let body: URLSearchParams | undefined;
    for (let hop = 0; hop < MAX_HOPS; hop++) {
      opts.onVisit?.(url.href);
      const res = await fetchFn(url, {
        method,
        redirect: 'manual',
        ...(body ? { body, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } } : {}),
      });
      if (isLoopback(url) && url.origin !== startOrigin) {
        await res.arrayBuffer();
        return;
      }
      if (res.status >= 300 && res.status < 400) {
        await res.arrayBuffer();
        const location = res.headers.get('location');
        if (!location) throw new RelayError('AUTH_FAILED', `HTTP ${res.status} without Location at ${scrub(url.href)}`);
        url = checkedUrl(location, url);
        method = 'GET';
        body = undefined;
        continue;
      }
      const text = await res.text();
      if (!res.ok) throw new RelayError('AUTH_FAILED', `the login page answered HTTP ${res.status} at ${scrub(url.href)}`, { status: res.status });
      const form = findApproveForm(text);
      if (!form) return;
      const target = checkedUrl(form.action || url.href, url);
      if (form.method === 'GET') {
        target.search = form.fields.toString();
        body = undefined;
      } else {
        body = form.fields;
      }
      url = target;
      method = form.method;
    }
    throw new RelayError('AUTH_FAILED', `the login did not reach its callback within ${MAX_HOPS} requests`);
  };
}
