import {
  filterNetworkContainers,
  networkListNamesContainers,
  redactBuildArgs,
  redactEvent,
  redactInfo,
  redactInspect,
  redactUserinfo,
  redactVolume,
  redactVolumeList,
} from './redact';

const SECRET = 'hunter2';

describe('container inspect', () => {
  it("replaces the values of the log driver's options, and keeps the driver and the option names", () => {
    const inspected = {
      Id: 'c',
      HostConfig: { LogConfig: { Type: 'splunk', Config: { 'splunk-token': SECRET, 'splunk-url': `https://x:${SECRET}@splunk:8088` } }, NetworkMode: 'bridge' },
    };
    expect(redactInspect(inspected).HostConfig).toEqual({
      LogConfig: { Type: 'splunk', Config: { 'splunk-token': '<redacted>', 'splunk-url': '<redacted>' } },
      NetworkMode: 'bridge',
    });
    expect(inspected.HostConfig.LogConfig.Config['splunk-token']).toBe(SECRET);
  });

  it("replaces the values of a mount's volume driver options (docker run --mount volume-opt=…)", () => {
    const mount = (options: unknown) => ({ Type: 'volume', Source: 'v', Target: '/d', VolumeOptions: { DriverConfig: { Name: 'local', Options: options } } });
    const inspected = {
      HostConfig: { Mounts: [mount({ type: 'cifs', o: `username=u,password=${SECRET}` }), { Type: 'bind', Source: '/src', Target: '/d' }, mount(null)] },
    };
    const redacted = redactInspect(inspected);
    expect(redacted.HostConfig.Mounts).toEqual([mount({ type: '<redacted>', o: '<redacted>' }), { Type: 'bind', Source: '/src', Target: '/d' }, mount(null)]);
  });

  it('keeps what it does not redact: labels, command line, mounts, health check', () => {
    const inspected = {
      Path: 'sh',
      Args: ['-c', 'run'],
      Config: { Env: ['A=b'], Cmd: ['sh', '-c', 'run'], Labels: { l: 'v' }, Healthcheck: { Test: ['CMD', 'true'] } },
      Mounts: [{ Type: 'bind', Source: '/home/u/ws', Destination: '/ws' }],
      HostConfig: { Binds: ['/home/u/ws:/ws'] },
    };
    const redacted = redactInspect(inspected);
    expect(redacted).toEqual({ ...inspected, Config: { ...inspected.Config, Env: ['A=<redacted>'] } });
  });

  it('reads the shape of API versions before 1.20 too (Config holds Env; HostConfig the log options)', () => {
    const pre120 = {
      Id: 'c',
      Config: { Env: [`P=${SECRET}`], Memory: 0 },
      Volumes: { '/d': '/var/lib/docker/vfs/x' },
      HostConfig: { LogConfig: { Type: 'gelf', Config: { 'gelf-address': SECRET } } },
    };
    expect(JSON.stringify(redactInspect(pre120))).not.toContain(SECRET);
  });
});

describe('image inspect', () => {
  it('replaces the build arguments the classic builder recorded in ContainerConfig.Cmd', () => {
    expect(redactBuildArgs(['|2', `TOKEN=${SECRET}`, 'MODE=dev', '/bin/sh', '-c', 'make'])).toEqual([
      '|2',
      'TOKEN=<redacted>',
      'MODE=<redacted>',
      '/bin/sh',
      '-c',
      'make',
    ]);
    expect(redactBuildArgs(['/bin/sh', '-c', '#(nop) CMD ["bash"]'])).toEqual(['/bin/sh', '-c', '#(nop) CMD ["bash"]']);
    expect(redactBuildArgs(undefined)).toBeUndefined();
    const image = { ContainerConfig: { Env: [`A=${SECRET}`], Cmd: ['|1', `A=${SECRET}`, '/bin/sh', '-c', 'true'] }, Config: { Cmd: ['bash'] } };
    expect(JSON.stringify(redactInspect(image))).not.toContain(SECRET);
    expect(redactInspect(image).Config).toEqual({ Cmd: ['bash'], Env: undefined });
  });
});

describe('volumes', () => {
  it('replaces driver options and driver status values, in inspect and in the list', () => {
    const volume = {
      Name: 'data',
      Driver: 'local',
      Mountpoint: '/var/lib/docker/volumes/data/_data',
      Labels: { a: 'b' },
      Options: { type: 'nfs', o: `addr=nas,password=${SECRET}`, device: ':/export' },
      Scope: 'local',
    };
    expect(redactVolume(volume)).toEqual({ ...volume, Options: { type: '<redacted>', o: '<redacted>', device: '<redacted>' } });
    expect(redactVolume({ Name: 'p', Options: null, Status: { token: SECRET, nested: { key: SECRET } } })).toEqual({
      Name: 'p',
      Options: null,
      Status: { token: '<redacted>', nested: '<redacted>' },
    });
    const list = { Volumes: [volume, { Name: 'plain', Options: {} }], Warnings: null };
    expect(JSON.stringify(redactVolumeList(list))).not.toContain(SECRET);
    expect(redactVolumeList(list).Volumes[1]).toEqual({ Name: 'plain', Options: {} });
    expect(redactVolumeList({ Volumes: null, Warnings: null })).toEqual({ Volumes: null, Warnings: null });
  });
});

