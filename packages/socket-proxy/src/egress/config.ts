/**
 * The egress mode's configuration: environment only, validated whole at start (every problem
 * in one message, each naming its variable and entry).
 */
import { isIP } from 'node:net';
import { collectProblems, LOG_LEVELS } from '../common/config';
import { Allowlist, EgressConfigError, parseAllowlist, parsePorts } from './allowlist';
import { parseUpstreamProxy, UpstreamProxy } from './upstream';
import { EGRESS_DEFAULT_PORTS, EGRESS_ENV, EGRESS_PORT } from '../common/vocabulary';

export { EgressConfigError };

export const DEFAULT_EGRESS_LISTEN = `tcp://127.0.0.1:${EGRESS_PORT}`;

/** Defaults: enough for parallel installs and a few git clones, bounded against floods. */
export const EGRESS_DEFAULTS = Object.freeze({
  maxConnections: 256,
  /** A client has this long to send a request's headers (the CONNECT line included). */
  headerTimeout: '10s',
  /** A tunnel or request with no byte either way for this long is closed; git and npm pause. */
  idleTimeout: '5m',
  /** Resolving the name and opening the upstream connection. */
  connectTimeout: '10s',
});

export interface EgressConfig {
  listen: { host: string; port: number };
  allowlist: Allowlist;
  defaultPorts: readonly number[];
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  connectTimeoutMs: number;
  logLevel: string;
  /** EGRESS_UPSTREAM_PROXY: where what is let through goes (except EGRESS_NO_PROXY), or direct when unset. */
  upstream?: UpstreamProxy;
}

export { isEgressMode } from '../common/vocabulary';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** `500ms`, `10s`, `5m`, `1h` → milliseconds. A unit is required: `300` could mean anything. */
export function parseDuration(name: string, raw: string): number {
  const match = /^([0-9]{1,7})(ms|s|m|h)$/.exec(raw.trim());
  const ms = match ? Number(match[1]) * UNIT_MS[match[2]] : NaN;
  if (!match || ms <= 0 || ms > 24 * UNIT_MS.h) {
    throw new EgressConfigError(`${name}=${raw} is not a duration between 1ms and 24h with its unit (e.g. ${name}=30s, 500ms, 5m).`);
  }
  return ms;
}

export function formatDuration(ms: number): string {
  for (const unit of ['h', 'm', 's']) if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  return `${ms}ms`;
}

/** `tcp://ADDRESS:PORT` with an IP address (where to listen, not a name to resolve); port 0 picks one. */
export function parseEgressListen(raw: string): { host: string; port: number } {
  const match = /^tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[0-9.]+):([0-9]{1,5})$/.exec(raw);
  const host = match ? match[1].replace(/^\[|\]$/g, '') : '';
  const port = match ? Number(match[2]) : NaN;
  if (!match || isIP(host) === 0 || port > 65535) {
    throw new EgressConfigError(`EGRESS_LISTEN=${raw} is not tcp://ADDRESS:PORT with an IP address (e.g. tcp://0.0.0.0:${EGRESS_PORT}).`);
  }
  return { host, port };
}

export function loadEgressConfig(env: NodeJS.ProcessEnv): EgressConfig {
  const { problems, attempt } = collectProblems();
  if (env.EGRESS !== '1') {
    problems.push(
      env.EGRESS === undefined
        ? `${Object.keys(env).find((name) => name.startsWith('EGRESS_'))} is set but EGRESS is not: set EGRESS=1 for the egress proxy, or remove the EGRESS_* variables.`
        : `EGRESS=${env.EGRESS}: the egress mode is EGRESS=1; remove EGRESS_* variables for the other modes.`,
    );
  }
  if (env.FORWARD !== undefined) problems.push('FORWARD and EGRESS select two different modes: run one container for each.');
  const known: readonly string[] = Object.values(EGRESS_ENV);
  for (const name of Object.keys(env).filter((name) => name.startsWith('EGRESS_') && !known.includes(name))) {
    problems.push(`${name} is not a variable of the egress proxy; it reads ${known.join(', ')}.`);
  }
  const listen = attempt(() => parseEgressListen(env.EGRESS_LISTEN ?? DEFAULT_EGRESS_LISTEN));
  const defaultPorts = attempt(() => (env.EGRESS_PORTS === undefined ? [...EGRESS_DEFAULT_PORTS] : parsePorts(env.EGRESS_PORTS, 'EGRESS_PORTS')));
  const allowlist = attempt(() => parseAllowlist(env.EGRESS_ALLOW ?? '', env.EGRESS_ALLOW_PRIVATE ?? '', defaultPorts ?? EGRESS_DEFAULT_PORTS));
  const upstream = attempt(() => (env.EGRESS_UPSTREAM_PROXY ? parseUpstreamProxy(env.EGRESS_UPSTREAM_PROXY, env.EGRESS_NO_PROXY ?? '') : undefined));
  // Empty (a compose file's `${VAR:-}` with nothing given) is direct, and NO_PROXY then says nothing.
  if (env.EGRESS_UPSTREAM_PROXY === undefined && env.EGRESS_NO_PROXY)
    problems.push('EGRESS_NO_PROXY is set without EGRESS_UPSTREAM_PROXY: it says what bypasses the upstream proxy.');
  const rawMax = env.EGRESS_MAX_CONNECTIONS;
  const maxConnections = rawMax === undefined ? EGRESS_DEFAULTS.maxConnections : /^[0-9]{1,6}$/.test(rawMax.trim()) ? Number(rawMax) : NaN;
  if (!(maxConnections >= 1 && maxConnections <= 100_000)) {
    problems.push(`EGRESS_MAX_CONNECTIONS=${rawMax} is not a number of connections between 1 and 100000.`);
  }
  const duration = (name: 'EGRESS_HEADER_TIMEOUT' | 'EGRESS_IDLE_TIMEOUT' | 'EGRESS_CONNECT_TIMEOUT', fallback: string) =>
    attempt(() => parseDuration(name, env[name] ?? fallback));
  const headerTimeoutMs = duration('EGRESS_HEADER_TIMEOUT', EGRESS_DEFAULTS.headerTimeout);
  const idleTimeoutMs = duration('EGRESS_IDLE_TIMEOUT', EGRESS_DEFAULTS.idleTimeout);
  const connectTimeoutMs = duration('EGRESS_CONNECT_TIMEOUT', EGRESS_DEFAULTS.connectTimeout);
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) problems.push(`LOG_LEVEL=${env.LOG_LEVEL} is not one of ${LOG_LEVELS.join(', ')}.`);

  if (problems.length > 0 || !listen || !defaultPorts || !allowlist || !headerTimeoutMs || !idleTimeoutMs || !connectTimeoutMs) {
    throw new EgressConfigError(`devsec-socket-proxy (egress) will not start:\n  - ${problems.join('\n  - ')}`);
  }
  return { listen, allowlist, defaultPorts, maxConnections, headerTimeoutMs, idleTimeoutMs, connectTimeoutMs, logLevel, ...(upstream ? { upstream } : {}) };
}
