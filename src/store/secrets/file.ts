/**
 * The file backend: secrets stay inline in the 0600 JSON files of the store directory, as they
 * always did. Nothing to load, nothing to probe.
 */
import type { SecretBackend } from './backend.js';

export const FILE_BACKEND: SecretBackend = {
  name: 'file',
  inline: true,
  put: () => Promise.resolve(),
  get: () => Promise.resolve(undefined),
  delete: () => Promise.resolve(),
};
