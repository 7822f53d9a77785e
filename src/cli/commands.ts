/**
 * The account and demo commands beside the proxy, and the auth factory the proxy uses.
 */
import type { Argv } from 'yargs';
import { createCoordinator, openStore, recordServer } from '../auth/setup.js';
import { createFetch } from '../remote/fetch.js';
import type { ProxyDeps } from './proxy.js';
import { registerLoginCommand } from './login.js';

const makeAuth: ProxyDeps['makeAuth'] = async (config, log, env) => {
  // A user-supplied Authorization header is the whole story: no OAuth on top of it.
  if (Object.keys(config.headers).some((h) => h.toLowerCase() === 'authorization')) {
    log.info('an Authorization header was given; OAuth login is off for this server');
    return undefined;
  }
  const { server } = openStore(config, env, log);
  await recordServer(server, config, log);
  const coordinator = createCoordinator(config, server, {
    env,
    fetch: createFetch(env),
    log,
    notify: (text) => process.stderr.write(`${text}\n`),
  });
  return {
    hook: coordinator,
    idle: () => coordinator.idle(),
    loginHint: `To log in from a terminal: mcp-relay login ${config.serverUrl.href}`,
    close: () => coordinator.close(),
  };
};

export const commands: {
  makeAuth: ProxyDeps['makeAuth'];
  register(parser: Argv, env: NodeJS.ProcessEnv, version: string): void;
} = {
  makeAuth,
  register(parser, env) {
    registerLoginCommand(parser, env);
  },
};
