/**
 * Configuration comes from the environment only, with Tecnativa docker-socket-proxy's
 * switch names so an existing compose file keeps its meaning.
 */
import { collectProblems, ConfigError, LOG_LEVELS } from '../common/config';
import { isLimitVariable, Limits, parseLimits } from '../common/limits';
import { DEFAULT_SCOPE_LABEL, PROXY_PORT, READ_SWITCHES, WRITE_POLICY_ENV, WRITE_SWITCHES } from '../common/vocabulary';
import { OWNER_LABEL, WritePolicyOptions } from './write-policy';

export { DEFAULT_SCOPE_LABEL, READ_SWITCHES, WRITE_SWITCHES };

export const DEFAULT_LISTEN = `tcp://127.0.0.1:${PROXY_PORT}`;

const TRUE_VALUES = new Set(['1', 'true', 'yes', 'on']);
const FALSE_VALUES = new Set(['0', 'false', 'no', 'off', '']);

function parseSwitch(name: string, raw: string): boolean {
  const value = raw.trim().toLowerCase();
  if (TRUE_VALUES.has(value)) return true;
  if (FALSE_VALUES.has(value)) return false;
  throw new ConfigError(`${name}=${raw} is not a switch value: use ${name}=1 (on) or ${name}=0 (off).`);
}

/** Edit distance with transpositions (optimal string alignment), for "did you mean". */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

const ALL_SWITCHES: readonly string[] = [...Object.keys(READ_SWITCHES), ...WRITE_SWITCHES];
const isWriteSwitch = (name: string) => (WRITE_SWITCHES as readonly string[]).includes(name);

/**
 * A variable that looks like a switch (upper-case name, 0/1-like value) but is not one is most
 * likely a typo (`CONTAINER=1`): refusing it beats running with less access than intended,
 * or, worse, believing a write switch is off when it was misspelt.
 */
