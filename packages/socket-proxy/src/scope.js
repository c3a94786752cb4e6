// @ts-check
'use strict';

/**
 * Scope: the proxy only shows containers that carry our stack label. dockerd does the
 * filtering for lists and events (label filters are ANDed), and the proxy checks the label
 * itself wherever a single container is named.
 */

class FilterError extends Error {}

/**
 * Docker accepts `filters` as `{"label":["a=b"]}` or the legacy `{"label":{"a=b":true}}`.
 * @param {string | undefined} raw
 * @returns {{ [key: string]: string[] }}
 */
function parseFilters(raw) {
  if (raw === undefined || raw === '') return {};
  let parsed;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new FilterError('the filters parameter is not valid JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FilterError('the filters parameter must be a JSON object');
  }
  /** @type {{ [key: string]: string[] }} */
  const filters = {};
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
 * @param {{ [name: string]: string }} params
 * @param {{ selector: string }} scope
 * @param {{ [key: string]: string[] }} [extra] filters to force, replacing the client's
 * @returns {{ [name: string]: string }}
 */
function withScopeFilter(params, scope, extra = {}) {
  const filters = parseFilters(params.filters);
  filters.label = [...(filters.label ?? []).filter((label) => label !== scope.selector), scope.selector];
  Object.assign(filters, extra);
  return { ...params, filters: JSON.stringify(filters) };
}

/**
 * @param {{ [key: string]: string } | null | undefined} labels
 * @param {{ key: string, value: string | undefined }} scope
 */
function hasScopeLabel(labels, scope) {
  if (!labels || !Object.prototype.hasOwnProperty.call(labels, scope.key)) return false;
  return scope.value === undefined || labels[scope.key] === scope.value;
}

/**
 * Whether one event from `/events` concerns a container in scope.
 * @param {any} event
 * @param {{ key: string, value: string | undefined }} scope
 */
function isEventInScope(event, scope) {
  return (
    event !== null &&
    typeof event === 'object' &&
    event.Type === 'container' &&
    hasScopeLabel(event.Actor && event.Actor.Attributes, scope)
  );
}

/**
 * @param {{ [name: string]: string }} params
 */
function encodeQuery(params) {
  const pairs = Object.entries(params).map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  return pairs.length === 0 ? '' : `?${pairs.join('&')}`;
}

module.exports = { FilterError, encodeQuery, hasScopeLabel, isEventInScope, parseFilters, withScopeFilter };
