// @ts-check
'use strict';

/**
 * Configuration comes from the environment only, with Tecnativa docker-socket-proxy's
 * switch names so an existing compose file keeps its meaning.
 */

/** Read switches and their defaults (Tecnativa's: PING, VERSION, EVENTS on; the rest off). */
const READ_SWITCHES = Object.freeze({
  PING: true,
  VERSION: true,
  EVENTS: true,
  CONTAINERS: false,
  IMAGES: false,
  INFO: false,
  NETWORKS: false,
  VOLUMES: false,
});

/**
 * Write switches are recognised so that a compose file written for Tecnativa fails loudly
 * instead of silently doing less: this version grants no write access at all.
 */
const WRITE_SWITCHES = Object.freeze([
  'POST', 'BUILD', 'COMMIT', 'EXEC', 'SWARM', 'AUTH', 'SECRETS', 'CONFIGS', 'PLUGINS',
  'NODES', 'SERVICES', 'TASKS', 'SESSION', 'GRPC', 'DISTRIBUTION', 'SYSTEM',
  'ALLOW_START', 'ALLOW_STOP', 'ALLOW_RESTARTS',
]);

const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error', 'silent']);

const DEFAULT_SCOPE_LABEL = 'org.devsec.scope';

class ConfigError extends Error {}

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);
const FALSE_VALUES = new Set(['0', 'false', 'no', 'off', '']);

/**
 * @param {string} name
 * @param {string} raw
 */
function parseSwitch(name, raw) {
  const value = raw.trim().toLowerCase();
  if (TRUE_VALUES.has(value)) return true;
  if (FALSE_VALUES.has(value)) return false;
  throw new ConfigError(`${name}=${raw} is not a switch value: use ${name}=1 (on) or ${name}=0 (off).`);
}

/**
 * Edit distance with transpositions (optimal string alignment), for "did you mean".
 * @param {string} a
 * @param {string} b
 */
function editDistance(a, b) {
  /** @type {number[][]} */
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

const ALL_SWITCHES = [...Object.keys(READ_SWITCHES), ...WRITE_SWITCHES];

/**
 * A variable that looks like a switch (upper-case name, 0/1-like value) but is not one is most
 * likely a typo (`CONTAINER=1`): refusing it beats running with less access than intended,
 * or, worse, believing a write switch is off when it was misspelt.
 * @param {string} name
 * @param {string} value
 */
function closestSwitch(name, value) {
  if (!/^[A-Z][A-Z_]{2,}$/.test(name)) return undefined;
  if (!TRUE_VALUES.has(value.trim().toLowerCase()) && !FALSE_VALUES.has(value.trim().toLowerCase())) return undefined;
  if (value.trim() === '') return undefined;
  let best;
  let bestDistance = Infinity;
  for (const candidate of ALL_SWITCHES) {
    const distance = editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  // Short names are close to too much; allow one edit for them, two otherwise.
  return bestDistance <= (name.length <= 4 ? 1 : 2) ? best : undefined;
}

/**
 * @param {string} listen
 * @returns {{ kind: 'tcp', host: string, port: number } | { kind: 'unix', path: string }}
 */
function parseListen(listen) {
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(listen);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new ConfigError(`LISTEN=${listen}: the port must be between 1 and 65535.`);
    return { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port };
  }
  const unix = /^unix:\/\/(\/.+)$/.exec(listen);
  if (unix) return { kind: 'unix', path: unix[1] };
  throw new ConfigError(`LISTEN=${listen} is not understood: use tcp://HOST:PORT (e.g. tcp://127.0.0.1:2375) or unix:///path/to.sock.`);
}

/**
 * @param {string} selector `key` or `key=value`
 */
function parseScopeLabel(selector) {
  const match = /^([A-Za-z0-9][A-Za-z0-9._/-]*)(?:=([^\s=][^\s]*))?$/.exec(selector);
  if (!match) {
    throw new ConfigError(`SCOPE_LABEL=${selector} is not a label selector: use KEY or KEY=VALUE (e.g. org.devsec.scope=dev).`);
  }
  return { key: match[1], value: match[2], selector };
}

/**
 * @typedef {{ [name: string]: boolean }} Switches
 * @typedef {{ key: string, value: string | undefined, selector: string }} ScopeLabel
 * @typedef {{
 *   socketPath: string,
 *   listen: ReturnType<typeof parseListen>,
 *   switches: Switches,
 *   scope: ScopeLabel,
 *   logLevel: string,
 * }} ProxyConfig
 */

/**
 * @param {NodeJS.ProcessEnv} env
 * @returns {ProxyConfig}
 */
function loadConfig(env) {
  const problems = [];
  /** @type {Switches} */
  const switches = {};
  for (const [name, fallback] of Object.entries(READ_SWITCHES)) {
    const raw = env[name];
    try {
      switches[name] = raw === undefined ? fallback : parseSwitch(name, raw);
    } catch (error) {
      problems.push(/** @type {Error} */ (error).message);
    }
  }
  for (const name of WRITE_SWITCHES) {
    const raw = env[name];
    if (raw === undefined) continue;
    try {
      if (parseSwitch(name, raw)) {
        problems.push(
          `${name}=${raw} asks for write access to the Docker API; this proxy is read-only by construction in this version. ` +
            `Remove ${name} (or set ${name}=0).`,
        );
      }
    } catch (error) {
      problems.push(/** @type {Error} */ (error).message);
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name in READ_SWITCHES || WRITE_SWITCHES.includes(name)) continue;
    const suggestion = closestSwitch(name, value);
    if (suggestion) problems.push(`${name}=${value} is not a switch this proxy knows. Did you mean ${suggestion}?`);
  }

  let listen;
  try {
    listen = parseListen(env.LISTEN ?? 'tcp://127.0.0.1:2375');
  } catch (error) {
    problems.push(/** @type {Error} */ (error).message);
  }
  let scope;
  try {
    scope = parseScopeLabel(env.SCOPE_LABEL ?? DEFAULT_SCOPE_LABEL);
  } catch (error) {
    problems.push(/** @type {Error} */ (error).message);
  }
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!LOG_LEVELS.includes(logLevel)) {
    problems.push(`LOG_LEVEL=${env.LOG_LEVEL} is not one of ${LOG_LEVELS.join(', ')}.`);
  }
  const socketPath = env.SOCKET_PATH ?? '/var/run/docker.sock';
  if (!socketPath.startsWith('/')) problems.push(`SOCKET_PATH=${socketPath} must be an absolute path to the Docker socket.`);

  if (problems.length > 0) {
    throw new ConfigError(`devsec-socket-proxy will not start:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    socketPath,
    listen: /** @type {ReturnType<typeof parseListen>} */ (listen),
    switches,
    scope: /** @type {ScopeLabel} */ (scope),
    logLevel,
  };
}

module.exports = {
  ConfigError,
  DEFAULT_SCOPE_LABEL,
  LOG_LEVELS,
  READ_SWITCHES,
  WRITE_SWITCHES,
  loadConfig,
  parseListen,
  parseScopeLabel,
};
