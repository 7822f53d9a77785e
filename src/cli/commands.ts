/**
 * The account and demo commands beside the proxy, and the auth factory the proxy uses.
 */
import type { Argv } from 'yargs';
import type { ProxyDeps } from './proxy.js';

export const commands: {
  makeAuth: ProxyDeps['makeAuth'];
  register(parser: Argv, env: NodeJS.ProcessEnv, version: string): void;
} = {
  makeAuth: undefined,
  register() {},
};
