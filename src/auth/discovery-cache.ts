/**
 * discovery.json: metadata from the last discovery, reused for refreshes so a token renewal
 * costs one request, not four.
 */
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServerStore } from '../store/store.js';
import type { Discovered } from './discovery.js';

/** Cached discovery is reused for refreshes for this long. */
const DISCOVERY_TTL_MS = 24 * 60 * 60_000;

export async function readCachedDiscovery(store: ServerStore, now: number): Promise<Discovered | undefined> {
  const cached = await store.readDiscovery();
  if (!cached?.authorization_server_metadata || !cached.authorization_server_url || now - cached.fetched_at >= DISCOVERY_TTL_MS) return undefined;
  return {
    authorizationServerUrl: cached.authorization_server_url,
    metadata: cached.authorization_server_metadata as unknown as Discovered['metadata'],
    resourceMetadata: cached.resource_metadata as unknown as Discovered['resourceMetadata'],
  };
}

/** Best effort: a store that cannot be written only costs a new discovery next time. */
export async function cacheDiscovery(store: ServerStore, d: Discovered, resourceMetadataUrl: string | undefined, now: number, log: Logger): Promise<void> {
  await store
    .writeDiscovery({
      authorization_server_url: d.authorizationServerUrl,
      authorization_server_metadata: d.metadata as unknown as Record<string, unknown>,
      ...(d.resourceMetadata ? { resource_metadata: d.resourceMetadata as unknown as Record<string, unknown> } : {}),
      ...(resourceMetadataUrl ? { resource_metadata_url: resourceMetadataUrl } : {}),
      fetched_at: now,
    })
    .catch((err) => log.warn(`could not cache discovery metadata: ${describeError(err)}`));
}
