/**
 * Reads from the engine for one request, within the scope. dockerd ANDs label filters, so a
 * container list is one query per selector, merged here in the engine's order; a single
 * container is read and then judged by its labels.
 */
import type { Scope } from './config';
import { OBJECT_REF } from './policy';
import type { EngineJson } from './redact';
import type { Answer } from './respond';
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

/**
 * The first `since`/`before` anchor of a list query that is not a container in scope. The
 * engine resolves anchors and fails on one it cannot find: passed through, that failure would
 * tell an out-of-scope container from a missing one.
 */
export async function anchorOutsideScope(reader: EngineReader, params: QueryParams): Promise<string | undefined> {
  for (const anchor of listAnchors(params)) {
    if (!OBJECT_REF.test(anchor)) return anchor;
    const found = await inspectInScope(reader, anchor);
    if (found.hidden || !found.container) return anchor;
  }
  return undefined;
}
