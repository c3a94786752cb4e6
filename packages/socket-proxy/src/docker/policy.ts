/**
 * The whole access policy: one table of allowed endpoints and one pure function,
 * `decide({ method, target, headers }, switches)`, that reads a request's method, target,
 * query and headers. Nothing is normalised: a request target that is not already in canonical
 * form is refused, so what we check is exactly what dockerd would route.
 */

import type { IncomingHttpHeaders } from 'node:http';
import type { Switches } from './config';
import { FilterError, parseFilters, QueryParams } from './scope';

/** A container id, id prefix or name; a network or volume id or name. */
export const OBJECT_REF = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
/** One `/`-separated part of an image reference: `docker.io`, `library`, `node:24-trixie-slim`, `sha256:…`, `app@sha256:…`. */
const IMAGE_REF_PART = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,254}$/;
const API_VERSION = /^v[0-9]{1,2}\.[0-9]{1,3}$/;
const QUERY_NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
/** RFC 3986 query characters, without `#` and with `%` only as a valid escape. */
const QUERY_TEXT = /^(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*$/;

export type Placeholder = { readonly match: 'object' | 'image' };
export const OBJECT: Placeholder = { match: 'object' };
const IMAGE: Placeholder = { match: 'image' };

/** What the server does for a row besides forwarding; `handlers.ts` has one handler for each. */
export type Handle =
  | 'forward'
  | 'ping'
  | 'info'
  | 'container-list'
  | 'events'
  | 'container-inspect'
  | 'container-logs'
  | 'image-inspect'
  | 'network-list'
  | 'network-inspect'
  | 'volume-list'
  | 'volume-inspect';

export interface Rule {
  rule: string;
  section: string;
  path: ReadonlyArray<string | Placeholder>;
  handle: Handle;
  whenOff?: 'not-found';
  /** The server adds to the client's `filters` (a scope selector, an event type), which must therefore parse. */
  scopesFilters?: true;
}

/**
 * Allowed endpoints. `section` is the Tecnativa switch that enables the row; `handle` tells
 * the server what it must do besides forwarding (scope checks, redaction, event filtering).
 * `whenOff: 'not-found'` answers 404 instead of 403 while the section is off, so that
 * `docker inspect NAME`'s fall-through (container, image, network, volume, plugin) still ends
 * in a clean "No such object".
 */
export const RULES: readonly Rule[] = Object.freeze([
  { rule: 'ping', section: 'PING', path: ['_ping'], handle: 'ping' },
  { rule: 'version', section: 'VERSION', path: ['version'], handle: 'forward' },
  { rule: 'info', section: 'INFO', path: ['info'], handle: 'info' },
  { rule: 'events', section: 'EVENTS', path: ['events'], handle: 'events', scopesFilters: true },
  { rule: 'container-list', section: 'CONTAINERS', path: ['containers', 'json'], handle: 'container-list', scopesFilters: true },
  { rule: 'container-inspect', section: 'CONTAINERS', path: ['containers', OBJECT, 'json'], handle: 'container-inspect', whenOff: 'not-found' },
  { rule: 'container-logs', section: 'CONTAINERS', path: ['containers', OBJECT, 'logs'], handle: 'container-logs' },
  { rule: 'image-list', section: 'IMAGES', path: ['images', 'json'], handle: 'forward' },
  { rule: 'image-inspect', section: 'IMAGES', path: ['images', IMAGE, 'json'], handle: 'image-inspect', whenOff: 'not-found' },
  { rule: 'network-list', section: 'NETWORKS', path: ['networks'], handle: 'network-list' },
  { rule: 'network-inspect', section: 'NETWORKS', path: ['networks', OBJECT], handle: 'network-inspect', whenOff: 'not-found' },
  { rule: 'volume-list', section: 'VOLUMES', path: ['volumes'], handle: 'volume-list' },
  { rule: 'volume-inspect', section: 'VOLUMES', path: ['volumes', OBJECT], handle: 'volume-inspect', whenOff: 'not-found' },
  // Plugins are never readable here; 404 keeps `docker inspect`'s fall-through clean.
  { rule: 'plugin-inspect', section: 'PLUGINS', path: ['plugins', OBJECT, 'json'], handle: 'forward', whenOff: 'not-found' },
]);

/** What the docker CLI user typed, for a readable refusal. Only used to word messages. */
const COMMAND_NAMES: ReadonlyArray<readonly [RegExp, string]> = Object.freeze([
  [/^containers\/create$/, 'docker run / docker create'],
  [/^containers\/[^/]+\/exec$|^exec\//, 'docker exec'],
  [/^containers\/[^/]+\/(archive)$/, 'docker cp'],
  [/^containers\/[^/]+\/export$/, 'docker export'],
  [/^containers\/[^/]+\/attach(\/ws)?$/, 'docker attach'],
  [/^containers\/[^/]+\/(start|stop|restart|kill|pause|unpause|wait|resize|rename|update)$/, 'docker start/stop/kill/restart'],
  [/^containers\/[^/]+$/, 'docker rm'],
  [/^containers\/prune$|^images\/prune$|^volumes\/prune$|^networks\/prune$|^build\/prune$/, 'docker prune'],
  [/^build$|^session$|^grpc$/, 'docker build'],
  [/^commit$/, 'docker commit'],
  [/^images\/create$|^distribution\//, 'docker pull'],
  [/^images\/[^/]+(\/.*)?\/push$/, 'docker push'],
  [/^images\/(get|[^/]+\/get)$/, 'docker save'],
  [/^images\/load$/, 'docker load'],
  [/^images\/[^/]+(\/.*)?\/tag$/, 'docker tag'],
  [/^images\/.+$/, 'docker rmi'],
  [/^volumes\/create$|^volumes\/[^/]+$/, 'docker volume create/rm'],
  [/^networks\/create$|^networks\/[^/]+(\/(connect|disconnect))?$/, 'docker network create/rm/connect'],
  [/^swarm(\/.*)?$|^nodes|^services|^tasks|^secrets|^configs/, 'docker swarm'],
  [/^plugins/, 'docker plugin'],
  [/^auth$/, 'docker login'],
  [/^system\/df$/, 'docker system df'],
]);

const READ_ONLY_SUMMARY = 'this sandbox can only read: docker ps, logs, inspect, images, info, version, events, network ls, volume ls';

export interface Refusal {
  allowed: false;
  status: number;
  rule: string;
  message: string;
}
export interface Allowance {
  allowed: true;
  rule: string;
  handle: Handle;
  method: 'GET' | 'HEAD';
  version: string | undefined;
  segments: string[];
  params: QueryParams;
  ref: string | undefined;
}
export type Decision = Refusal | Allowance;

export function refuse(rule: string, message: string, status = 403): Refusal {
  return { allowed: false, status, rule, message: `devsec sandbox policy: ${message}` };
}

/** @param apiPath the path without its version prefix, e.g. `containers/abc/exec` */
function describeBlocked(method: string, apiPath: string): string {
  const found = COMMAND_NAMES.find(([pattern]) => pattern.test(apiPath));
  const what = found ? `\`${found[1]}\` is blocked (${method} /${apiPath})` : `${method} /${apiPath} is blocked`;
  return `${what}; ${READ_ONLY_SUMMARY}.`;
}

/**
 * Splits and checks a raw query string. Duplicate names are refused: dockerd reads the
 * first value and we would otherwise rewrite a different one than it uses.
 */
export function parseQuery(query: string): { params: QueryParams } | { error: string } {
  const params: QueryParams = Object.create(null);
  if (query === '') return { params };
  if (!QUERY_TEXT.test(query)) return { error: 'the query string holds characters that must be percent-encoded' };
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const equals = pair.indexOf('=');
    const name = equals === -1 ? pair : pair.slice(0, equals);
    const rawValue = equals === -1 ? '' : pair.slice(equals + 1);
    if (!QUERY_NAME.test(name)) return { error: `query parameter name "${name}" is not allowed` };
    if (name in params) return { error: `query parameter "${name}" is repeated` };
    let value;
    try {
      value = decodeURIComponent(rawValue.replace(/\+/g, ' '));
    } catch {
      return { error: `query parameter "${name}" is not valid percent-encoding` };
    }
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(value)) return { error: `query parameter "${name}" holds control characters` };
    params[name] = value;
  }
  return { params };
}

/**
 * @returns the object/image reference matched, undefined when the pattern has none, false when
 *   it does not match
 */
export function matchPath(pattern: ReadonlyArray<string | Placeholder>, segments: string[]): string | undefined | false {
  const imageAt = pattern.indexOf(IMAGE);
  if (imageAt !== -1) {
    // An image reference may span several segments (`docker.io/library/node:24`).
    const tail = pattern.length - imageAt - 1;
    if (segments.length < pattern.length) return false;
    const refParts = segments.slice(imageAt, segments.length - tail);
    for (let i = 0; i < imageAt; i++) if (pattern[i] !== segments[i]) return false;
    for (let i = 0; i < tail; i++) if (pattern[imageAt + 1 + i] !== segments[segments.length - tail + i]) return false;
    return refParts.every((part) => IMAGE_REF_PART.test(part)) ? refParts.join('/') : false;
  }
  if (pattern.length !== segments.length) return false;
  let ref: string | undefined;
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i];
    if (typeof expected === 'string') {
      if (expected !== segments[i]) return false;
    } else {
      if (!OBJECT_REF.test(segments[i])) return false;
      ref = segments[i];
    }
  }
  return ref;
}

