/**
 * The write policy (WRITE_POLICY=1): what the agent may do to its own containers, networks and
 * volumes, and nothing to anyone else's. Two tables a reviewer reads in a minute:
 * WRITE_RULES (which calls, on whose objects) and the create body's FIELDS (each field the
 * engine reads, what of it is allowed). Everything not in them is refused with 403 naming the
 * call or field and why; nothing refused reaches the engine. Pure: the server does the engine
 * look-ups (whose object a reference names) that rows with an `owner` ask for.
 *
 * A create body is parsed strictly (strict-json.ts) and forwarded REBUILT from the checked
 * values under the engine's own field names, so case variants, duplicate names and fields
 * the engine would ignore never reach it; the proxy then adds what it forces.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ScopeLabel } from './config';
import { asksForUpgrade, declaresBody, matchPath, OBJECT, parseQuery, parseTarget, Placeholder, refuse, Refusal } from './policy';
import type { QueryParams } from './scope';
import { goFold, isObject, JsonObject, JsonValue } from './strict-json';
import { OWNER_LABEL } from '../common/vocabulary';

/** The label the proxy stamps on what the agent creates (defined in the shared vocabulary); the agent may set no `org.devsec.*` label. */
export { OWNER_LABEL };
/** Stamped by the proxy on a create that asked for published ports: `all`, or the port keys (`5432/tcp,80/tcp`) it serves itself. */
export const PUBLISH_LABEL = 'org.devsec.publish';
export const RESERVED_LABEL_PREFIX = 'org.devsec.';
/** Bridge option: the bridge gets no IPv4 address, so the host is not the children's gateway. */
export const NO_GATEWAY_OPTION = 'com.docker.network.bridge.inhibit_ipv4';
/** Capabilities dropped from every child besides what it drops: raw sockets (ARP/IP spoofing on the shared network). */
export const FORCED_CAP_DROP = Object.freeze(['NET_RAW']);

export interface WritePolicyOptions {
  /** The owner label's value: this stack's id. */
  owner: string;
  /** The stack's internal network the children join (the dev container is on it too). */
  childrenNetwork: string;
  /** Forced limits: a child may ask for less, never more. */
  memoryBytes: number;
  pids: number;
  nanoCpus: number;
  /** The stack's kernel runtime (runsc, kata), forced on children when set. */
  runtime: string | undefined;
  /** Registries images may be pulled from (`docker.io` is Docker Hub). */
  allowRegistries: readonly string[];
  /** How many containers the agent may hold at once. */
  maxChildren: number;
  /** The read scope's selectors: no child may carry a label one of them matches. */
  scopeLabels: readonly ScopeLabel[];
}

/** Whose object the path names: the server resolves it and checks the owner label. */
export type Owner = 'container' | 'exec' | 'network' | 'volume' | undefined;
/** What body the call carries: checked here (JSON), streamed (a tar archive) or none. */
export type BodyKind = 'none' | 'container-create' | 'exec-create' | 'exec-start' | 'network-create' | 'network-connect' | 'volume-create' | 'archive';

export interface WriteRule {
  rule: string;
  method: 'POST' | 'DELETE' | 'PUT' | 'GET' | 'HEAD';
  path: ReadonlyArray<string | Placeholder>;
  owner: Owner;
  body: BodyKind;
  query: readonly string[];
  /**
   * 'drop': other query parameters are dropped, never forwarded, instead of refused — for a route
   * where the engine reads none but `query` (dockerode sends a create's whole body as query too).
   */
  otherQuery?: 'drop';
  /** The hijacked stream `docker exec` asks for (Upgrade: tcp). */
  upgrade?: true;
}

const row = (
  rule: string,
  method: WriteRule['method'],
  path: WriteRule['path'],
  owner: Owner,
  body: BodyKind,
  query: readonly string[] = [],
  upgrade?: true,
): WriteRule => (upgrade ? { rule, method, path, owner, body, query, upgrade } : { rule, method, path, owner, body, query });
const C = 'containers';

/** The calls the write policy serves; `owner` rows only on the agent's own objects. Reads (ps, logs, inspect) stay the read policy's. */
export const WRITE_RULES: readonly WriteRule[] = Object.freeze([
  // The engine reads `name` and `platform` from a create's query; dockerode (Testcontainers) repeats the body there: dropped.
  { ...row('container-create', 'POST', [C, 'create'], undefined, 'container-create', ['name', 'platform']), otherQuery: 'drop' },
  row('container-start', 'POST', [C, OBJECT, 'start'], 'container', 'none', ['detachKeys']),
  row('container-stop', 'POST', [C, OBJECT, 'stop'], 'container', 'none', ['t', 'signal']),
  row('container-restart', 'POST', [C, OBJECT, 'restart'], 'container', 'none', ['t', 'signal']),
  row('container-kill', 'POST', [C, OBJECT, 'kill'], 'container', 'none', ['signal']),
  row('container-wait', 'POST', [C, OBJECT, 'wait'], 'container', 'none', ['condition']),
  row('container-pause', 'POST', [C, OBJECT, 'pause'], 'container', 'none'),
  row('container-unpause', 'POST', [C, OBJECT, 'unpause'], 'container', 'none'),
  row('container-rename', 'POST', [C, OBJECT, 'rename'], 'container', 'none', ['name']),
  row('container-resize', 'POST', [C, OBJECT, 'resize'], 'container', 'none', ['h', 'w']),
  row('container-remove', 'DELETE', [C, OBJECT], 'container', 'none', ['force', 'v']),
  row('container-top', 'GET', [C, OBJECT, 'top'], 'container', 'none', ['ps_args']),
  row('archive-put', 'PUT', [C, OBJECT, 'archive'], 'container', 'archive', ['path', 'noOverwriteDirNonDir', 'copyUIDGID']),
  row('archive-get', 'GET', [C, OBJECT, 'archive'], 'container', 'none', ['path']),
  row('archive-head', 'HEAD', [C, OBJECT, 'archive'], 'container', 'none', ['path']),
  // `docker run` without -d, `docker attach`: the hijacked stream, as the CLI asks for it (Upgrade: tcp) only.
  row('container-attach', 'POST', [C, OBJECT, 'attach'], 'container', 'none', ['stream', 'stdin', 'stdout', 'stderr', 'logs', 'detachKeys'], true),
  row('exec-create', 'POST', [C, OBJECT, 'exec'], 'container', 'exec-create'),
  row('exec-start', 'POST', ['exec', OBJECT, 'start'], 'exec', 'exec-start', [], true),
  row('exec-resize', 'POST', ['exec', OBJECT, 'resize'], 'exec', 'none', ['h', 'w']),
  row('exec-inspect', 'GET', ['exec', OBJECT, 'json'], 'exec', 'none'),
  row('network-create', 'POST', ['networks', 'create'], undefined, 'network-create'),
  row('network-remove', 'DELETE', ['networks', OBJECT], 'network', 'none'),
  row('network-connect', 'POST', ['networks', OBJECT, 'connect'], 'network', 'network-connect'),
  row('network-disconnect', 'POST', ['networks', OBJECT, 'disconnect'], 'network', 'network-connect'),
  row('volume-create', 'POST', ['volumes', 'create'], undefined, 'volume-create'),
  row('volume-remove', 'DELETE', ['volumes', OBJECT], 'volume', 'none', ['force']),
  row('image-pull', 'POST', ['images', 'create'], undefined, 'none', ['fromImage', 'tag', 'platform']),
]);