function closestSwitch(name: string, value: string): string | undefined {
  if (!/^[A-Z][A-Z_]{2,}$/.test(name)) return undefined;
  if (!TRUE_VALUES.has(value.trim().toLowerCase()) && !FALSE_VALUES.has(value.trim().toLowerCase())) return undefined;
  if (value.trim() === '') return undefined;
  let best: string | undefined;
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

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

export function parseListen(listen: string): Listen {
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

/** One label selector: `KEY` (the label is present, any value) or `KEY=VALUE` (it has that value). */
export interface ScopeLabel {
  key: string;
  value: string | undefined;
  selector: string;
}

/**
 * What the proxy shows: containers that match ANY of the selectors of SCOPE_LABEL, e.g. a
 * stack's own compose project and the shared services on its network:
 * `com.docker.compose.project=app-ws-1a2b3c4d,org.devsec.scope=dev`.
 * The selectors come from the environment at start; nothing a client sends changes them. A
 * selector must never be satisfiable by a container the agent could create: it can create
 * none (this proxy refuses every write), so the labels that match are only those the host's
 * own `docker compose` set (a stack's project label, the shared file's scope label).
 */
export interface Scope {
  /** SCOPE_LABEL as given, for the start-up log. */
  selector: string;
  anyOf: readonly ScopeLabel[];
}

/** Each selector costs one engine query per container list: a handful is plenty. */
export const MAX_SCOPE_SELECTORS = 8;

const SELECTOR = /^([A-Za-z0-9][A-Za-z0-9._/-]*)(?:=([^\s=,][^\s,]*))?$/;

/** @param selector `KEY` or `KEY=VALUE` */
export function parseScopeLabel(selector: string): ScopeLabel {
  const match = SELECTOR.exec(selector);
  if (!match) {
    throw new ConfigError(`SCOPE_LABEL=${selector} is not a label selector: use KEY or KEY=VALUE (e.g. org.devsec.scope=dev).`);
  }
  return { key: match[1], value: match[2], selector };
}

/**
 * `SELECTOR[,SELECTOR...]`, each `KEY` or `KEY=VALUE`, no spaces; a container is in scope when
 * any selector matches its labels. An empty selector is refused rather than skipped: it is
 * what an unset variable leaves behind (`project=${UNSET},…`), and skipping it would start a
 * proxy that shows other than its compose file says.
 */
export function parseScope(text: string): Scope {
  const parts = text.split(',');
  if (parts.length === 1) return { selector: text, anyOf: [parseScopeLabel(text)] };
  const problem = (what: string) =>
    new ConfigError(
      `SCOPE_LABEL=${text} ${what}: use KEY or KEY=VALUE selectors separated by commas, without spaces (e.g. com.docker.compose.project=app-ws-1a2b3c4d,org.devsec.scope=dev).`,
    );
  if (parts.some((part) => part === '')) throw problem('holds an empty selector');
  if (parts.length > MAX_SCOPE_SELECTORS) throw problem(`holds ${parts.length} selectors, more than ${MAX_SCOPE_SELECTORS}`);
  const bad = parts.find((part) => !SELECTOR.test(part));
  if (bad !== undefined) throw problem(`holds "${bad}", which is not a label selector`);
  const repeated = parts.find((part, index) => parts.indexOf(part) !== index);
  if (repeated !== undefined) throw problem(`repeats the selector ${repeated}`);
  return { selector: text, anyOf: parts.map(parseScopeLabel) };
}

export type Switches = { [name: string]: boolean };

export interface ProxyConfig {
  socketPath: string;
  listen: Listen;
  switches: Switches;
  /** With the write policy on, the owner label's selector is one of its selectors: children are read like the stack's own. */
  scope: Scope;
  logLevel: string;
  limits: Limits;
  /** WRITE_POLICY=1: the agent's own containers (undefined: read-only). */
  write: WritePolicyOptions | undefined;
}

export const WRITE_DEFAULTS = Object.freeze({
  memoryBytes: 1024 * 1024 * 1024,
  pids: 512,
  nanoCpus: 1_000_000_000,
  maxChildren: 16,
  allowRegistries: ['docker.io'],
});

const isWritePolicyVariable = (name: string) => name in WRITE_POLICY_ENV;

/** `512m`, `1g`, `1073741824`: bytes. */
function parseBytes(name: string, raw: string): number {
  const match = /^([0-9]{1,12})([kmg]?)b?$/i.exec(raw.trim());
  const factor = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(match?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  const bytes = match ? Number(match[1]) * factor : NaN;
  if (!(bytes >= 6 * 1024 * 1024 && bytes <= 1024 ** 4)) throw new ConfigError(`${name}=${raw} is not a memory size of at least 6m (e.g. ${name}=1g).`);
  return bytes;
}

function parseCount(name: string, raw: string, max: number): number {
  const count = /^[0-9]{1,6}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!(count >= 1 && count <= max)) throw new ConfigError(`${name}=${raw} is not a count from 1 to ${max}.`);
  return count;
}

/** The write policy's options from the environment; undefined when WRITE_POLICY is off. */
function loadWritePolicy(
  env: NodeJS.ProcessEnv,
  scope: Scope | undefined,
  attempt: <T>(step: () => T) => T | undefined,
  problems: string[],
): WritePolicyOptions | undefined {
  const on = attempt(() => parseSwitch('WRITE_POLICY', env.WRITE_POLICY ?? '0'));
  const set = Object.keys(WRITE_POLICY_ENV).filter((name) => name !== 'WRITE_POLICY' && env[name] !== undefined);
  if (!on) {
    if (on === false && set.length > 0) problems.push(`${set.join(', ')} configure the write policy, which WRITE_POLICY=1 turns on; it is off.`);
    return undefined;
  }
  const owner = env.WRITE_OWNER ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(owner))
    problems.push(
      `WRITE_OWNER=${owner} must name this stack (letters, digits, _ . -): the value of the ${OWNER_LABEL} label stamped on what the agent creates.`,
    );
  const childrenNetwork = env.CHILDREN_NETWORK ?? '';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(childrenNetwork))
    problems.push(`CHILDREN_NETWORK=${childrenNetwork} must name the stack's internal network the agent's containers join.`);
  const memoryBytes = env.CHILD_MEMORY === undefined ? WRITE_DEFAULTS.memoryBytes : attempt(() => parseBytes('CHILD_MEMORY', env.CHILD_MEMORY as string));
  const pids = env.CHILD_PIDS === undefined ? WRITE_DEFAULTS.pids : attempt(() => parseCount('CHILD_PIDS', env.CHILD_PIDS as string, 65536));
  const maxChildren = env.MAX_CHILDREN === undefined ? WRITE_DEFAULTS.maxChildren : attempt(() => parseCount('MAX_CHILDREN', env.MAX_CHILDREN as string, 256));
  let nanoCpus: number | undefined = WRITE_DEFAULTS.nanoCpus;
  if (env.CHILD_CPUS !== undefined) {
    const cpus = /^[0-9]{1,3}(\.[0-9]{1,3})?$/.test(env.CHILD_CPUS.trim()) ? Number(env.CHILD_CPUS.trim()) : NaN;
    nanoCpus = cpus >= 0.01 && cpus <= 256 ? Math.round(cpus * 1e9) : undefined;
    if (nanoCpus === undefined) problems.push(`CHILD_CPUS=${env.CHILD_CPUS} is not a number of CPUs (e.g. 1 or 0.5).`);
  }
  const runtime = env.CHILD_RUNTIME === undefined || env.CHILD_RUNTIME === '' ? undefined : env.CHILD_RUNTIME;
  if (runtime !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(runtime)) problems.push(`CHILD_RUNTIME=${runtime} is not a runtime name.`);
  const allowRegistries =
    env.ALLOW_REGISTRIES === undefined
      ? WRITE_DEFAULTS.allowRegistries
      : env.ALLOW_REGISTRIES.split(',')
          .map((entry) => entry.trim().toLowerCase())
          .filter((entry) => entry !== '');
  const badRegistry = allowRegistries.find((entry) => !/^[a-z0-9.-]+(:[0-9]{1,5})?$/.test(entry));
  if (badRegistry !== undefined) problems.push(`ALLOW_REGISTRIES holds "${badRegistry}", which is not a registry host (e.g. docker.io,ghcr.io).`);
  if (memoryBytes === undefined || pids === undefined || nanoCpus === undefined || maxChildren === undefined || !scope) return undefined;
  return { owner, childrenNetwork, memoryBytes, pids, nanoCpus, runtime, allowRegistries, maxChildren, scopeLabels: scope.anyOf };
}

