import { loadConfig, MAX_SCOPE_SELECTORS, parseListen, parseScope, READ_SWITCHES, WRITE_SWITCHES } from './config';

describe('loadConfig', () => {
  it("uses Tecnativa's defaults: PING, VERSION, EVENTS on; every other section off", () => {
    const config = loadConfig({});
    expect(config.switches).toEqual(READ_SWITCHES);
    expect(config.socketPath).toBe('/var/run/docker.sock');
    expect(config.listen).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(config.scope).toEqual({ selector: 'org.devsec.scope', anyOf: [{ key: 'org.devsec.scope', value: undefined, selector: 'org.devsec.scope' }] });
  });

  it('reads the read switches, LISTEN, SOCKET_PATH, SCOPE_LABEL and LOG_LEVEL', () => {
    const config = loadConfig({
      CONTAINERS: '1',
      IMAGES: 'true',
      INFO: '0',
      EVENTS: '0',
      NETWORKS: 'yes',
      VOLUMES: '1',
      LISTEN: 'unix:///run/devsec/docker.sock',
      SOCKET_PATH: '/run/docker.sock',
      SCOPE_LABEL: 'org.devsec.scope=dev',
      LOG_LEVEL: 'WARN',
    });
    expect(config.switches).toMatchObject({ CONTAINERS: true, IMAGES: true, INFO: false, EVENTS: false, NETWORKS: true, VOLUMES: true });
    expect(config.listen).toEqual({ kind: 'unix', path: '/run/devsec/docker.sock' });
    expect(config.scope).toEqual({ selector: 'org.devsec.scope=dev', anyOf: [{ key: 'org.devsec.scope', value: 'dev', selector: 'org.devsec.scope=dev' }] });
    expect(config.logLevel).toBe('warn');
  });

  it.each(WRITE_SWITCHES)('refuses to start when the write switch %s is on', (name) => {
    expect(() => loadConfig({ [name]: '1' })).toThrow(new RegExp(`${name}=1 asks for write access`));
  });

  it('accepts write switches that are explicitly off, as a Tecnativa compose file has them', () => {
    expect(() => loadConfig({ POST: '0', EXEC: '0', BUILD: '0', COMMIT: '0', SWARM: '0' })).not.toThrow();
  });

  it.each([
    ['CONTAINER', 'CONTAINERS'],
    ['IMAGE', 'IMAGES'],
    ['NETWORK', 'NETWORKS'],
    ['VOLUME', 'VOLUMES'],
    ['EXCE', 'EXEC'],
    ['POSTS', 'POST'],
  ])('calls the misspelt switch %s=1 an error and suggests %s', (typo, suggestion) => {
    expect(() => loadConfig({ [typo]: '1' })).toThrow(`${typo}=1 is not a switch this proxy knows. Did you mean ${suggestion}?`);
  });

  it('leaves ordinary environment alone', () => {
    expect(() =>
      loadConfig({ PATH: '/usr/bin', HOME: '/home/node', SHLVL: '1', NODE_VERSION: '24.11.0', HOSTNAME: 'abc', CI: 'true', NO_COLOR: '1', DEBUG: '1' }),
    ).not.toThrow();
  });

  it.each([
    [{ CONTAINERS: 'maybe' }, /CONTAINERS=maybe is not a switch value/],
    [{ LISTEN: '0.0.0.0:2375' }, /LISTEN=0.0.0.0:2375 is not understood: use tcp:\/\/HOST:PORT/],
    [{ LISTEN: 'tcp://127.0.0.1:70000' }, /port must be between 1 and 65535/],
    [{ SOCKET_PATH: 'docker.sock' }, /SOCKET_PATH=docker.sock must be an absolute path/],
    [{ SCOPE_LABEL: 'a b' }, /SCOPE_LABEL=a b is not a label selector/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL=loud is not one of/],
  ])('explains bad input %p', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reports every problem at once', () => {
    expect(() => loadConfig({ POST: '1', CONTAINER: '1' })).toThrow(/POST=1[\s\S]*CONTAINER=1/);
  });
});