describe('/info', () => {
  it("hides credentials in the engine's proxy URLs, whatever dockerd already masked", () => {
    expect(redactUserinfo(`http://user:${SECRET}@proxy.corp:3128`)).toBe('http://<redacted>@proxy.corp:3128');
    expect(redactUserinfo(`user:${SECRET}@proxy.corp:3128`)).toBe('<redacted>@proxy.corp:3128');
    expect(redactUserinfo(`http://u:p@ss${SECRET}@proxy:1`)).toBe('http://<redacted>@proxy:1');
    expect(redactUserinfo('http://proxy.corp:3128')).toBe('http://proxy.corp:3128');
    expect(redactUserinfo('')).toBe('');
    const info = { Name: 'host', HttpProxy: `http://u:${SECRET}@p:1`, HttpsProxy: `https://u:${SECRET}@p:1`, NoProxy: 'localhost,.corp', Labels: ['zone=a'] };
    expect(redactInfo(info)).toEqual({ ...info, HttpProxy: 'http://<redacted>@p:1', HttpsProxy: 'https://<redacted>@p:1' });
  });

  it("replaces swarm's task log driver options and external CA options, and a signing key", () => {
    const info = {
      Swarm: {
        NodeID: 'n',
        Cluster: {
          ID: 'c',
          Spec: {
            TaskDefaults: { LogDriver: { Name: 'splunk', Options: { 'splunk-token': SECRET } } },
            CAConfig: { ExternalCAs: [{ Protocol: 'cfssl', URL: 'https://ca', Options: { key: SECRET } }], SigningCAKey: SECRET, SigningCACert: 'CERT' },
          },
        },
      },
    };
    const redacted = redactInfo(info);
    expect(JSON.stringify(redacted)).not.toContain(SECRET);
    expect(redacted.Swarm.Cluster.Spec.TaskDefaults.LogDriver).toEqual({ Name: 'splunk', Options: { 'splunk-token': '<redacted>' } });
    expect(redacted.Swarm.Cluster.Spec.CAConfig.SigningCACert).toBe('CERT');
    expect(redactInfo({ Swarm: { LocalNodeState: 'inactive', Cluster: null } })).toEqual({ Swarm: { LocalNodeState: 'inactive', Cluster: null } });
  });
});

describe('events', () => {
  it('hides the command line of exec_create and exec_start, in Action and status; other events are the same object', () => {
    const exec = { status: `exec_create: sh -c 'echo ${SECRET}'`, Type: 'container', Action: `exec_create: sh -c 'echo ${SECRET}'`, Actor: { ID: 'x' } };
    expect(redactEvent(exec)).toEqual({ ...exec, status: 'exec_create: <redacted>', Action: 'exec_create: <redacted>' });
    expect(redactEvent({ Action: `exec_start: psql postgres://u:${SECRET}@db` }).Action).toBe('exec_start: <redacted>');
    for (const event of [{ Action: 'exec_die' }, { Action: 'health_status: healthy' }, { Action: 'start', status: 'start' }])
      expect(redactEvent(event)).toBe(event);
  });
});

describe('networks', () => {
  it('keeps the containers in scope of every network of a list, and knows when a list names none', () => {
    const list = [
      { Name: 'dev', Containers: { mine: { Name: 'm' }, theirs: { Name: 't' } } },
      { Name: 'none', Containers: {} },
    ];
    expect(networkListNamesContainers(list)).toBe(true);
    expect(networkListNamesContainers([{ Name: 'none', Containers: {} }, { Name: 'x' }])).toBe(false);
    expect(list.map((network) => filterNetworkContainers(network, new Set(['mine'])))).toEqual([
      { Name: 'dev', Containers: { mine: { Name: 'm' } } },
      { Name: 'none', Containers: {} },
    ]);
  });

  it('drops swarm Services, and Containers in a shape it cannot filter', () => {
    expect(filterNetworkContainers({ Name: 'o', Services: { web: {} }, Containers: { x: {} } }, new Set())).toEqual({ Name: 'o', Containers: {} });
    expect(filterNetworkContainers({ Name: 'o', Containers: ['x'] }, new Set(['x']))).toEqual({ Name: 'o', Containers: {} });
    expect(filterNetworkContainers({ Name: 'o' }, new Set())).toEqual({ Name: 'o' });
  });
});