export function loadConfig(env: NodeJS.ProcessEnv): ProxyConfig {
  const { problems, attempt } = collectProblems();
  const switches: Switches = {};
  for (const [name, fallback] of Object.entries(READ_SWITCHES)) {
    const raw = env[name];
    const value = attempt(() => (raw === undefined ? fallback : parseSwitch(name, raw)));
    if (value !== undefined) switches[name] = value;
  }
  for (const name of WRITE_SWITCHES) {
    const raw = env[name];
    if (raw === undefined) continue;
    if (attempt(() => parseSwitch(name, raw))) {
      problems.push(
        `${name}=${raw} asks for write access to the Docker API; this proxy is read-only by construction in this version. ` +
          `Remove ${name} (or set ${name}=0).`,
      );
    }
  }
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name in READ_SWITCHES || isWriteSwitch(name) || isLimitVariable(name) || isWritePolicyVariable(name)) continue;
    const suggestion = closestSwitch(name, value);
    if (suggestion) problems.push(`${name}=${value} is not a switch this proxy knows. Did you mean ${suggestion}?`);
  }

  const listen = attempt(() => parseListen(env.LISTEN ?? DEFAULT_LISTEN));
  const scope = attempt(() => parseScope(env.SCOPE_LABEL ?? DEFAULT_SCOPE_LABEL));
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    problems.push(`LOG_LEVEL=${env.LOG_LEVEL} is not one of ${LOG_LEVELS.join(', ')}.`);
  }
  const { limits, problems: limitProblems } = parseLimits(env);
  problems.push(...limitProblems);
  const socketPath = env.SOCKET_PATH ?? '/var/run/docker.sock';
  if (!socketPath.startsWith('/')) problems.push(`SOCKET_PATH=${socketPath} must be an absolute path to the Docker socket.`);

  const write = loadWritePolicy(env, scope, attempt, problems);
  if (write && !switches.CONTAINERS) problems.push('WRITE_POLICY=1 needs CONTAINERS=1: the agent reads the containers it starts.');

  if (problems.length > 0 || !listen || !scope) {
    throw new ConfigError(`devsec-socket-proxy will not start:\n  - ${problems.join('\n  - ')}`);
  }
  // The children are read like the stack's own: the owner label joins the scope.
  const ownerSelector = write ? parseScopeLabel(`${OWNER_LABEL}=${write.owner}`) : undefined;
  const fullScope = ownerSelector ? { selector: `${scope.selector},${ownerSelector.selector}`, anyOf: [...scope.anyOf, ownerSelector] } : scope;
  return { socketPath, listen, switches, scope: fullScope, logLevel, limits, write };
}
