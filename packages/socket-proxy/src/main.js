// @ts-check
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const { ConfigError, loadConfig, parseListen } = require('./config');
const { createProxyServer } = require('./server');

const LEVEL_ORDER = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * One JSON line per request on stdout; errors on stderr.
 * @param {string} level
 */
function createLogger(level) {
  const threshold = LEVEL_ORDER[/** @type {keyof typeof LEVEL_ORDER} */ (level)] ?? 1;
  /** @param {object} entry */
  const line = (entry) => `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
  return {
    /** @param {any} entry */
    access(entry) {
      // Refusals are worth a warning; allowed requests are routine.
      const entryLevel = entry.decision === 'deny' ? 2 : 1;
      if (entryLevel >= threshold) process.stdout.write(line({ level: entryLevel === 2 ? 'warn' : 'info', ...entry }));
    },
    /** @param {object} entry */
    error(entry) {
      if (threshold <= 3) process.stderr.write(line({ level: 'error', ...entry }));
    },
    /**
     * The start-up line shows whatever the level but silent: it says what the proxy grants.
     * @param {object} entry
     */
    startup(entry) {
      if (threshold <= 3) process.stdout.write(line({ level: 'info', ...entry }));
    },
  };
}

const USAGE = `devsec-socket-proxy — a read-only Docker socket proxy

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
`;

/**
 * Healthcheck: asks the running proxy, through its own listener, for /_ping.
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<number>}
 */
function check(env) {
  const listen = parseListen(env.LISTEN ?? 'tcp://127.0.0.1:2375');
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

/**
 * @param {string[]} argv
 * @param {NodeJS.ProcessEnv} env
 */
async function main(argv = process.argv.slice(2), env = process.env) {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--check')) return check(env);
  if (argv.length > 0) {
    process.stderr.write(`devsec-socket-proxy takes no arguments (got ${argv.join(' ')}); it is configured by environment.\n\n${USAGE}`);
    return 2;
  }

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

  await new Promise((resolve, reject) => {
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
        resolve(undefined);
      });
    } else {
      server.listen(listen.port, listen.host, () => resolve(undefined));
    }
  });
  const enabled = Object.entries(config.switches).filter(([, on]) => on).map(([name]) => name);
  log.startup({
    msg: 'listening',
    listen: listen.kind === 'unix' ? `unix://${listen.path}` : `tcp://${listen.host}:${/** @type {any} */ (server.address()).port}`,
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

module.exports = { main, createLogger };