/** What the policy sees of a request: the method, target and headers exactly as received. */
export interface RequestHead {
  method: string;
  target: string;
  headers: IncomingHttpHeaders;
}

export type Target = { version: string | undefined; segments: string[]; apiPath: string; query: string };

/** Only a canonical origin-form target passes; nothing is normalised. */
export function parseTarget(target: string): Target | Refusal {
  if (target === '*') return refuse('asterisk-form', 'the request target "*" is not accepted.', 400);
  if (!target.startsWith('/')) {
    return refuse('absolute-form', 'only origin-form request targets ("/path?query") are accepted.', 400);
  }
  if (/[^\x21-\x7e]/.test(target)) {
    return refuse('non-canonical-target', 'the request target holds spaces, control or non-ASCII bytes.', 400);
  }
  if (target.includes('\\')) return refuse('non-canonical-target', 'backslashes are not accepted in request targets.', 400);
  if (target.includes('#')) return refuse('non-canonical-target', 'fragments are not accepted in request targets.', 400);

  const queryAt = target.indexOf('?');
  const path = queryAt === -1 ? target : target.slice(0, queryAt);
  const query = queryAt === -1 ? '' : target.slice(queryAt + 1);

  if (path.includes('%')) {
    return refuse('non-canonical-target', 'percent-encoded bytes are not accepted in the path; send it in canonical form.', 400);
  }
  if (path.includes('//')) return refuse('non-canonical-target', 'empty path segments ("//") are not accepted.', 400);
  const segments = path.split('/').slice(1);
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    return refuse('non-canonical-target', '"." and ".." path segments are not accepted.', 400);
  }
  if (segments[segments.length - 1] === '') {
    return refuse('non-canonical-target', 'a trailing "/" is not accepted.', 400);
  }

  let version: string | undefined;
  if (API_VERSION.test(segments[0])) {
    version = segments.shift();
    if (segments.length > 0 && /^v[0-9]/i.test(segments[0])) {
      return refuse('non-canonical-target', 'the API version prefix may appear once.', 400);
    }
  }
  return { version, segments, apiPath: segments.join('/'), query };
}

