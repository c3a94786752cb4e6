import { encodeQuery, FilterError, hasScopeLabel, isEventInScope, parseFilters, withScopeFilter } from './scope';
import { filterNetworkContainers, redactInspect } from './redact';

const scope = { key: 'org.devsec.scope', value: 'dev', selector: 'org.devsec.scope=dev' };

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
    expect(isEventInScope(event('container', { 'org.devsec.scope': 'dev' }), scope)).toBe(true);
    expect(isEventInScope(event('container', {}), scope)).toBe(false);
    expect(isEventInScope(event('network', { 'org.devsec.scope': 'dev' }), scope)).toBe(false);
    expect(isEventInScope(null, scope)).toBe(false);
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