/**
 * Networks and volumes the agent may hold at once. Each network takes a subnet from the engine's
 * address pools (about 30 on a default engine, shared by every stack on the machine): without a
 * limit, the agent's `docker network create` in a loop leaves no subnet for anyone's next `up`.
 */
export const MAX_OWN_NETWORKS = 4;
export const MAX_OWN_VOLUMES = 32;

/** The refusals beyond a row and its body's fields: WRITE_CHECKS names each. */
export type WriteCheckName = 'name-not-id' | 'one-create-at-a-time' | 'limit' | 'own-references' | 'network-by-name' | 'made-labels';

export interface WriteCheck {
  check: WriteCheckName;
  /** The rows (WRITE_RULES' `rule`) it guards. */
  rules: readonly string[];
  /** Who applies it: decideWrite and the body checks here (the request alone), or write-handlers.ts (it asks the engine). */
  by: 'request' | 'engine';
  why: string;
}

/**
 * The refusals the red team's findings added (issue #29), as named lines: which calls each guards
 * and why. Applied in this order; `engine` lines by write-handlers.ts, which looks up no check that
 * is not here. An endpoint's NetworkID (the engine would join the network it names) is a line of
 * ENDPOINT_FIELDS, refused in creates and connects alike.
 */
export const WRITE_CHECKS: readonly WriteCheck[] = Object.freeze([
  {
    check: 'name-not-id',
    rules: ['container-create', 'container-rename', 'network-create'],
    by: 'request',
    why: 'no name of hex digits only (containers: of 4 or more): the engine takes an exact name before an id prefix, so such a name answers for the sibling whose id starts so',
  },
  {
    check: 'one-create-at-a-time',
    rules: ['container-create', 'network-create', 'volume-create'],
    by: 'engine',
    why: 'creates are served one at a time: the count is read and the create made with no other create between them, so racing creates cannot pass a limit together',
  },
  {
    check: 'limit',
    rules: ['container-create', 'network-create', 'volume-create'],
    by: 'engine',
    why: 'the agent holds at most WRITE_LIMITS of each (429): each network takes a subnet from the pools every stack shares',
  },
  {
    check: 'own-references',
    rules: ['container-create'],
    by: 'engine',
    why: "the networks and volumes a create names are the agent's own (the owner label), or the stack's children network",
  },
  {
    check: 'network-by-name',
    rules: ['container-create'],
    by: 'engine',
    why: 'a create names a network by its name or full id, never an id prefix: removed in between, the prefix names another network',
  },
  {
    check: 'made-labels',
    rules: ['container-create'],
    by: 'engine',
    why: "the labels of the container the engine made (its image's merged with the create's) carry no org.devsec.* label and none of the read scope's; refused, it is removed",
  },
]);

/** Whether `check` guards the row `rule`. */
export const checks = (rule: string, check: WriteCheckName): boolean => WRITE_CHECKS.some((line) => line.check === check && line.rules.includes(rule));

/** The `limit` check's numbers: what is counted, its limit, and how the agent frees one. */
export const WRITE_LIMITS: Readonly<
  Record<string, { objects: 'containers' | 'networks' | 'volumes'; max: (options: WritePolicyOptions) => number; setting?: string; remove: string }>
> = Object.freeze({
  'container-create': { objects: 'containers', max: (options) => options.maxChildren, setting: 'MAX_CHILDREN', remove: 'docker rm' },
  'network-create': { objects: 'networks', max: () => MAX_OWN_NETWORKS, remove: 'docker network rm' },
  'volume-create': { objects: 'volumes', max: () => MAX_OWN_VOLUMES, remove: 'docker volume rm' },
});

/** Calls refused with a reason of their own (the rest: "not a call the write policy serves"). */
const REFUSED_WITH_REASON: ReadonlyArray<readonly [RegExp, string, string]> = Object.freeze([
  [
    /^(build|session|grpc)$/,
    'build',
    "`docker build` is refused: a build's RUN steps run with the engine's own network and no policy on what they reach. Build the image on the host (docker build there), then use it here by name.",
  ],
  [/^commit$/, 'commit', '`docker commit` is refused: an image made from a container outlives the sandbox and is run by others.'],
  [
    /^containers\/[^/]+\/attach\/ws$/,
    'attach',
    'attach over a websocket is not proxied; `docker attach` and `docker run` (attached) are, on containers this sandbox created.',
  ],
  [/^containers\/[^/]+\/(update|export|changes)$/, 'container-other', 'this container call is not served by the write policy (update, export, changes).'],
]);

const WRITE_SUMMARY =
  'the write policy serves: create/start/stop/kill/restart/wait/pause/rm/rename/exec/cp on containers this sandbox created, internal networks and local volumes of its own, pulls from allowed registries';