/** The first row whose path matches, with the object or image reference it names. */
function findRule(segments: string[]): { row: Rule; ref: string | undefined } | undefined {
  for (const row of RULES) {
    const ref = matchPath(row.path, segments);
    if (ref !== false) return { row, ref };
  }
  return undefined;
}

function refuseSectionOff(row: Rule, ref: string | undefined, method: string, apiPath: string): Refusal {
  if (row.whenOff === 'not-found') {
    return refuse(`${row.rule}:section-off`, `No such object: ${ref} (${row.section.toLowerCase()} are not visible in this sandbox).`, 404);
  }
  return refuse(`${row.rule}:section-off`, `${method} /${apiPath} needs ${row.section}=1, which this proxy was not given.`);
}

/** An Upgrade header, or `upgrade` among the Connection options: a request to leave HTTP. */
export function asksForUpgrade(headers: IncomingHttpHeaders): boolean {
  const connection = String(headers.connection ?? '');
  return headers.upgrade !== undefined || /(^|[\s,])upgrade($|[\s,])/i.test(connection);
}

export function declaresBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (headers['content-length'] ?? '0') !== '0';
}

/** Why the client's `filters` cannot take the scope label, or undefined when they can. */
function filtersProblem(raw: string | undefined): string | undefined {
  try {
    parseFilters(raw);
    return undefined;
  } catch (error) {
    if (error instanceof FilterError) return error.message;
    throw error;
  }
}

/**
 * Decides one request. Pure: same input, same answer; no I/O. The path speaks first, so
 * `docker run` hears that it is blocked, not why its body is.
 */
export function decide(request: RequestHead, switches: Switches): Decision {
  const { method, headers } = request;
  const target = parseTarget(request.target);
  if ('allowed' in target) return target;
  const { version, segments, apiPath } = target;
  if (method !== 'GET' && method !== 'HEAD') return refuse('read-only', describeBlocked(method, apiPath));
  const found = findRule(segments);
  if (!found) return refuse('no-rule', describeBlocked(method, apiPath));
  const { row, ref } = found;
  if (!switches[row.section]) return refuseSectionOff(row, ref, method, apiPath);
  const query = parseQuery(target.query);
  if ('error' in query) return refuse('bad-query', `${query.error}.`, 400);
  if (asksForUpgrade(headers)) return refuse('upgrade', 'protocol upgrades (attach, exec or websockets) are not proxied.');
  if (declaresBody(headers)) return refuse('request-body', 'requests with a body are not accepted by this read-only proxy.', 400);
  const problem = row.scopesFilters ? filtersProblem(query.params.filters) : undefined;
  if (problem) return refuse('bad-query', `${problem}.`, 400);
  return { allowed: true, rule: row.rule, handle: row.handle, method, version, segments, params: query.params, ref };
}
