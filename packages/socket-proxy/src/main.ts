import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { AddressInfo } from 'node:net';
import { ConfigError, DEFAULT_LISTEN, loadConfig, parseListen } from './config';
import { createProxyServer } from './server';
import { ForwardConfigError, parseBind, parseForward, startForwarding } from './forward';

const LEVEL_ORDER = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** One JSON line per request on stdout; errors on stderr. */
export function createLogger(level: string) {
  const threshold = LEVEL_ORDER[level as keyof typeof LEVEL_ORDER] ?? 1;
  const line = (entry: object) => `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
  return {
    access(entry: { decision?: string } & object) {
      // Refusals are worth a warning; allowed requests are routine.
      const entryLevel = entry.decision === 'deny' ? 2 : 1;
      if (entryLevel >= threshold) process.stdout.write(line({ level: entryLevel === 2 ? 'warn' : 'info', ...entry }));
    },
    error(entry: object) {
      if (threshold <= 3) process.stderr.write(line({ level: 'error', ...entry }));
    },
    /** The start-up line shows whatever the level but silent: it says what the proxy grants. */
    startup(entry: object) {
      if (threshold <= 3) process.stdout.write(line({ level: 'info', ...entry }));
    },
  };
}

export const USAGE = `devsec-socket-proxy — a read-only Docker socket proxy

Configured by environment variables only:
  SOCKET_PATH   upstream Docker socket (default /var/run/docker.sock)
  LISTEN        tcp://HOST:PORT or unix:///path (default tcp://127.0.0.1:2375;
                tcp://0.0.0.0:2375 in the image)
  SCOPE_LABEL   only containers with this label are visible: KEY or KEY=VALUE
                (default org.devsec.scope)
  LOG_LEVEL     debug | info | warn | error | silent (default info)
  PING VERSION EVENTS (on by default), CONTAINERS IMAGES INFO NETWORKS VOLUMES
  (off by default): Tecnativa-compatible read switches, 1 = on, 0 = off.
  Write switches (POST, EXEC, BUILD, ...) are refused in this version.

  --check       exit 0 when the proxy on LISTEN answers /_ping (for healthchecks)

Forward mode (the localhost-proxy sidecar; no Docker access):
  FORWARD       LISTEN_PORT:HOST:PORT[,...], e.g. 3000:web:3000
  FORWARD_BIND  addresses to listen on (default 127.0.0.1,::1)
`;

/** Healthcheck: asks the running proxy, through its own listener, for /_ping. */
function check(env: NodeJS.ProcessEnv): Promise<number> {
  if (env.FORWARD !== undefined) return checkForward(env);
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

/** Forward mode's healthcheck: the first listener accepts a connection. */
function checkForward(env: NodeJS.ProcessEnv): Promise<number> {
  let port: number;
  let address: string;
  try {
    port = parseForward(env.FORWARD as string)[0].listenPort;
    address = parseBind(env.FORWARD_BIND)[0];
  } catch {
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: address, timeout: 3000 }, () => {
      socket.destroy();
      resolve(0);
    });
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
    socket.on('error', () => resolve(1));
  });
}

/** Forward mode: TCP forwarding for the localhost-proxy sidecar; no Docker access at all. */
async function forward(env: NodeJS.ProcessEnv): Promise<number> {
  let rules;
  let addresses;
  try {
    rules = parseForward(env.FORWARD as string);
    addresses = parseBind(env.FORWARD_BIND);
  } catch (error) {
    if (error instanceof ForwardConfigError) {
      process.stderr.write(`devsec-socket-proxy will not start:\n  - ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = (entry: object) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', ...entry })}\n`);
  let servers;
  try {
    servers = await startForwarding(rules, addresses, log);
  } catch (error) {
    process.stderr.write(`devsec-socket-proxy: cannot listen: ${(error as Error).message}\n`);
    return 1;
  }
  await new Promise((resolve) => {
    const stop = () => resolve(undefined);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  for (const server of servers) server.close();
  return 0;
}

export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--check')) return check(env);
  if (argv.length > 0) {
    process.stderr.write(`devsec-socket-proxy takes no arguments (got ${argv.join(' ')}); it is configured by environment.\n\n${USAGE}`);
    return 2;
  }

  if (env.FORWARD !== undefined) return forward(env);

  let config;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = createLogger(config.logLevel);
  const server = createProxyServer(config, log);
  const listen = config.listen;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.kind === 'unix') {
      // A stale socket from an earlier run would make listen() fail with EADDRINUSE.
      try {
        if (fs.statSync(listen.path).isSocket()) fs.unlinkSync(listen.path);
      } catch {
        // Nothing there.
      }
      server.listen(listen.path, () => {
        fs.chmodSync(listen.path, 0o660);
        resolve();
      });
    } else {
      server.listen(listen.port, listen.host, () => resolve());
    }
  });
  const enabled = Object.entries(config.switches).filter(([, on]) => on).map(([name]) => name);
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
