import {
  createdNanos,
  encodeQuery,
  eventQuery,
  FilterError,
  hasScopeLabel,
  idsTiedAcrossLists,
  isContainerList,
  isEventInScope,
  listAnchors,
  listLimit,
  ListedContainer,
  matchesScope,
  mergeNewestFirst,
  parseFilters,
  withoutForeignLinkNames,
  withScopeFilter,
} from './scope';
import { filterNetworkContainers, redactInspect } from './redact';

const scope = { key: 'org.devsec.scope', value: 'dev', selector: 'org.devsec.scope=dev' };
const stack = { key: 'com.docker.compose.project', value: 'app-ws-1a2b3c4d', selector: 'com.docker.compose.project=app-ws-1a2b3c4d' };
/** A stack's own compose project, or the shared services of its network. */
const stackScope = { anyOf: [stack, scope] };

describe('withScopeFilter', () => {
  it('adds the scope label to an empty query', () => {
    expect(withScopeFilter({}, scope)).toEqual({ filters: '{"label":["org.devsec.scope=dev"]}' });
  });

  it("ANDs with the client's own labels and keeps its other filters, in both JSON forms", () => {
    const modern = withScopeFilter({ all: '1', filters: '{"label":["com.docker.compose.project=x"],"status":["running"]}' }, scope);
    expect(modern.all).toBe('1');
    expect(JSON.parse(modern.filters)).toEqual({ label: ['com.docker.compose.project=x', 'org.devsec.scope=dev'], status: ['running'] });
    const legacy = withScopeFilter({ filters: '{"label":{"a=b":true}}' }, scope);
    expect(JSON.parse(legacy.filters)).toEqual({ label: ['a=b', 'org.devsec.scope=dev'] });
  });

  it.each(['not json', '[]', '{"label":"x"}', '{"label":[1]}', 'null'])('refuses filters %s', (filters) => {
    expect(() => withScopeFilter({ filters }, scope)).toThrow(FilterError);
  });
});

describe('scope checks', () => {
  it('matches KEY=VALUE exactly and KEY by presence', () => {
    expect(hasScopeLabel({ 'org.devsec.scope': 'dev' }, scope)).toBe(true);
    expect(hasScopeLabel({ 'org.devsec.scope': 'other' }, scope)).toBe(false);
    expect(hasScopeLabel({}, scope)).toBe(false);
    expect(hasScopeLabel(null, scope)).toBe(false);
    expect(hasScopeLabel({ 'org.devsec.scope': '' }, { key: 'org.devsec.scope', value: undefined })).toBe(true);
    expect(hasScopeLabel(Object.create({ 'org.devsec.scope': 'dev' }), scope)).toBe(false);
  });

  it('keeps only container events of containers in scope', () => {
    const event = (Type: string, labels: Record<string, string>) => ({ Type, Actor: { ID: 'x', Attributes: labels } });
    expect(isEventInScope(event('container', { 'org.devsec.scope': 'dev' }), { anyOf: [scope] })).toBe(true);
    expect(isEventInScope(event('container', {}), { anyOf: [scope] })).toBe(false);
    expect(isEventInScope(event('network', { 'org.devsec.scope': 'dev' }), { anyOf: [scope] })).toBe(false);
    expect(isEventInScope(null, { anyOf: [scope] })).toBe(false);
  });

  it('parses filters and encodes queries', () => {
    expect(parseFilters(undefined)).toEqual({});
    expect(encodeQuery({ a: '1', f: '{"x":["a b"]}' })).toBe('?a=1&f=%7B%22x%22%3A%5B%22a%20b%22%5D%7D');
    expect(encodeQuery({})).toBe('');
  });
});

