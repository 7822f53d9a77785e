/**
 * A pending login shown by the host itself (MCP 2025-11-25 client/elicitation, "URL Mode
 * Elicitation Requests"): when the host declared `capabilities.elicitation.url` in its
 * `initialize`, the relay sends it one `elicitation/create` request with `mode: "url"`, the
 * authorization URL, a message and an `elicitationId` per login, however many host requests
 * wait on that login, and `notifications/elicitation/complete` with that id when the login ends.
 *
 * Why URL mode fits although the spec says it is "not for authorizing the MCP client's access to
 * the MCP server": to the host, the relay is the MCP server, and the host is not the one
 * authorized. The relay is the OAuth client of a third party (the remote server's authorization
 * server), the user authorizes it directly in the browser, the code comes back to the relay's
 * loopback listener (PKCE-bound), and the tokens never pass through the host: the spec's
 * "External (third-party) Authorization" pattern. The URL carries no credential (only the
 * authorization request: client id, PKCE challenge, state), as "Safe URL Handling" requires.
 *
 * Choices the spec leaves to us:
 * - Sent once the host has sent `notifications/initialized` (lifecycle: no requests other than
 *   pings and logging before that), and only while the user is asked to act. A login that ends
 *   within --login-wait at start-up is therefore never shown (the host is not initialized yet).
 *   A 2026-07-28 host sends no `initialize` (and answers no server requests): it never gets one.
 * - The host's answer: `accept` means the user consented to open the URL (the spec: "does not
 *   mean that the interaction is complete"); `decline` and `cancel` (and an error answer) are
 *   logged and change nothing: the login keeps waiting for the browser, the paste-back command or
 *   another relay's login, as it does for a host without elicitation. The relay does not ask
 *   again during the same login (one elicitation per login).
 * - A login that fails or times out also ends with `notifications/elicitation/complete`: the spec
 *   defines no failure notification (the notification carries only the id), and the interaction
 *   the host is showing has ended either way. The failure itself reaches the host as the answers
 *   of its waiting requests (a JSON-RPC error naming the login failure and how to log in).
 *
 * Ids: the relay forwards the server's own requests to the host with the server's ids unchanged
 * (relay.ts), and its own requests use `mcp-relay-login-<random UUID>` strings. So that the two
 * can never collide, every id with that prefix the host sees is minted here: a server request
 * whose id happens to start with it (it cannot know ours: they stay between relay and host) goes
 * to the host under a fresh id, and the host's answer goes back to the server under the original.
 * The 2026-07-28 input requests use another prefix (remote/v2026/input.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import { isRequest, isResponse, type JsonRpcId, type JsonRpcMessage, type RawMessage } from '../jsonrpc/messages.js';
import type { LoginShield } from './login-shield.js';

export const LOGIN_ELICITATION_ID_PREFIX = 'mcp-relay-login-';

/** The host declared URL-mode elicitation (MCP 2025-11-25 client/elicitation, Capabilities). */
export function hostSupportsUrlElicitation(initialize: JsonRpcMessage): boolean {
  const caps = (initialize.params as { capabilities?: { elicitation?: { url?: unknown } } } | undefined)?.capabilities;
  const url = caps?.elicitation?.url;
  return typeof url === 'object' && url !== null;
}

interface Shown {
  elicitationId: string;
  requestId: string;
  /** The request went out (a login that ended before that gets no completion). */
  sent: boolean;
}

export class LoginElicitation {
  private supported = false;
  private initialized = false;
  /** The elicitation of the current login, from the moment it is decided on. */
  private current: Shown | undefined;
  /** Our requests the host has not answered yet: request id → elicitationId. */
  private readonly asked = new Map<string, string>();
  /** Server requests re-issued to the host under an id of ours: our id → the server's. */
  private readonly renamed = new Map<string, JsonRpcId>();

  constructor(
    private readonly shield: LoginShield,
    private readonly send: (msg: JsonRpcMessage) => void,
    private readonly log: Logger,
  ) {}

