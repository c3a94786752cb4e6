/**
 * Egress mode (EGRESS=1): the dev container's only way out. It sits on the stack's internal
 * network and one outside network, and lets through CONNECT tunnels and plain HTTP requests to
 * the hosts and ports on its allowlist, and nothing else. No Docker access.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadOrReport } from '../common/config';
import { formatDuration, loadEgressConfig } from './config';
import { createEgressServer, EGRESS_HEALTH_PATH } from './server';
import { createLogger } from '../common/logger';

const urlHost = (host: string) => (host.includes(':') ? `[${host}]` : host);

/** The egress proxy, until SIGTERM or SIGINT. */
export async function runEgress(env: NodeJS.ProcessEnv): Promise<number> {
  const config = loadOrReport(() => loadEgressConfig(env));
  if (!config) return 2;
  const log = createLogger(config.logLevel);
  const { server, stop } = createEgressServer(config, log);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.listen.port, config.listen.host, () => resolve());
    });
  } catch (error) {
    process.stderr.write(`devsec-socket-proxy (egress): cannot listen on ${urlHost(config.listen.host)}:${config.listen.port}: ${(error as Error).message}\n`);
    return 1;
  }
  // Says everything the proxy grants, whatever LOG_LEVEL is (but silent).
  log.startup({
    msg: 'listening',
    mode: 'egress',
    listen: `tcp://${urlHost(config.listen.host)}:${(server.address() as AddressInfo).port}`,
    allow: config.allowlist.entries.map((entry) => entry.text),
    allowPrivate: [...config.allowlist.privateAllowed],
    // Never its credentials: the URL as shown, and what goes direct.
    ...(config.upstream ? { upstream: config.upstream.shown, noProxy: env.EGRESS_NO_PROXY ?? '' } : {}),
    ports: config.defaultPorts,
    maxConnections: config.maxConnections,
    headerTimeout: formatDuration(config.headerTimeoutMs),
    idleTimeout: formatDuration(config.idleTimeoutMs),
    connectTimeout: formatDuration(config.connectTimeoutMs),
  });
  await new Promise((resolve) => {
    process.once('SIGTERM', resolve);
    process.once('SIGINT', resolve);
  });
  stop();
  return 0;
}

/** The egress mode's healthcheck: the proxy on EGRESS_LISTEN answers its health path. */
export function checkEgress(env: NodeJS.ProcessEnv): Promise<number> {
  let listen;
  try {
    listen = loadEgressConfig(env).listen;
  } catch {
    return Promise.resolve(1);
  }
  const host = listen.host === '0.0.0.0' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return new Promise((resolve) => {
    const request = http.request({ host, port: listen.port, path: EGRESS_HEALTH_PATH, method: 'GET', timeout: 3000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200 ? 0 : 1);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(1));
    request.end();
  });
}