describe('redaction', () => {
  it('keeps env names and replaces values in container and image inspect, and hides layer paths', () => {
    const inspected = {
      Id: 'abc',
      Config: { Env: ['POSTGRES_PASSWORD=hunter2', 'PATH=/usr/bin', 'EMPTY=', 'NOVALUE'], Labels: { a: 'b' } },
      ContainerConfig: { Env: ['TOKEN=abc'] },
      GraphDriver: { Name: 'overlay2', Data: { UpperDir: '/var/lib/docker/overlay2/x/diff' } },
    };
    const redacted = redactInspect(inspected);
    expect(redacted.Config.Env).toEqual(['POSTGRES_PASSWORD=<redacted>', 'PATH=<redacted>', 'EMPTY=<redacted>', 'NOVALUE']);
    expect(redacted.ContainerConfig.Env).toEqual(['TOKEN=<redacted>']);
    expect(redacted.GraphDriver).toEqual({ Name: 'overlay2', Data: { UpperDir: '<redacted>' } });
    expect(redacted.Config.Labels).toEqual({ a: 'b' });
    expect(JSON.stringify(redacted)).not.toContain('hunter2');
    expect(inspected.Config.Env[0]).toBe('POSTGRES_PASSWORD=hunter2');
  });

  it('leaves answers without those fields as they are', () => {
    expect(redactInspect({ Id: 'x', Config: null })).toEqual({ Id: 'x', Config: null });
    expect(redactInspect([])).toEqual([]);
  });

  it("lists only in-scope containers in a network's inspect", () => {
    const network = { Name: 'dev', Containers: { a: { Name: 'mine' }, b: { Name: 'theirs' } } };
    expect(filterNetworkContainers(network, new Set(['a']))).toEqual({ Name: 'dev', Containers: { a: { Name: 'mine' } } });
  });
});

describe('a scope of several selectors (OR)', () => {
  it('matches labels that satisfy any selector, and none other', () => {
    expect(matchesScope({ 'com.docker.compose.project': 'app-ws-1a2b3c4d' }, stackScope)).toBe(true);
    expect(matchesScope({ 'org.devsec.scope': 'dev', 'com.docker.compose.project': 'repo-shared' }, stackScope)).toBe(true);
    // Another worktree's stack, and a shared service of another network.
    expect(matchesScope({ 'com.docker.compose.project': 'app-agent-2-5e6f7a8b', 'org.devsec.scope': 'other' }, stackScope)).toBe(false);
    expect(matchesScope({ 'com.docker.compose.project': 'app-ws-1a2b3c4d-extra' }, stackScope)).toBe(false);
    expect(matchesScope(undefined, stackScope)).toBe(false);
  });

  it('keeps container events of either selector', () => {
    const event = (labels: Record<string, string>) => ({ Type: 'container', Action: 'start', Actor: { ID: 'x', Attributes: labels } });
    expect(isEventInScope(event({ 'com.docker.compose.project': 'app-ws-1a2b3c4d' }), stackScope)).toBe(true);
    expect(isEventInScope(event({ 'org.devsec.scope': 'dev' }), stackScope)).toBe(true);
    expect(isEventInScope(event({ 'com.docker.compose.project': 'app-agent-2-5e6f7a8b' }), stackScope)).toBe(false);
  });

  it('asks the engine for container events with the client’s own filters, unless the client chose types itself', () => {
    expect(JSON.parse(eventQuery({}).filters)).toEqual({ type: ['container'] });
    expect(JSON.parse(eventQuery({ since: '1', filters: '{"label":["a=b"]}' }).filters)).toEqual({ label: ['a=b'], type: ['container'] });
    expect(eventQuery({ since: '1' }).since).toBe('1');
    expect(JSON.parse(eventQuery({ filters: '{"type":["network"]}' }).filters)).toEqual({ type: ['network'] });
  });

  it('reads the anchors of a list query, and the limit as dockerd does', () => {
    expect(listAnchors({ filters: '{"since":["a"],"before":["b"],"label":["x"]}' })).toEqual(['a', 'b']);
    expect(listAnchors({})).toEqual([]);
    expect([listLimit({ limit: '3' }), listLimit({ limit: '+2' }), listLimit({ limit: '-1' }), listLimit({ limit: 'x' }), listLimit({})]).toEqual([
      3, 2, -1, 0, 0,
    ]);
  });
});