  /**
   * See every host message before the relay does. Returns what the relay goes on with: the
   * message as it is, the host's answer to a renamed server request under the server's id (and
   * re-serialised), or undefined for the host's answer to one of our requests (consumed here: it
   * must not reach the server).
   */
  fromHost(msg: JsonRpcMessage, raw: string): [JsonRpcMessage, string] | undefined {
    if (isRequest(msg) && msg.method === 'initialize') {
      this.supported = hostSupportsUrlElicitation(msg);
      return [msg, raw];
    }
    if (msg.method === 'notifications/initialized') {
      this.initialized = true;
      this.showIfWaiting();
      return [msg, raw];
    }
    if (!isResponse(msg) || typeof msg.id !== 'string' || !msg.id.startsWith(LOGIN_ELICITATION_ID_PREFIX)) return [msg, raw];
    const original = this.renamed.get(msg.id);
    if (original !== undefined) {
      this.renamed.delete(msg.id);
      const answer = { ...msg, id: original };
      return [answer, JSON.stringify(answer)];
    }
    const elicitationId = this.asked.get(msg.id);
    // Not ours (any more): the server never had such an id either, so there is no one to tell.
    if (elicitationId === undefined) return undefined;
    this.asked.delete(msg.id);
    const action = (msg.result as { action?: unknown } | undefined)?.action;
    if (msg.error) {
      this.log.info(`the host could not show the login (${msg.error.message}); the login keeps waiting for the browser or \`${this.shield.loginCommand}\``);
    } else if (action === 'accept') {
      this.log.info(`the host showed the login URL and the user agreed to open it (elicitation ${elicitationId})`);
    } else {
      // decline / cancel: the user may still log in another way; asking again would nag.
      this.log.info(
        `the user answered "${String(action)}" to the login shown by the host; the login keeps waiting for the browser or \`${this.shield.loginCommand}\``,
      );
    }
    return undefined;
  }

  /** A message from the server on its way to the host: a request with an id in our namespace is renamed (see the header). */
  fromRemote(msg: JsonRpcMessage, raw: RawMessage | undefined): [JsonRpcMessage, RawMessage | undefined] {
    if (msg.method === 'notifications/cancelled' && this.renamed.size > 0) {
      // The server cancels its request by its own id: the host knows it by ours.
      const params = msg.params as { requestId?: unknown } | undefined;
      const ours = [...this.renamed].find(([, original]) => original === params?.requestId)?.[0];
      if (ours === undefined) return [msg, raw];
      this.renamed.delete(ours);
      return [{ ...msg, params: { ...params, requestId: ours } }, undefined];
    }
    if (!isRequest(msg) || typeof msg.id !== 'string' || !msg.id.startsWith(LOGIN_ELICITATION_ID_PREFIX)) return [msg, raw];
    const id = `${LOGIN_ELICITATION_ID_PREFIX}${randomUUID()}`;
    this.renamed.set(id, msg.id);
    this.log.debug(`server request id ${JSON.stringify(msg.id)} is in mcp-relay's own id namespace; sent to the host as ${id}`);
    return [{ ...msg, id }, undefined];
  }

  /** The login status changed (LoginStatus.subscribe). */
  onLoginEvent(event: 'waiting' | 'done'): void {
    if (event === 'waiting') {
      this.showIfWaiting();
      return;
    }
    const shown = this.current;
    this.current = undefined;
    // MCP 2025-11-25 client/elicitation, completion notifications: MUST include the elicitationId
    // of the original request, and only to the client that got it (this host).
    if (shown?.sent) this.send({ jsonrpc: '2.0', method: 'notifications/elicitation/complete', params: { elicitationId: shown.elicitationId } });
  }

  private showIfWaiting(): void {
    if (!this.supported || !this.initialized || this.current || !this.shield.status.waitingForUser()) return;
    const shown: Shown = { elicitationId: randomUUID(), requestId: `${LOGIN_ELICITATION_ID_PREFIX}${randomUUID()}`, sent: false };
    this.current = shown;
    void this.shield.status
      .authorizationUrl()
      .catch(() => undefined)
      .then((url) => {
        // The login ended (or another began) while the URL was read: nothing to show.
        if (this.current !== shown) return;
        if (!url) {
          this.log.debug('a login is waiting but its URL is not known here; not shown in the host');
          return;
        }
        shown.sent = true;
        this.asked.set(shown.requestId, shown.elicitationId);
        this.send({
          jsonrpc: '2.0',
          id: shown.requestId,
          method: 'elicitation/create',
          params: {
            mode: 'url',
            elicitationId: shown.elicitationId,
            url,
            message: `mcp-relay: the MCP server ${this.shield.serverUrl} needs you to log in. Open the URL in a browser and approve. If that browser runs on another machine and the page it ends on fails to load, copy that page's address and paste it into \`${this.shield.loginCommand}\` in a terminal where mcp-relay runs.`,
          },
        });
      });
  }
}
