/**
 * Scope: the proxy only shows containers that match one of SCOPE_LABEL's selectors (OR).
 * dockerd ANDs label filters, so a list is one engine query per selector, merged here; events
 * are matched here, line by line; and wherever a single container is named, the proxy checks
 * its labels itself.
 */
import type { Scope, ScopeLabel } from './config';
import type { EngineJson } from './redact';

export class FilterError extends Error {}

export type Filters = { [key: string]: string[] };
export type QueryParams = { [name: string]: string };

/** Docker accepts `filters` as `{"label":["a=b"]}` or the legacy `{"label":{"a=b":true}}`. */
export function parseFilters(raw: string | undefined): Filters {
  if (raw === undefined || raw === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new FilterError('the filters parameter is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FilterError('the filters parameter must be a JSON object');
  }
  const filters: Filters = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      filters[key] = [...value];
    } else if (value !== null && typeof value === 'object' && Object.values(value).every((flag) => flag === true)) {
      filters[key] = Object.keys(value);
    } else {
      throw new FilterError(`filters.${key} must be a list of strings`);
    }
  }
  return filters;
}

/**
 * Adds one scope selector to a request's filters (one engine query per selector).
 * @param extra filters to force, replacing the client's
 */
export function withScopeFilter(params: QueryParams, scope: Pick<ScopeLabel, 'selector'>, extra: Filters = {}): QueryParams {
  const filters = parseFilters(params.filters);
  filters.label = [...(filters.label ?? []).filter((label) => label !== scope.selector), scope.selector];
  Object.assign(filters, extra);
  return { ...params, filters: JSON.stringify(filters) };
}

/**
 * The engine query behind /events: the client's own filters, and container events only unless
 * the client asked for types itself (then what is not a container event is dropped here).
 */
export function eventQuery(params: QueryParams): QueryParams {
  const filters = parseFilters(params.filters);
  if (!filters.type) filters.type = ['container'];
  return { ...params, filters: JSON.stringify(filters) };
}

export function hasScopeLabel(labels: { [key: string]: string } | null | undefined, scope: Pick<ScopeLabel, 'key' | 'value'>): boolean {
  if (!labels || typeof labels !== 'object' || !Object.prototype.hasOwnProperty.call(labels, scope.key)) return false;
  return scope.value === undefined || labels[scope.key] === scope.value;
}

/** Whether labels match any selector of the scope. */
export function matchesScope(labels: { [key: string]: string } | null | undefined, scope: Pick<Scope, 'anyOf'>): boolean {
  return scope.anyOf.some((selector) => hasScopeLabel(labels, selector));
}

/** Whether one event from `/events` concerns a container in scope (its labels are among the attributes). */
export function isEventInScope(event: EngineJson, scope: Pick<Scope, 'anyOf'>): boolean {
  return event !== null && typeof event === 'object' && event.Type === 'container' && matchesScope(event.Actor && event.Actor.Attributes, scope);
}

export function encodeQuery(params: QueryParams): string {
  const pairs = Object.entries(params).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

/** One entry of `GET /containers/json`, in any API version: an Id and a creation time in seconds. */
export interface ListedContainer {
  Id: string;
  Created: number;
  [field: string]: unknown;
}

export function isContainerList(value: unknown): value is ListedContainer[] {
  return (
    Array.isArray(value) &&
    value.every((entry) => entry !== null && typeof entry === 'object' && typeof entry.Id === 'string' && typeof entry.Created === 'number')
  );
}

/**
 * Ids whose order the merge cannot take from any one list: containers of different lists
 * created in the same second (`Created` has seconds; the engine orders by nanoseconds).
 */
export function idsTiedAcrossLists(lists: ListedContainer[][]): string[] {
  const bySecond = new Map<number, Map<string, Set<number>>>();
  lists.forEach((list, index) => {
    for (const container of list) {
      const ids = bySecond.get(container.Created) ?? new Map<string, Set<number>>();
      bySecond.set(container.Created, ids);
      ids.set(container.Id, (ids.get(container.Id) ?? new Set<number>()).add(index));
    }
  });
  const tied: string[] = [];
  for (const ids of bySecond.values()) {
    const listsInGroup = new Set([...ids.values()].flatMap((indexes) => [...indexes]));
    if (ids.size > 1 && listsInGroup.size > 1) tied.push(...ids.keys());
  }
  return tied;
}

/** An inspect `Created` (RFC 3339 with up to nine fraction digits) in nanoseconds. */
export function createdNanos(created: unknown): bigint | undefined {
  const match = typeof created === 'string' ? /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(created) : null;
  if (!match) return undefined;
  const millis = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(millis)) return undefined;
  return BigInt(millis) * 1_000_000n + BigInt((match[2] ?? '').padEnd(9, '0'));
}

