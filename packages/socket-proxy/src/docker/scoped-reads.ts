/**
 * Reads from the engine for one request, within the scope. dockerd ANDs label filters, so a
 * container list is one query per selector, merged here in the engine's order; a single
 * container is read and then judged by its labels.
 */
import { randomBytes } from 'node:crypto';
import type { Scope } from './config';
import { OBJECT_REF } from './policy';
import type { EngineJson } from './redact';
import type { Answer } from '../common/respond';
import {
  createdNanos,
  encodeQuery,
  idsTiedAcrossLists,
  isContainerList,
  listAnchors,
  listLimit,
  ListedContainer,
  matchesScope,
  mergeNewestFirst,
  parseFilters,
  QueryParams,
  withoutForeignLinkNames,
  withScopeFilter,
} from './scope';
import type { Upstream } from './upstream';

/** Everything a scoped read needs: the engine, the client's API version prefix and User-Agent, the scope. */
export interface EngineReader {
  upstream: Upstream;
  /** `/v1.41` or nothing, as the client sent it: the engine answers in that version's shape. */
  prefix: string;
  userAgent: string | undefined;
  scope: Scope;
}

/** Tie-breaking inspects run this many at a time. */
const TIE_INSPECTS_AT_ONCE = 4;

export function parseAnswer(answer: Answer): unknown {
  try {
    return JSON.parse(answer.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** What the engine sent cannot be judged: answered as the engine failing, never passed on. */
export function unexpectedAnswer(what: string): Answer {
  const body = Buffer.from(JSON.stringify({ message: `devsec proxy: the Docker engine's answer to ${what} is not in a shape this proxy can filter.` }));
  return { status: 502, headers: { 'content-type': 'application/json' }, body };
}

export type Listed = { containers: ListedContainer[]; answer: Answer } | { failed: Answer };

/** `GET /containers/json` with the client's parameters, one query per selector, merged. */
export async function listInScope(reader: EngineReader, params: QueryParams): Promise<Listed> {
  const { upstream, prefix, userAgent, scope } = reader;
  const answers = await Promise.all(
    scope.anyOf.map((selector) => upstream.fetch(`${prefix}/containers/json${encodeQuery(withScopeFilter(params, selector))}`, userAgent)),
  );
  const failed = answers.find((answer) => answer.status !== 200);
  if (failed) return { failed };
  const lists = answers.map(parseAnswer);
  if (!lists.every(isContainerList)) return { failed: unexpectedAnswer('a container list') };
  const nanos = new Map<string, bigint>();
  const tied = idsTiedAcrossLists(lists).filter((id) => OBJECT_REF.test(id));
  for (let at = 0; at < tied.length; at += TIE_INSPECTS_AT_ONCE) {
    await Promise.all(
      tied.slice(at, at + TIE_INSPECTS_AT_ONCE).map(async (id) => {
        const answer = await upstream.fetch(`${prefix}/containers/${id}/json`, userAgent);
        const created = answer.status === 200 ? createdNanos((parseAnswer(answer) as EngineJson)?.Created) : undefined;
        if (created !== undefined) nanos.set(id, created);
      }),
    );
  }
  return { containers: withoutForeignLinkNames(mergeNewestFirst(lists, nanos, listLimit(params))), answer: answers[0] };
}

/** The ids of every container in scope, stopped ones included. */
export async function idsInScope(reader: EngineReader): Promise<{ ids: Set<string> } | { failed: Answer }> {
  const listed = await listInScope(reader, { all: '1' });
  if ('failed' in listed) return listed;
  return { ids: new Set(listed.containers.map((container) => container.Id)) };
}

/**
 * Resolves a container reference to its inspect object, or hidden when it is outside the
 * scope (which the client cannot tell from a container that does not exist).
 */
export async function inspectInScope(
  reader: EngineReader,
  ref: string,
  params: QueryParams = {},
): Promise<{ hidden: true } | { answer: Answer; container?: EngineJson; hidden?: undefined }> {
  const answer = await reader.upstream.fetch(`${reader.prefix}/containers/${ref}/json${encodeQuery(params)}`, reader.userAgent);
  if (answer.status !== 200) return { answer };
  const container = parseAnswer(answer) as EngineJson;
  if (!matchesScope(container && container.Config && container.Config.Labels, reader.scope)) return { hidden: true };
  return { answer, container };
}

/** A container name nobody created: what the engine says about it is what it says about a missing one. */
const missingName = () => `devsec-missing-${randomBytes(12).toString('hex')}`;

/** The engine's answer about `missing`, reworded to name `ref`: status, headers and shape as that API version has them. */
function naming(answer: Answer, missing: Map<string, string>): Answer {
  let body = answer.body.toString('utf8');
  for (const [name, ref] of missing) body = body.split(name).join(ref);
  return { ...answer, body: Buffer.from(body) };
}

/**
 * What the engine answers for `/containers/{ref}/{tail}` when no such container exists, asked
 * of it with a name nobody created: a container outside the scope reads exactly like a
 * missing one, in every API version (older ones answer in plain text) and on every endpoint
 * (the logs' own parameter checks included).
 */
export async function missingContainerAnswer(reader: EngineReader, ref: string, tail: string, params: QueryParams): Promise<Answer> {
  const missing = missingName();
  const answer = await reader.upstream.fetch(`${reader.prefix}/containers/${missing}/${tail}${encodeQuery(params)}`, reader.userAgent);
  // Someone did create it: say so in the modern words rather than read it.
  if (answer.status === 200) {
    const body = Buffer.from(JSON.stringify({ message: `No such container: ${ref}` }));
    return { status: 404, headers: { 'content-type': 'application/json' }, body };
  }
  return naming(answer, new Map([[missing, ref]]));
}

/**
 * A container list within the scope, its `since`/`before` anchors judged first: the engine
 * resolves them, and one outside the scope must read as a missing one. Such an anchor is
 * replaced by a name nobody created, and what the engine then answers is reworded to name it.
 * An anchor that is no container reference (nor `/` and one) cannot name a container: it
 * goes to the engine as it is.
 */
export async function listInScopeAnchored(reader: EngineReader, params: QueryParams): Promise<Listed> {
  const missing = new Map<string, string>();
  const replaced = new Map<string, string>();
  for (const anchor of listAnchors(params)) {
    const ref = anchor.replace(/^\//, '');
    if (!OBJECT_REF.test(ref) || replaced.has(anchor)) continue;
    const found = await inspectInScope(reader, ref);
    if (!found.hidden) continue;
    const name = missingName();
    replaced.set(anchor, name);
    missing.set(name, anchor);
  }
  if (replaced.size === 0) return listInScope(reader, params);
  const filters = parseFilters(params.filters);
  for (const key of ['since', 'before']) if (filters[key]) filters[key] = filters[key].map((anchor) => replaced.get(anchor) ?? anchor);
  const listed = await listInScope(reader, { ...params, filters: JSON.stringify(filters) });
  return 'failed' in listed ? { failed: naming(listed.failed, missing) } : listed;
}
