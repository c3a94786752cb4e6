/**
 * Scope: the proxy only shows containers that carry our stack label. dockerd does the
 * filtering for lists and events (label filters are ANDed), and the proxy checks the label
 * itself wherever a single container is named.
 */
import type { ScopeLabel } from './config';
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
 * Adds the scope label to a request's filters.
 * @param extra filters to force, replacing the client's
 */
export function withScopeFilter(params: QueryParams, scope: Pick<ScopeLabel, 'selector'>, extra: Filters = {}): QueryParams {
  const filters = parseFilters(params.filters);
  filters.label = [...(filters.label ?? []).filter((label) => label !== scope.selector), scope.selector];
  Object.assign(filters, extra);
  return { ...params, filters: JSON.stringify(filters) };
}

export function hasScopeLabel(labels: { [key: string]: string } | null | undefined, scope: Pick<ScopeLabel, 'key' | 'value'>): boolean {
  if (!labels || !Object.prototype.hasOwnProperty.call(labels, scope.key)) return false;
  return scope.value === undefined || labels[scope.key] === scope.value;
}

/** Whether one event from `/events` concerns a container in scope. */
export function isEventInScope(event: EngineJson, scope: Pick<ScopeLabel, 'key' | 'value'>): boolean {
  return event !== null && typeof event === 'object' && event.Type === 'container' && hasScopeLabel(event.Actor && event.Actor.Attributes, scope);
}

export function encodeQuery(params: QueryParams): string {
  const pairs = Object.entries(params).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}