/**
 * One list from the per-selector lists, in the engine's order (newest first): each list is
 * already in that order, `Created` orders across lists, and `nanos` (inspect's creation times
 * of the ids idsTiedAcrossLists named) breaks same-second ties. A group with a missing time
 * keeps list order. Duplicates (a container matching two selectors) appear once; `limit` > 0
 * keeps the newest that many, as the engine does after filtering.
 */
export function mergeNewestFirst(lists: ListedContainer[][], nanos: ReadonlyMap<string, bigint> = new Map(), limit = 0): ListedContainer[] {
  type Entry = { container: ListedContainer; list: number; position: number };
  const seen = new Set<string>();
  const entries: Entry[] = [];
  lists.forEach((list, index) =>
    list.forEach((container, position) => {
      if (seen.has(container.Id)) return;
      seen.add(container.Id);
      entries.push({ container, list: index, position });
    }),
  );
  const groupTimed = new Map<number, boolean>();
  for (const { container } of entries) {
    groupTimed.set(container.Created, (groupTimed.get(container.Created) ?? true) && nanos.has(container.Id));
  }
  entries.sort((a, b) => {
    if (a.container.Created !== b.container.Created) return b.container.Created - a.container.Created;
    if (groupTimed.get(a.container.Created)) {
      const [na, nb] = [nanos.get(a.container.Id) as bigint, nanos.get(b.container.Id) as bigint];
      if (na !== nb) return na > nb ? -1 : 1;
    }
    return a.list - b.list || a.position - b.position;
  });
  const merged = entries.map((entry) => entry.container);
  return limit > 0 ? merged.slice(0, limit) : merged;
}

/** The engine's `limit` parameter, read as it reads it (an integer; 0 or less means none). */
export function listLimit(params: QueryParams): number {
  return params.limit !== undefined && /^[+-]?[0-9]{1,9}$/.test(params.limit) ? Number(params.limit) : 0;
}

/** The containers a list query names as `since`/`before` anchors, which the engine resolves. */
export function listAnchors(params: QueryParams): string[] {
  const filters = parseFilters(params.filters);
  return [...(filters.since ?? []), ...(filters.before ?? [])];
}

/**
 * Drops the legacy-link names (`/parent/alias`) whose parent is not in the list: a container's
 * `Names` also name every container that links to it, in scope or not.
 */
export function withoutForeignLinkNames(containers: ListedContainer[]): ListedContainer[] {
  const names = (container: ListedContainer) => (Array.isArray(container.Names) ? container.Names.filter((name) => typeof name === 'string') : []);
  const listed = new Set(containers.flatMap((container) => names(container).filter((name) => name.lastIndexOf('/') === 0)));
  return containers.map((container) => {
    if (!Array.isArray(container.Names)) return container;
    const kept = names(container).filter((name) => name.lastIndexOf('/') <= 0 || listed.has(name.slice(0, name.indexOf('/', 1))));
    return kept.length === container.Names.length ? container : { ...container, Names: kept };
  });
}