/** What the server needs to serve an allowed write. */
export interface WriteAllowance {
  allowed: true;
  rule: string;
  row: WriteRule;
  version: string | undefined;
  segments: string[];
  params: QueryParams;
  ref: string | undefined;
}
export type WriteDecision = WriteAllowance | Refusal;

/** A refused item: 403 naming what and why, in the policy's words. */
export class WriteRefusal extends Error {
  constructor(
    readonly rule: string,
    readonly reason: string,
    readonly status = 403,
  ) {
    super(reason);
  }
}

const CONTENT_TYPE_JSON = /^application\/json\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;

/** Headers a body may come with: no encodings the proxy would have to undo, JSON where JSON is read. */
function headersProblem(headers: IncomingHttpHeaders, body: BodyKind): string | undefined {
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return `Content-Encoding "${encoding}" is not accepted`;
  const transfer = headers['transfer-encoding'];
  if (transfer !== undefined && transfer.trim().toLowerCase() !== 'chunked') return `Transfer-Encoding "${transfer}" is not accepted`;
  const type = headers['content-type'];
  if (body === 'archive' || !declaresBody(headers)) return undefined;
  if (type !== undefined && !CONTENT_TYPE_JSON.test(type)) return `Content-Type "${type}" is not JSON (send application/json)`;
  return undefined;
}

/**
 * Decides the call (method, path, query, headers); the body is checked once read
 * (checkBody). Undefined: not a write the policy knows, and a GET/HEAD, for the read policy.
 */
export function decideWrite(request: { method: string; target: string; headers: IncomingHttpHeaders }): WriteDecision | undefined {
  const target = parseTarget(request.target);
  if ('allowed' in target) return target;
  const { method, headers } = request;
  const { version, segments, apiPath } = target;
  const candidates = WRITE_RULES.map((candidate) => ({ candidate, ref: matchPath(candidate.path, segments) })).filter(({ ref }) => ref !== false);
  const found = candidates.find(({ candidate }) => candidate.method === method);
  if (!found) {
    if (method === 'GET' || method === 'HEAD') return undefined;
    const reasoned = REFUSED_WITH_REASON.find(([pattern]) => pattern.test(apiPath));
    if (reasoned) return refuse(`write:${reasoned[1]}`, reasoned[2]);
    return refuse('write:no-rule', `${method} /${apiPath} is refused; ${WRITE_SUMMARY}.`);
  }
  const { candidate, ref } = found;
  const query = parseQuery(candidate.otherQuery === 'drop' ? keepQuery(target.query, candidate.query) : target.query);
  if ('error' in query) return refuse('bad-query', `${query.error}.`, 400);
  const extra = Object.keys(query.params).find((name) => !candidate.query.includes(name));
  if (extra !== undefined) {
    return refuse(
      `${candidate.rule}:query`,
      `query parameter "${extra}" is not accepted on ${method} /${apiPath} (accepted: ${candidate.query.join(', ') || 'none'}).`,
    );
  }
  if (checks(candidate.rule, 'name-not-id') && query.params.name !== undefined) {
    const problem = nameProblem(query.params.name.replace(/^\//, ''), 'container');
    if (problem) return refuse(`${candidate.rule}:name`, `name ${problem}.`);
  }
  if (candidate.rule === 'image-pull') {
    const problem = pullProblem(query.params);
    if (problem) return refuse('image-pull:refused', problem);
  }
  if (asksForUpgrade(headers) && !candidate.upgrade) return refuse('upgrade', 'protocol upgrades are only proxied for `docker exec` and `docker attach`.');
  if (candidate.rule === 'container-attach' && !asksForUpgrade(headers)) {
    return refuse('container-attach:upgrade', 'attach is proxied as the docker CLI asks for it (Connection: Upgrade, Upgrade: tcp) only.');
  }
  const problem = headersProblem(headers, candidate.body);
  if (problem) return refuse(`${candidate.rule}:headers`, `${problem}.`, 400);
  return { allowed: true, rule: candidate.rule, row: candidate, version, segments, params: query.params, ref: ref || undefined };
}

/** The pairs of a raw query whose name is one of `names`, exactly as sent; the rest never reaches the engine (the server forwards what it parsed). */
function keepQuery(query: string, names: readonly string[]): string {
  return query
    .split('&')
    .filter((pair) => names.includes(pair.split('=')[0]))
    .join('&');
}

// ---------------------------------------------------------------------------------------------
// Image pulls
// ---------------------------------------------------------------------------------------------

/** The registry an image reference pulls from, as the engine reads it (docker/distribution reference). */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash === -1) return 'docker.io';
  const first = image.slice(0, slash);
  if (!first.includes('.') && !first.includes(':') && first !== 'localhost') return 'docker.io';
  const lowered = first.toLowerCase();
  return lowered === 'index.docker.io' || lowered === 'registry-1.docker.io' ? 'docker.io' : lowered;
}

const IMAGE_NAME = /^[a-z0-9][a-z0-9._:/@-]{0,254}$/i;

/** Why a pull is refused (only `fromImage` pulls, from a listed registry), or undefined. Checked again with the options by the server. */
function pullProblem(params: QueryParams): string | undefined {
  const image = params.fromImage;
  if (image === undefined || image === '') return '`docker pull` needs fromImage; importing (fromSrc) is refused: it reads a URL or a stream of the client.';
  if (!IMAGE_NAME.test(image)) return `fromImage "${image}" is not an image reference.`;
  if (params.tag !== undefined && !/^[A-Za-z0-9_.:@-]{0,200}$/.test(params.tag)) return `tag "${params.tag}" is not a tag or digest.`;
  return undefined;
}

