import { ensureSharedNetwork, namesTakenOnSharedNetwork, removeSharedNetworkIfUnused } from './shared-network';
import { stubRunner } from '../../testing/stub-runner';

describe('ensureSharedNetwork', () => {
  const inspectAnswer = (driver: string, internal: boolean, noGateway: boolean, ours: boolean, attached: number) => ({
    stdout: `${driver}|${internal}|${noGateway ? 'true' : '<no value>'}|${ours ? 'true' : '<no value>'}|${attached}\n`,
  });
  const CREATE = 'docker network create --driver bridge --internal --opt com.docker.network.bridge.inhibit_ipv4=true --label org.devsec.managed=true dev';

  it('creates a missing network, labelled as ours: internal, and no address on its bridge', () => {
    const run = stubRunner([[/network inspect/, { status: 1, stderr: 'Error: No such network: dev' }]]);
    const said: string[] = [];
    expect(ensureSharedNetwork('dev', run, (line) => said.push(line))).toEqual({ internal: true, noGateway: true });
    // Missing, or no engine? `docker version` tells, before the create.
    expect(run.calls.slice(1)).toEqual(['docker version --format {{.Server.Version}}', CREATE]);
    expect(said).toEqual(['Created the shared network "dev".']);
  });

  it.each([['--opt=com.docker.network.bridge.inhibit_ipv4=false'], ['dev\n\u001b[2J'], ['']])('refuses the name %j before any docker call', (name) => {
    const run = stubRunner([]);
    expect(() => ensureSharedNetwork(name, run)).toThrow(/is not a Docker network name/);
    expect(run.calls).toEqual([]);
  });

  it('uses one of ours that holds, as it is', () => {
    const run = stubRunner([[/network inspect/, inspectAnswer('bridge', true, true, true, 3)]]);
    expect(ensureSharedNetwork('dev', run, () => undefined)).toEqual({ internal: true, noGateway: true });
    expect(run.calls).toHaveLength(1);
  });

  it('creates one of ours from an older version again while nothing uses it, and says why', () => {
    const run = stubRunner([[/network inspect/, inspectAnswer('bridge', false, false, true, 0)]]);
    const said: string[] = [];
    expect(ensureSharedNetwork('dev', run, (line) => said.push(line))).toEqual({ internal: true, noGateway: true });
    expect(run.calls.slice(1)).toEqual(['docker network rm dev', CREATE]);
    expect(said).toEqual([expect.stringMatching(/^Created the shared network "dev" again, internal: no route out, and no gateway/)]);
  });

  it('leaves one in use as it is, and returns what the gate refuses', () => {
    const run = stubRunner([[/network inspect/, inspectAnswer('bridge', false, false, true, 2)]]);
    expect(ensureSharedNetwork('dev', run, () => undefined)).toEqual({ internal: false, noGateway: false });
    expect(run.calls).toHaveLength(1);
  });

  it('uses an unlabelled bridge network as it is, says so, and returns what the gate judges', () => {
    const said: string[] = [];
    const run = stubRunner([[/network inspect/, inspectAnswer('bridge', true, false, false, 0)]]);
    expect(ensureSharedNetwork('dev', run, (line) => said.push(line))).toEqual({ internal: true, noGateway: false });
    expect(said).toEqual(['Using the existing network "dev" (not created by @org/devsec).']);
    expect(run.calls).toHaveLength(1);
  });

  it('says the daemon does not answer, rather than that it could not create the network', () => {
    const run = stubRunner([[/network inspect|version/, { status: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' }]]);
    expect(() => ensureSharedNetwork('dev', run, () => undefined)).toThrow(/^The Docker daemon does not answer: .*Start it/);
    expect(run.calls.some((call) => call.includes('network create'))).toBe(false);
  });

  it('refuses a network of another driver, naming the fix', () => {
    expect(() => ensureSharedNetwork('dev', stubRunner([[/network inspect/, inspectAnswer('macvlan', false, false, false, 0)]]))).toThrow(
      /"dev" exists with driver "macvlan", not bridge. Remove it \(docker network rm dev\) or pick another name/,
    );
  });

  it('accepts a network another worktree created at the same moment', () => {
    const run = stubRunner([
      [/network inspect/, { status: 1 }],
      [/network create/, { status: 1, stderr: 'Error response from daemon: network with name dev already exists' }],
    ]);
    expect(() => ensureSharedNetwork('dev', run, () => undefined)).not.toThrow();
  });
});

describe('removeSharedNetworkIfUnused', () => {
  it('removes our network once nothing is attached', () => {
    const run = stubRunner([[/network inspect/, { stdout: 'true 0\n' }]]);
    removeSharedNetworkIfUnused('dev', run, () => undefined);
    expect(run.calls).toContain('docker network rm dev');
  });
  it.each([
    ['still in use', 'true 2\n'],
    ['not ours', '<no value> 0\n'],
  ])('keeps it when %s', (_name, stdout) => {
    const run = stubRunner([[/network inspect/, { stdout }]]);
    removeSharedNetworkIfUnused('dev', run, () => undefined);
    expect(run.calls.some((call) => call.includes('network rm'))).toBe(false);
  });
});

describe('namesTakenOnSharedNetwork (F7: two repositories on one shared network)', () => {
  const ID_A = 'a'.repeat(64);
  const ID_B = 'b'.repeat(64);
  const container = (name: string, project: string, service: string, aliases: string[], dir = '/repos/other') => ({
    Name: `/${name}`,
    Config: { Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': service, 'com.docker.compose.project.working_dir': dir } },
    NetworkSettings: { Networks: { dev: { Aliases: aliases } } },
  });

  it("names another project's container answering to one of our services, and not our own", () => {
    const run = stubRunner([
      [/network inspect dev/, { stdout: JSON.stringify({ [ID_A]: { Name: 'x' }, [ID_B]: { Name: 'y' } }) }],
      [
        /^docker inspect --type container/,
        {
          stdout: JSON.stringify([
            container('web-shared-postgres-1', 'web-shared', 'postgres', ['postgres', 'web-shared-postgres-1'], '/repos/mine'),
            container('web-shared-redis-1', 'web-shared-other', 'redis', ['redis'], '/repos/other\u001b[2J'),
          ]),
        },
      ],
    ]);
    expect(namesTakenOnSharedNetwork('dev', 'web-shared', ['postgres', 'redis'], run)).toEqual([
      'redis (container web-shared-redis-1 of compose project web-shared-other in /repos/other\\x1b[2J)',
    ]);
    expect(run.calls[1]).toBe(`docker inspect --type container ${ID_A} ${ID_B}`);
  });

  it('sees a name given as an alias by a container outside compose', () => {
    const run = stubRunner([
      [/network inspect dev/, { stdout: JSON.stringify({ [ID_A]: {} }) }],
      [
        /^docker inspect/,
        { stdout: JSON.stringify([{ Name: '/rogue', Config: { Labels: null }, NetworkSettings: { Networks: { dev: { Aliases: ['postgres'] } } } }]) },
      ],
    ]);
    expect(namesTakenOnSharedNetwork('dev', 'web-shared', ['postgres'], run)).toEqual(['postgres (container rogue)']);
  });

  it('asks nothing more of an empty or missing network', () => {
    expect(namesTakenOnSharedNetwork('dev', 'p', ['postgres'], stubRunner([[/network inspect/, { stdout: '{}\n' }]]))).toEqual([]);
    expect(namesTakenOnSharedNetwork('dev', 'p', ['postgres'], stubRunner([[/network inspect/, { status: 1 }]]))).toEqual([]);
  });
});