describe('merging per-selector container lists', () => {
  const c = (Id: string, Created: number, extra: Partial<ListedContainer> = {}): ListedContainer => ({ Id, Created, ...extra });
  const ids = (list: ListedContainer[]) => list.map((container) => container.Id);

  it('interleaves the lists newest first and lists a container matching two selectors once', () => {
    const own = [c('a', 50), c('b', 30), c('d', 10)];
    const shared = [c('s', 40), c('b', 30), c('t', 5)];
    expect(ids(mergeNewestFirst([own, shared]))).toEqual(['a', 's', 'b', 'd', 't']);
    expect(ids(mergeNewestFirst([own, []]))).toEqual(['a', 'b', 'd']);
    expect(mergeNewestFirst([])).toEqual([]);
  });

  it('applies the limit after the merge: the newest N of the union', () => {
    const own = [c('a', 50), c('b', 30)];
    const shared = [c('s', 40), c('t', 35)];
    expect(ids(mergeNewestFirst([own, shared], new Map(), 3))).toEqual(['a', 's', 't']);
    expect(ids(mergeNewestFirst([own, shared], new Map(), -1))).toEqual(['a', 's', 't', 'b']);
  });

  it('names same-second containers of different lists for a tie-break, and only those', () => {
    const own = [c('a', 50), c('b', 50), c('d', 10)];
    const shared = [c('s', 50), c('t', 20)];
    expect(idsTiedAcrossLists([own, shared]).sort()).toEqual(['a', 'b', 's']);
    // Same second, one list: its own order is the engine's.
    expect(idsTiedAcrossLists([[c('a', 50), c('b', 50)], [c('t', 20)]])).toEqual([]);
    // The same container in both lists is no tie.
    expect(idsTiedAcrossLists([[c('a', 50)], [c('a', 50)]])).toEqual([]);
  });

  it('orders a same-second group by the nanoseconds inspect gives, as the engine does', () => {
    const own = [c('a', 50), c('b', 50)];
    const shared = [c('s', 50)];
    const nanos = new Map([
      ['a', 50_900_000_000n],
      ['s', 50_500_000_000n],
      ['b', 50_100_000_000n],
    ]);
    expect(ids(mergeNewestFirst([own, shared], nanos))).toEqual(['a', 's', 'b']);
    expect(ids(mergeNewestFirst([own, shared], nanos, 2))).toEqual(['a', 's']);
    // Without every time of the group, the lists' own order, list by list.
    expect(ids(mergeNewestFirst([own, shared], new Map([['s', 1n]])))).toEqual(['a', 'b', 's']);
  });

  it('reads inspect times to the nanosecond', () => {
    expect(createdNanos('2026-11-28T18:16:31.397473976Z')).toBe(1795889791397473976n);
    expect(createdNanos('2026-11-28T18:16:31.3Z')).toBe(1795889791300000000n);
    expect(createdNanos('2026-11-28T18:16:31Z')).toBe(1795889791000000000n);
    expect(createdNanos('2026-11-28T19:16:31.5+01:00')).toBe(1795889791500000000n);
    expect([createdNanos('yesterday'), createdNanos(17), createdNanos(undefined)]).toEqual([undefined, undefined, undefined]);
  });

  it('knows a container list when it sees one', () => {
    expect(isContainerList([c('a', 1)])).toBe(true);
    expect(isContainerList([])).toBe(true);
    expect([isContainerList({}), isContainerList([{ Id: 'a' }]), isContainerList([null])]).toEqual([false, false, false]);
  });

  it('drops legacy-link names that name a container outside the list', () => {
    const listed = [c('db', 2, { Names: ['/db', '/outsider/database', '/web/db'] }), c('web', 1, { Names: ['/web'] })];
    expect(withoutForeignLinkNames(listed).map((container) => container.Names)).toEqual([['/db', '/web/db'], ['/web']]);
    expect(withoutForeignLinkNames([c('x', 1)])).toEqual([c('x', 1)]);
  });
});