describe('SCOPE_LABEL', () => {
  it('takes a list of selectors, any of which puts a container in scope', () => {
    expect(loadConfig({ SCOPE_LABEL: 'com.docker.compose.project=app-ws-1a2b3c4d,org.devsec.scope=dev' }).scope).toEqual({
      selector: 'com.docker.compose.project=app-ws-1a2b3c4d,org.devsec.scope=dev',
      anyOf: [
        { key: 'com.docker.compose.project', value: 'app-ws-1a2b3c4d', selector: 'com.docker.compose.project=app-ws-1a2b3c4d' },
        { key: 'org.devsec.scope', value: 'dev', selector: 'org.devsec.scope=dev' },
      ],
    });
    expect(parseScope('a,b=c').anyOf.map((selector) => [selector.key, selector.value])).toEqual([
      ['a', undefined],
      ['b', 'c'],
    ]);
  });

  it.each([
    // What an unset variable leaves behind, in each place.
    [
      'com.docker.compose.project=,org.devsec.scope=dev',
      /SCOPE_LABEL=com.docker.compose.project=,org.devsec.scope=dev holds "com.docker.compose.project=", which is not a label selector/,
    ],
    ['org.devsec.scope=dev,', /holds an empty selector/],
    [',org.devsec.scope=dev', /holds an empty selector/],
    ['a=b,,c=d', /holds an empty selector/],
    ['a=b, c=d', /holds " c=d", which is not a label selector: use KEY or KEY=VALUE selectors separated by commas, without spaces/],
    ['a=b,a=b', /repeats the selector a=b/],
    ['a=b,c==d', /holds "c==d"/],
    [Array.from({ length: MAX_SCOPE_SELECTORS + 1 }, (_, i) => `k${i}=v`).join(','), /holds 9 selectors, more than 8/],
    ['', /SCOPE_LABEL= is not a label selector/],
  ])('refuses %p', (SCOPE_LABEL, message) => {
    expect(() => loadConfig({ SCOPE_LABEL })).toThrow(message);
  });
});

describe('parseListen', () => {
  it('understands IPv6 listeners', () => {
    expect(parseListen('tcp://[::1]:2375')).toEqual({ kind: 'tcp', host: '::1', port: 2375 });
  });
});

describe('loadConfig: the write policy', () => {
  const on = { CONTAINERS: '1', WRITE_POLICY: '1', WRITE_OWNER: 'app-ws-1a2b', CHILDREN_NETWORK: 'app-ws-1a2b_children' };

  it('is off unless WRITE_POLICY=1', () => expect(loadConfig({ CONTAINERS: '1' }).write).toBeUndefined());

  it('reads its options, with defaults, and adds the owner label to the scope', () => {
    const config = loadConfig({ ...on, SCOPE_LABEL: 'com.docker.compose.project=app-ws-1a2b' });
    expect(config.write).toEqual({
      owner: 'app-ws-1a2b',
      childrenNetwork: 'app-ws-1a2b_children',
      memoryBytes: 1024 ** 3,
      pids: 512,
      nanoCpus: 1e9,
      runtime: undefined,
      allowRegistries: ['docker.io'],
      maxChildren: 16,
      scopeLabels: [{ key: 'com.docker.compose.project', value: 'app-ws-1a2b', selector: 'com.docker.compose.project=app-ws-1a2b' }],
    });
    expect(config.scope.selector).toBe('com.docker.compose.project=app-ws-1a2b,org.devsec.owner=app-ws-1a2b');
    const custom = loadConfig({
      ...on,
      CHILD_MEMORY: '512m',
      CHILD_PIDS: '100',
      CHILD_CPUS: '0.5',
      CHILD_RUNTIME: 'runsc',
      MAX_CHILDREN: '4',
      ALLOW_REGISTRIES: 'docker.io, GHCR.io',
    });
    expect(custom.write).toMatchObject({
      memoryBytes: 512 * 1024 ** 2,
      pids: 100,
      nanoCpus: 5e8,
      runtime: 'runsc',
      maxChildren: 4,
      allowRegistries: ['docker.io', 'ghcr.io'],
    });
  });

  it.each([
    [{ ...on, WRITE_OWNER: '' }, /WRITE_OWNER= must name this stack/],
    [{ ...on, CHILDREN_NETWORK: undefined }, /CHILDREN_NETWORK=/],
    [{ ...on, CONTAINERS: '0' }, /WRITE_POLICY=1 needs CONTAINERS=1/],
    [{ ...on, CHILD_MEMORY: '1k' }, /CHILD_MEMORY=1k is not a memory size/],
    [{ ...on, CHILD_CPUS: 'lots' }, /CHILD_CPUS=lots/],
    [{ ...on, ALLOW_REGISTRIES: 'evil.example/path' }, /ALLOW_REGISTRIES holds "evil.example\/path"/],
    [{ CONTAINERS: '1', WRITE_OWNER: 'x' }, /WRITE_OWNER configure the write policy, which WRITE_POLICY=1 turns on; it is off/],
    [{ ...on, WRITE_POLICY: 'maybe' }, /WRITE_POLICY=maybe is not a switch value/],
  ])('refuses a bad configuration %#', (env, message) => expect(() => loadConfig(env)).toThrow(message));
});
