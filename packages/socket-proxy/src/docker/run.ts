/** Docker mode (the default): the read-only Docker socket proxy's entry, and its healthcheck. */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadOrReport } from '../common/config';
import { DEFAULT_LISTEN, loadConfig, parseListen } from './config';

/** The socket proxy, until SIGTERM or SIGINT. */
export async function runDocker(env: NodeJS.ProcessEnv): Promise<number> {
  // Loaded here, not above: the healthcheck (a second process every few seconds) needs the
  // configuration only, never the server.
  const { createLogger } = await import('../common/logger');
  const { createProxyServer, listenOn } = await import('./server');
  const config = loadOrReport(() => loadConfig(env));
  if (!config) return 2;
  const log = createLogger(config.logLevel);
  const server = createProxyServer(config, log);
  const listen = config.listen;
  await listenOn(server, listen);
  const enabled = Object.entries(config.switches)
    .filter(([, on]) => on)
    .map(([name]) => name);
  log.startup({
    msg: 'listening',
    listen: listen.kind === 'unix' ? `unix://${listen.path}` : `tcp://${listen.host}:${(server.address() as AddressInfo).port}`,
    upstream: config.socketPath,
    sections: enabled,
    scope: config.scope.selector,
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await new Promise((resolve) => server.once('close', resolve));
  return 0;
}

/** The image's healthcheck (`--check`): asks the running proxy, through its own listener, for /_ping. */
export function checkDocker(env: NodeJS.ProcessEnv): Promise<number> {
  const listen = parseListen(env.LISTEN ?? DEFAULT_LISTEN);
  const target =
    listen.kind === 'unix'
      ? { socketPath: listen.path }
      : { host: listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host, port: listen.port };
  return new Promise((resolve) => {
    const request = http.request({ ...target, path: '/_ping', method: 'GET', timeout: 3000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200 ? 0 : 1);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(1));
    request.end();
  });
}
