/**
 * What one client may hold: connections, open engine streams, and how long a request may take
 * to arrive. Read from the environment by both modes (the forwarder reads MAX_CONNECTIONS only),
 * so this module imports nothing else of the proxy's.
 */

export interface Limits {
  /** Client connections open at once; over it a connection is answered 503 and closed. */
  maxConnections: number;
  /** Engine streams that stay open (`logs -f`, `events`); over it the request is answered 503. */
  maxStreams: number;
  /** The request line and headers must arrive within this time. */
  headersTimeoutMs: number;
  /** A request body (only ever read to be refused) must arrive within this time after its headers. */
  bodyTimeoutMs: number;
  /** A keep-alive connection with no request in flight is closed after this time. */
  idleTimeoutMs: number;
}

/**
 * Safe for one dev container: the docker CLI and Compose use a handful of connections, and
 * `docker compose logs -f` one stream per container. 3,000 open `GET /events` stay under 100 MB.
 */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxConnections: 256,
  maxStreams: 64,
  headersTimeoutMs: 5000,
  bodyTimeoutMs: 5000,
  idleTimeoutMs: 5000,
});

interface LimitVariable {
  name: string;
  field: keyof Limits;
  kind: 'count' | 'seconds';
}

export const LIMIT_VARIABLES: readonly LimitVariable[] = Object.freeze([
  { name: 'MAX_CONNECTIONS', field: 'maxConnections', kind: 'count' },
  { name: 'MAX_STREAMS', field: 'maxStreams', kind: 'count' },
  { name: 'HEADERS_TIMEOUT', field: 'headersTimeoutMs', kind: 'seconds' },
  { name: 'BODY_TIMEOUT', field: 'bodyTimeoutMs', kind: 'seconds' },
  { name: 'IDLE_TIMEOUT', field: 'idleTimeoutMs', kind: 'seconds' },
]);

export const isLimitVariable = (name: string) => LIMIT_VARIABLES.some((variable) => variable.name === name);

const MAX_COUNT = 65536;
const MAX_SECONDS = 3600;

function parseLimit({ name, kind }: LimitVariable, raw: string): number | string {
  const value = raw.trim();
  if (kind === 'count') {
    const count = /^[0-9]{1,6}$/.test(value) ? Number(value) : NaN;
    if (!(count >= 1 && count <= MAX_COUNT)) return `${name}=${raw} is not a count: use a whole number from 1 to ${MAX_COUNT}.`;
    return count;
  }
  const durationSeconds = /^[0-9]{1,4}(\.[0-9]{1,3})?$/.test(value) ? Number(value) : NaN;
  if (!(durationSeconds > 0 && durationSeconds <= MAX_SECONDS))
    return `${name}=${raw} is not a duration: use seconds, more than 0 and at most ${MAX_SECONDS} (e.g. ${name}=5).`;
  return Math.round(durationSeconds * 1000);
}

/**
 * The limits the environment sets (defaults for the rest), and what is wrong with it.
 * @param names the variables this mode reads
 */
export function parseLimits(env: NodeJS.ProcessEnv, names: readonly string[] = LIMIT_VARIABLES.map((v) => v.name)): { limits: Limits; problems: string[] } {
  const limits: Limits = { ...DEFAULT_LIMITS };
  const problems: string[] = [];
  for (const variable of LIMIT_VARIABLES) {
    const raw = env[variable.name];
    if (raw === undefined || !names.includes(variable.name)) continue;
    const parsed = parseLimit(variable, raw);
    if (typeof parsed === 'string') problems.push(parsed);
    else limits[variable.field] = parsed;
  }
  if (names.includes('MAX_STREAMS') && limits.maxStreams >= limits.maxConnections) {
    problems.push(
      `MAX_STREAMS=${limits.maxStreams} must be below MAX_CONNECTIONS=${limits.maxConnections}, so that short requests (docker ps) always find a connection.`,
    );
  }
  return { limits, problems };
}

const inSeconds = (ms: number) => String(ms / 1000);

/** For --help. */
export const LIMITS_USAGE = `Limits (over a cap: a 503 that names the limit, and the connection closed):
  MAX_CONNECTIONS  client connections open at once (default ${DEFAULT_LIMITS.maxConnections}); in forward
                   mode too, where a connection over it is closed
  MAX_STREAMS      logs -f and events streams open at once (default ${DEFAULT_LIMITS.maxStreams});
                   below MAX_CONNECTIONS
  HEADERS_TIMEOUT  seconds for a request's line and headers (default ${inSeconds(DEFAULT_LIMITS.headersTimeoutMs)})
  BODY_TIMEOUT     seconds for a request body, refused anyway (default ${inSeconds(DEFAULT_LIMITS.bodyTimeoutMs)})
  IDLE_TIMEOUT     seconds a keep-alive connection waits for its next request
                   (default ${inSeconds(DEFAULT_LIMITS.idleTimeoutMs)}); logs -f and events have no idle timeout
`;