/** A pull of `image` is allowed when its registry is on the list (a name is a channel out, through the engine's network). */
export function checkPullRegistry(params: QueryParams, options: Pick<WritePolicyOptions, 'allowRegistries'>): void {
  const registry = registryOf(params.fromImage ?? '');
  if (!options.allowRegistries.includes(registry)) {
    throw new WriteRefusal(
      'image-pull:registry',
      `pulls from ${registry} are refused: a pull goes out through the engine's own network and its name can carry data. Allowed registries: ${options.allowRegistries.join(', ') || 'none'} (the generator's --allowRegistries).`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Bodies: one check per field. A check returns the value to forward (undefined: leave it out)
// or throws WriteRefusal. `null` is what Go reads as "not set", so it is always the same as absent.
// ---------------------------------------------------------------------------------------------

/** What a create body names besides itself: the server checks these are the agent's own. */
export interface CreateRefs {
  networks: Set<string>;
  volumes: Set<string>;
  /** The container ports the create asked to publish (the proxy serves them itself, never the host). */
  publish: Set<string>;
  publishAll: boolean;
}
interface Context {
  options: WritePolicyOptions;
  refs: CreateRefs;
}
type Check = (value: JsonValue, field: string, context: Context) => JsonValue | undefined;
type Fields = Readonly<Record<string, Check>>;

/** A port key of PortBindings: `5432`, `5432/tcp`, `53/udp`. */
const PORT_KEY = /^[0-9]{1,5}(\/(tcp|udp|sctp))?$/i;

const fail = (field: string, why: string): never => {
  throw new WriteRefusal(`create:${field}`, `${field} ${why}.`);
};

/** Not set, or set to what Go reads as its zero value (false, 0, "", an empty list or map). */
const isUnset = (value: JsonValue) =>
  value === null ||
  value === false ||
  value === 0 ||
  value === '' ||
  (Array.isArray(value) && value.length === 0) ||
  (isObject(value) && Object.keys(value).length === 0);

/** Allowed only unset (zero, empty): the field's every other value is refused. */
const unsetOnly =
  (why: string): Check =>
  (value, field) => {
    if (isUnset(value)) return undefined;
    return fail(field, `is refused: ${why}`);
  };
/** Allowed only absent or null: even an empty value means something (MaskedPaths: [] unmasks every path). */
const absentOnly =
  (why: string): Check =>
  (value, field) => {
    if (value === null) return undefined;
    return fail(field, `is refused: ${why}`);
  };

const typeName = (value: JsonValue) =>
  value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;

const str: Check = (value, field) => (value === null ? undefined : typeof value === 'string' ? value : fail(field, `must be a string, not ${typeName(value)}`));
const bool: Check = (value, field) =>
  value === null ? undefined : typeof value === 'boolean' ? value : fail(field, `must be true or false, not ${typeName(value)}`);
const int: Check = (value, field) =>
  value === null
    ? undefined
    : typeof value === 'number' && Number.isSafeInteger(value)
      ? value
      : fail(field, `must be a whole number, not ${JSON.stringify(value)}`);
const intIn =
  (min: number, max: number): Check =>
  (value, field, context) => {
    const number = int(value, field, context);
    if (number === undefined) return undefined;
    return (number as number) >= min && (number as number) <= max ? number : fail(field, `must be from ${min} to ${max}`);
  };
const strings: Check = (value, field) => {
  if (value === null) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) return fail(field, `must be a list of strings, not ${typeName(value)}`);
  return value;
};
/** Go's strslice: a string or a list of strings. */
const stringOrStrings: Check = (value, field, context) => (typeof value === 'string' ? [value] : strings(value, field, context));
const stringMap: Check = (value, field) => {
  if (value === null) return undefined;
  if (!isObject(value) || !Object.values(value).every((item) => typeof item === 'string')) return fail(field, 'must be an object of strings');
  return value;
};
/** `{"5432/tcp": {}}`: a set of names, each value an empty object. */
const nameSet: Check = (value, field) => {
  if (value === null) return undefined;
  if (!isObject(value) || !Object.values(value).every((item) => item === null || (isObject(item) && Object.keys(item).length === 0))) {
    return fail(field, 'must be an object of empty objects');
  }
  return Object.fromEntries(Object.keys(value).map((key) => [key, {}]));
};
const oneOf =
  (allowed: readonly string[], why: string): Check =>
  (value, field, context) => {
    const text = str(value, field, context);
    if (text === undefined || allowed.includes(text as string)) return text;
    return fail(field, `"${text}" is refused: ${why}`);
  };

/** An object checked field by field against `fields`, names matched as Go matches them, rebuilt under the canonical names. */
const object =
  (fields: Fields): Check =>
  (value, field, context) => {
    if (value === null) return undefined;
    if (!isObject(value)) return fail(field, `must be an object, not ${typeName(value)}`);
    return checkFields(value, fields, field, context);
  };
const listOf =
  (item: Check): Check =>
  (value, field, context) => {
    if (value === null) return undefined;
    if (!Array.isArray(value)) return fail(field, `must be a list, not ${typeName(value)}`);
    return value.map((entry, index) => item(entry, `${field}[${index}]`, context) ?? null);
  };

function checkFields(value: JsonObject, fields: Fields, path: string, context: Context): JsonObject {
  const canonical = new Map(Object.keys(fields).map((name) => [goFold(name), name]));
  const result: JsonObject = {};
  for (const [sent, fieldValue] of Object.entries(value)) {
    const name = canonical.get(goFold(sent));
    const where = path ? `${path}.${name ?? sent}` : (name ?? sent);
    if (name === undefined) throw new WriteRefusal(`create:${where}`, `${where} is not a field this sandbox allows.`);
    const checked = fields[name](fieldValue, where, context);
    if (checked !== undefined) result[name] = checked;
  }
  return result;
}

// Labels ---------------------------------------------------------------------------------------

function checkLabels(value: JsonValue, field: string, context: Context): JsonObject | undefined {
  const labels = stringMap(value, field, context) as JsonObject | undefined;
  if (labels === undefined) return undefined;
  for (const [key, text] of Object.entries(labels)) {
    if (key.toLowerCase().startsWith(RESERVED_LABEL_PREFIX)) fail(`${field}.${key}`, `is refused: org.devsec.* labels are set by devsec, never by the sandbox`);
    const selector = context.options.scopeLabels.find((scope) => scope.key === key && (scope.value === undefined || scope.value === text));
    if (selector) fail(`${field}.${key}`, `is refused: it would put the container among the stack's own or shared services (${selector.selector})`);
  }
  return labels;
}
const labels: Check = (value, field, context) => checkLabels(value, field, context);

// Networks and volumes ---------------------------------------------------------------------------

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;
/**
 * A name of hex digits only reads as an id prefix. The engine takes an exact name before an id
 * prefix: a container named `3f2a9c01b7d4` answers for the sibling whose short id that is, and a
 * network named `4` checked as the agent's own, then removed, leaves the create naming whichever
 * network's id starts with 4. Networks: no hex-only name; containers: none of 4 digits or more.
 */
const ID_LIKE = { network: /^[0-9a-f]+$/i, container: /^[0-9a-f]{4,}$/i };
/** Why a name the agent gives a container or network is refused, or undefined. */
export function nameProblem(name: string, kind: 'container' | 'network'): string | undefined {
  if (!NAME.test(name)) return `"${name}" is not a name (letters, digits, _ . -)`;
  if (ID_LIKE[kind].test(name)) return `"${name}" is refused: a name of hex digits only reads as the id prefix of another ${kind}`;
  return undefined;
}

/** A network a child may join: the stack's children network or one the agent created (checked by the server). */
function network(name: string, field: string, context: Context): string {
  if (!NAME.test(name) || ['host', 'bridge', 'none', 'default', 'ingress', 'docker_gwbridge'].includes(name)) {
    fail(field, `"${name}" is refused: only the sandbox's own networks (or ${context.options.childrenNetwork}) may be joined`);
  }
  if (name !== context.options.childrenNetwork) context.refs.networks.add(name);
  return name;
}

const networkMode: Check = (value, field, context) => {
  const mode = str(value, field, context) as string | undefined;
  if (mode === undefined || mode === '' || mode === 'default') return context.options.childrenNetwork;
  if (mode === 'none') return 'none';
  if (mode === 'host' || mode === 'bridge' || mode.startsWith('container:')) {
    return fail(field, `"${mode}" is refused: children join ${context.options.childrenNetwork} (no route out) or a network the sandbox created`);
  }
  return network(mode, field, context);
};

const ENDPOINT_FIELDS: Fields = {
  Aliases: strings,
  DNSNames: strings,
  IPAMConfig: unsetOnly("addresses are the network's to choose"),
  Links: unsetOnly('links are legacy and reach into other containers'),
  MacAddress: unsetOnly("addresses are the network's to choose"),
  DriverOpts: unsetOnly('driver options are not for the sandbox'),
  // The engine joins the network an endpoint's NetworkID names, whatever network the key or the URL names (getNetworkID).
  NetworkID: unsetOnly('the network is the one named (the engine would join the network this ID names instead)'),
  EndpointID: unsetOnly('an output field'),
  Gateway: unsetOnly('an output field'),
  IPAddress: unsetOnly('an output field'),
  IPPrefixLen: unsetOnly('an output field'),
  IPv6Gateway: unsetOnly('an output field'),
  GlobalIPv6Address: unsetOnly('an output field'),
  GlobalIPv6PrefixLen: unsetOnly('an output field'),
  GwPriority: int,
};

const networkingConfig: Check = (value, field, context) => {
  if (value === null) return undefined;
  const config = checkFields(
    isObject(value) ? value : (fail(field, 'must be an object') as never),
    {
      EndpointsConfig: (endpoints, where) => {
        if (endpoints === null) return undefined;
        if (!isObject(endpoints)) return fail(where, 'must be an object');
        const result: JsonObject = {};
        for (const [sent, settings] of Object.entries(endpoints)) {
          // The docker CLI names the default network `default`: for a child, the children network.
          const name = sent === 'default' ? context.options.childrenNetwork : network(sent, `${where}.${sent}`, context);
          if (name in result) fail(`${where}.${sent}`, 'names a network twice');
          result[name] = object(ENDPOINT_FIELDS)(settings, `${where}.${sent}`, context) ?? {};
        }
        return result;
      },
    },
    field,
    context,
  );
  return config;
};

/** `name:/path[:ro|rw|nocopy]`: a named volume of the agent's; a host path never. */
const bind: Check = (value, field, context) => {
  if (typeof value !== 'string') return fail(field, 'must be a string');
  const parts = value.split(':');
  const [source, target, mode] = parts;
  if (parts.length < 2 || parts.length > 3 || !NAME.test(source) || !target?.startsWith('/')) {
    return fail(field, `"${value}" is refused: a bind of a host path; only a volume the sandbox created may be mounted (NAME:/path)`);
  }
  if (mode !== undefined && !mode.split(',').every((option) => ['ro', 'rw', 'nocopy'].includes(option)))
    return fail(field, `"${value}": only ro, rw and nocopy are accepted`);
  context.refs.volumes.add(source);
  return value;
};

const MOUNT_FIELDS: Fields = {
  Type: oneOf(['volume', 'tmpfs'], 'only volumes the sandbox created and tmpfs may be mounted, never a host path'),
  Source: str,
  Target: str,
  ReadOnly: bool,
  Consistency: str,
  BindOptions: absentOnly('bind mounts are refused'),
  VolumeOptions: object({
    NoCopy: bool,
    Labels: labels,
    Subpath: unsetOnly('a volume is mounted whole'),
    DriverConfig: unsetOnly('volume driver options can mount host paths or remote shares'),
  }),
  TmpfsOptions: object({ SizeBytes: int, Mode: int, Options: unsetOnly('tmpfs options beyond size and mode are refused') }),
  ClusterOptions: absentOnly('cluster volumes are refused'),
  ImageOptions: absentOnly('image mounts are refused'),
};

const mount: Check = (value, field, context) => {
  const checked = object(MOUNT_FIELDS)(value, field, context) as JsonObject | undefined;
  if (checked === undefined) return fail(field, 'must be an object');
  if (checked.Type === undefined) return fail(`${field}.Type`, 'must be volume or tmpfs');
  const source = (checked.Source as string | undefined) ?? '';
  if (checked.Type === 'tmpfs' && source !== '') return fail(`${field}.Source`, 'must be empty for a tmpfs');
  if (checked.Type === 'volume' && source !== '') {
    if (!NAME.test(source)) return fail(`${field}.Source`, `"${source}" is not a volume name`);
    context.refs.volumes.add(source);
  }
  return checked;
};

// Security options and resources --------------------------------------------------------------

const NO_NEW_PRIVILEGES = /^no-new-privileges(?:[:=]true)?$/;
const securityOpt: Check = (value, field, context) => {
  const options = strings(value, field, context) as string[] | undefined;
  const other = (options ?? []).find((option) => !NO_NEW_PRIVILEGES.test(option));
  if (other !== undefined)
    return fail(field, `"${other}" is refused: seccomp, AppArmor, SELinux and privilege settings stay the engine's defaults (no-new-privileges is forced)`);
  return undefined;
};

const restartPolicy = object({
  Name: oneOf(['', 'no', 'on-failure'], 'a child must not outlive the session by restarting with the engine'),
  MaximumRetryCount: intIn(0, 10),
});

const logConfig = object({
  Type: oneOf([''], "children log with the engine's default driver"),
  Config: unsetOnly("log options are the engine's"),
});

const healthcheck = object({ Test: stringOrStrings, Interval: int, Timeout: int, Retries: int, StartPeriod: int, StartInterval: int });

const capabilities: Check = (value, field, context) => {
  const list = (strings(value, field, context) as string[] | undefined) ?? [];
  if (list.some((cap) => !/^(CAP_)?[A-Z_]{2,32}$|^ALL$/i.test(cap))) fail(field, 'must name capabilities');
  return list;
};

const extraHosts: Check = (value, field, context) => {
  const hosts = strings(value, field, context) as string[] | undefined;
  const gateway = (hosts ?? []).find((entry) => /host-gateway/i.test(entry));
  if (gateway !== undefined) return fail(field, `"${gateway}" is refused: host-gateway names an address of the host`);
  return hosts;
};

const HOST_CONFIG_FIELDS: Fields = {
  // Isolation from the host.
  Privileged: (value, field, context) =>
    bool(value, field, context) === true ? fail(field, "is refused: a privileged container holds every capability and the host's devices") : undefined,
  Binds: listOf(bind),
  Mounts: listOf(mount),
  VolumesFrom: unsetOnly("it mounts another container's volumes"),
  VolumeDriver: unsetOnly('volumes use the local driver'),
  Tmpfs: stringMap,
  PidMode: unsetOnly("the host's or another container's process namespace is refused"),
  IpcMode: oneOf(['', 'private', 'none', 'shareable'], "the host's or another container's IPC namespace is refused"),
  UTSMode: unsetOnly("the host's UTS namespace is refused"),
  UsernsMode: unsetOnly("the host's user namespace is refused"),
  CgroupnsMode: oneOf(['', 'private'], "the host's cgroup namespace is refused"),
  Cgroup: unsetOnly("another container's cgroup is refused"),
  CgroupParent: unsetOnly("children stay under the engine's cgroup parent"),
  NetworkMode: networkMode,
  Devices: unsetOnly("the host's devices are refused"),
  DeviceCgroupRules: unsetOnly("the host's devices are refused"),
  DeviceRequests: unsetOnly("the host's devices (GPUs) are refused"),
  CapAdd: unsetOnly('added capabilities are refused'),
  CapDrop: capabilities,
  SecurityOpt: securityOpt,
  MaskedPaths: absentOnly('the engine masks /proc paths; a list (even empty) replaces its defaults'),
  ReadonlyPaths: absentOnly('the engine makes /proc paths read-only; a list (even empty) replaces its defaults'),
  Sysctls: unsetOnly('kernel parameters are refused'),
  Links: unsetOnly('links are legacy and reach into other containers'),
  Runtime: (value, field, context) => {
    const runtime = str(value, field, context);
    if (runtime === undefined || runtime === '' || runtime === context.options.runtime) return undefined;
    return fail(field, `"${runtime}" is refused: children run with the stack's runtime (${context.options.runtime ?? "the engine's default"})`);
  },
  OomScoreAdj: intIn(0, 1000),
  OomKillDisable: (value, field, context) =>
    bool(value, field, context) === true ? fail(field, 'is refused: the memory limit must be able to end a child') : undefined,
  Isolation: unsetOnly('Windows isolation is refused'),
  StorageOpt: unsetOnly('storage driver options are refused'),
  Annotations: unsetOnly('runtime annotations are refused'),
  Ulimits: unsetOnly("children keep the engine's limits"),
  // Ports: served by the proxy, never bound on the host (the proxy takes them out).
  // What was asked is remembered in a label the proxy stamps (PUBLISH_LABEL); host addresses and ports asked for are ignored.
  PortBindings: (value, field, context) => {
    if (value === null) return undefined;
    if (!isObject(value)) return fail(field, 'must be an object of port keys');
    for (const key of Object.keys(value)) {
      if (!PORT_KEY.test(key)) fail(`${field}.${key}`, 'is not a port key (PORT/tcp)');
      context.refs.publish.add(key.includes('/') ? key.toLowerCase() : `${key}/tcp`);
    }
    return undefined;
  },
  PublishAllPorts: (value, field, context) => {
    if (bool(value, field, context) === true) context.refs.publishAll = true;
    return undefined;
  },
  // Resources: limits are forced; a child may ask for less.
  Memory: int,
  MemorySwap: int,
  MemoryReservation: int,
  MemorySwappiness: intIn(-1, 100),
  KernelMemory: unsetOnly('kernel memory limits are refused'),
  KernelMemoryTCP: unsetOnly('kernel memory limits are refused'),
  NanoCpus: int,
  CpuShares: intIn(0, 262144),
  CpuPeriod: unsetOnly('use NanoCpus (docker run --cpus)'),
  CpuQuota: unsetOnly('use NanoCpus (docker run --cpus)'),
  CpuRealtimePeriod: unsetOnly('real-time scheduling is refused'),
  CpuRealtimeRuntime: unsetOnly('real-time scheduling is refused'),
  CpusetCpus: str,
  CpusetMems: str,
  CpuCount: unsetOnly('Windows only'),
  CpuPercent: unsetOnly('Windows only'),
  PidsLimit: int,
  BlkioWeight: intIn(0, 1000),
  BlkioWeightDevice: unsetOnly("it names the host's devices"),
  BlkioDeviceReadBps: unsetOnly("it names the host's devices"),
  BlkioDeviceWriteBps: unsetOnly("it names the host's devices"),
  BlkioDeviceReadIOps: unsetOnly("it names the host's devices"),
  BlkioDeviceWriteIOps: unsetOnly("it names the host's devices"),
  IOMaximumIOps: unsetOnly('Windows only'),
  IOMaximumBandwidth: unsetOnly('Windows only'),
  ShmSize: int,
  // Harmless inside the child.
  AutoRemove: bool,
  ReadonlyRootfs: bool,
  Init: bool,
  RestartPolicy: restartPolicy,
  LogConfig: logConfig,
  Dns: strings,
  DnsOptions: strings,
  DnsSearch: strings,
  ExtraHosts: extraHosts,
  GroupAdd: strings,
  ConsoleSize: (value, field, context) => (value === null ? undefined : listOf(intIn(0, 65535))(value, field, context)),
  ContainerIDFile: unsetOnly('a client-side option'),
};

/** The create body's fields (container.Config, with HostConfig and NetworkingConfig). */
export const CREATE_FIELDS: Fields = Object.freeze({
  Image: str,
  Cmd: stringOrStrings,
  Entrypoint: stringOrStrings,
  Env: strings,
  Labels: labels,
  WorkingDir: str,
  User: str,
  Hostname: str,
  Domainname: str,
  ExposedPorts: nameSet,
  Volumes: nameSet,
  Healthcheck: healthcheck,
  StopSignal: str,
  StopTimeout: int,
  Shell: strings,
  Tty: bool,
  OpenStdin: bool,
  StdinOnce: bool,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  ArgsEscaped: bool,
  NetworkDisabled: bool,
  MacAddress: unsetOnly("addresses are the network's to choose"),
  OnBuild: unsetOnly('build triggers are refused'),
  HostConfig: object(HOST_CONFIG_FIELDS),
  NetworkingConfig: networkingConfig,
});

/** Within (0, max], or max when unset (0 means "no limit" to the engine). */
function limit(value: JsonValue | undefined, max: number, field: string): number {
  if (value === undefined || value === null || value === 0 || value === -1) return max;
  if (typeof value !== 'number' || value < 0) return fail(field, 'must be a positive number');
  if (value > max) return fail(field, `${value} is over this sandbox's limit of ${max}`);
  return value;
}

/**
 * Checks a create body and returns the one to forward: the checked fields under their
 * canonical names, plus what is forced (owner label, no-new-privileges, limits, runtime,
 * network), and the networks and volumes it names, which the server must find the agent's own.
 */
export function checkCreateBody(body: JsonValue, options: WritePolicyOptions): { body: JsonObject; refs: CreateRefs } {
  if (!isObject(body)) throw new WriteRefusal('create:body', `the create body must be a JSON object, not ${typeName(body)}.`);
  const context: Context = { options, refs: { networks: new Set(), volumes: new Set(), publish: new Set(), publishAll: false } };
  const config = checkFields(body, CREATE_FIELDS, '', context);
  if (typeof config.Image !== 'string' || config.Image === '') throw new WriteRefusal('create:Image', 'Image must name an image.');
  const host = (config.HostConfig as JsonObject | undefined) ?? {};
  config.Labels = { ...((config.Labels as JsonObject | undefined) ?? {}), [OWNER_LABEL]: options.owner };
  const { publish, publishAll } = context.refs;
  if (publishAll || publish.size > 0) (config.Labels as JsonObject)[PUBLISH_LABEL] = publishAll ? 'all' : [...publish].sort().join(',');
  host.SecurityOpt = ['no-new-privileges'];
  host.Privileged = false;
  const memory = limit(host.Memory, options.memoryBytes, 'HostConfig.Memory');
  host.Memory = memory;
  if (host.MemorySwap !== undefined && host.MemorySwap !== memory && host.MemorySwap !== 0) {
    throw new WriteRefusal(
      'create:HostConfig.MemorySwap',
      `HostConfig.MemorySwap must equal HostConfig.Memory (${memory}): children get no swap beyond their memory.`,
    );
  }
  host.MemorySwap = memory;
  if (typeof host.MemoryReservation === 'number' && host.MemoryReservation > memory) {
    throw new WriteRefusal('create:HostConfig.MemoryReservation', 'HostConfig.MemoryReservation is over HostConfig.Memory.');
  }
  host.NanoCpus = limit(host.NanoCpus, options.nanoCpus, 'HostConfig.NanoCpus');
  host.PidsLimit = limit(host.PidsLimit, options.pids, 'HostConfig.PidsLimit');
  host.CapDrop = [...new Set([...((host.CapDrop as string[] | undefined) ?? []), ...FORCED_CAP_DROP])];
  if (options.runtime) host.Runtime = options.runtime;
  if (host.NetworkMode === undefined) host.NetworkMode = options.childrenNetwork;
  host.PortBindings = {};
  host.PublishAllPorts = false;
  config.HostConfig = host;
  return { body: config, refs: context.refs };
}

const EXEC_CREATE_FIELDS: Fields = {
  Cmd: stringOrStrings,
  Env: strings,
  User: str,
  WorkingDir: str,
  Tty: bool,
  AttachStdin: bool,
  AttachStdout: bool,
  AttachStderr: bool,
  DetachKeys: str,
  Detach: bool,
  ConsoleSize: (value, field, context) => (value === null ? undefined : listOf(intIn(0, 65535))(value, field, context)),
  Privileged: (value, field, context) => (bool(value, field, context) === true ? fail(field, 'is refused: an exec is never privileged') : undefined),
};
/** A flag a client leaks into a body that the engine has no field for (dockerode's own `stdin`, `hijack`): checked, never forwarded. */
const clientFlag: Check = (value, field, context) => {
  bool(value, field, context);
  return undefined;
};
const EXEC_START_FIELDS: Fields = { Detach: bool, Tty: bool, ConsoleSize: EXEC_CREATE_FIELDS.ConsoleSize, stdin: clientFlag, hijack: clientFlag };

const NETWORK_CREATE_FIELDS: Fields = {
  Name: str,
  CheckDuplicate: bool,
  Driver: oneOf(['', 'bridge'], 'networks the sandbox creates are internal bridges'),
  Internal: bool,
  Attachable: bool,
  Ingress: unsetOnly('swarm networks are refused'),
  EnableIPv6: unsetOnly('networks the sandbox creates are IPv4 only'),
  EnableIPv4: bool,
  IPAM: object({
    Driver: oneOf(['', 'default'], 'the default IPAM driver only'),
    Config: unsetOnly("addresses are the engine's to choose"),
    Options: unsetOnly('IPAM options are refused'),
  }),
  Options: unsetOnly('driver options are refused (the proxy sets its own)'),
  Labels: labels,
  Scope: oneOf(['', 'local'], 'local networks only'),
  ConfigOnly: unsetOnly('config-only networks are refused'),
  ConfigFrom: unsetOnly('config-only networks are refused'),
};

const VOLUME_CREATE_FIELDS: Fields = {
  Name: str,
  Driver: oneOf(['', 'local'], 'volumes use the local driver'),
  DriverOpts: unsetOnly('volume options can mount host paths or remote shares'),
  Labels: labels,
  ClusterVolumeSpec: absentOnly('cluster volumes are refused'),
};

const CONNECT_FIELDS: Fields = { Container: str, EndpointConfig: object(ENDPOINT_FIELDS), Force: bool };

/** Checks a JSON body of the other kinds and returns the body to forward (forced parts included). */
export function checkBody(kind: Exclude<BodyKind, 'none' | 'archive' | 'container-create'>, body: JsonValue, options: WritePolicyOptions): JsonObject {
  try {
    return checkOtherBody(kind, body, options);
  } catch (error) {
    // The field checks name their refusals `create:…`; say which call's body it was.
    if (error instanceof WriteRefusal) throw new WriteRefusal(error.rule.replace(/^create:/, `${kind}:`), error.reason, error.status);
    throw error;
  }
}

function checkOtherBody(kind: Exclude<BodyKind, 'none' | 'archive' | 'container-create'>, body: JsonValue, options: WritePolicyOptions): JsonObject {
  const context: Context = { options, refs: { networks: new Set(), volumes: new Set(), publish: new Set(), publishAll: false } };
  const what = kind.replace('-', ' ');
  if (!isObject(body)) throw new WriteRefusal(`${kind}:body`, `the ${what} body must be a JSON object, not ${typeName(body)}.`);
  switch (kind) {
    case 'exec-create': {
      const checked = checkFields(body, EXEC_CREATE_FIELDS, '', context);
      return { ...checked, Privileged: false };
    }
    case 'exec-start':
      return checkFields(body, EXEC_START_FIELDS, '', context);
    case 'network-create': {
      const checked = checkFields(body, NETWORK_CREATE_FIELDS, '', context);
      if (typeof checked.Name !== 'string' || !NAME.test(checked.Name)) throw new WriteRefusal('network-create:Name', 'Name must be a network name.');
      const problem = checks('network-create', 'name-not-id') ? nameProblem(checked.Name, 'network') : undefined;
      if (problem) throw new WriteRefusal('network-create:Name', `Name ${problem}.`);
      return {
        ...checked,
        Driver: 'bridge',
        Internal: true,
        Options: { [NO_GATEWAY_OPTION]: 'true' },
        Labels: { ...((checked.Labels as JsonObject | undefined) ?? {}), [OWNER_LABEL]: options.owner },
      };
    }
    case 'network-connect': {
      const checked = checkFields(body, CONNECT_FIELDS, '', context);
      if (typeof checked.Container !== 'string' || !NAME.test(checked.Container))
        throw new WriteRefusal('network-connect:Container', 'Container must name a container.');
      return checked;
    }
    case 'volume-create': {
      const checked = checkFields(body, VOLUME_CREATE_FIELDS, '', context);
      if (checked.Name !== undefined && !NAME.test(String(checked.Name))) throw new WriteRefusal('volume-create:Name', 'Name must be a volume name.');
      return { ...checked, Driver: 'local', Labels: { ...((checked.Labels as JsonObject | undefined) ?? {}), [OWNER_LABEL]: options.owner } };
    }
  }
}

/** org.devsec.* labels an image may carry because nothing reads them: the local stand-in images' mark (scripts/stand-in-images.sh). */
const INERT_IMAGE_LABELS: readonly string[] = Object.freeze(['org.devsec.stand-in']);

/**
 * Why the labels a container ended with are refused, or undefined. They are its image's merged
 * with the create's, so an image can carry what a create may not: an org.devsec.* label, or a
 * label of the read scope (a compose-built image of the stack carries the stack's project label).
 */
export function createdLabelsProblem(
  labels: unknown,
  options: Pick<WritePolicyOptions, 'owner' | 'scopeLabels'>,
  publish: string | undefined,
): string | undefined {
  if (labels === null || typeof labels !== 'object' || !isOwn(labels, options)) return 'the container the engine made does not carry the owner label';
  for (const [key, value] of Object.entries(labels as Record<string, unknown>)) {
    if (key === OWNER_LABEL) continue;
    if (key === PUBLISH_LABEL && value === publish) continue;
    if (INERT_IMAGE_LABELS.includes(key)) continue;
    if (key.toLowerCase().startsWith(RESERVED_LABEL_PREFIX))
      return `its image sets the label ${key}: org.devsec.* labels are set by devsec, never by the sandbox`;
    const selector = options.scopeLabels.find((scope) => scope.key === key && (scope.value === undefined || scope.value === value));
    if (selector) return `its image sets the label ${key}, which would put the container among the stack's own or shared services (${selector.selector})`;
  }
  return undefined;
}

/** Whether labels (of a container, network or volume) say the agent made it. */
export function isOwn(labels: unknown, options: Pick<WritePolicyOptions, 'owner'>): boolean {
  return (
    labels !== null &&
    typeof labels === 'object' &&
    Object.prototype.hasOwnProperty.call(labels, OWNER_LABEL) &&
    (labels as Record<string, unknown>)[OWNER_LABEL] === options.owner
  );
}

export type { Refusal };
