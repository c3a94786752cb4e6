import { createHash } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ENGINES } from '../../sandbox/engines';
import { SandboxError } from '../../sandbox/errors';
import { ENGINE_FACTS } from '../../testing/engine-facts';
import { stubRunner } from '../../testing/stub-runner';
import {
  discoverEngine,
  engineKind,
  forgetEngine,
  localSocketPath,
  proxyAccess,
  resolveEndpoint,
  socketBindSource,
  statSocketInside,
} from './engine-discovery';

const statLine = (stat: { uid: number; gid: number; mode: number }, socket = true) => ({ stdout: `${JSON.stringify({ socket, ...stat })}\n` });

describe('the engine endpoint, as the docker CLI picks it', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'devsec-endpoint-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const context = (name: string, host: string) => {
    const meta = join(dir, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'));
    mkdirSync(meta, { recursive: true });
    writeFileSync(join(meta, 'meta.json'), JSON.stringify({ Name: name, Endpoints: { docker: { Host: host } } }));
  };

  it('takes DOCKER_HOST first, then DOCKER_CONTEXT, then the current context of config.json, else the default socket', () => {
    context('colima', 'unix:///Users/ada/.colima/default/docker.sock');
    context('rootless', 'unix:///run/user/1000/docker.sock');
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ currentContext: 'rootless' }));
    const env = { DOCKER_CONFIG: dir };
    expect(resolveEndpoint({ ...env, DOCKER_HOST: 'unix:///x.sock', DOCKER_CONTEXT: 'colima' })).toEqual({
      host: 'unix:///x.sock',
      from: 'DOCKER_HOST=unix:///x.sock',
    });
    expect(resolveEndpoint({ ...env, DOCKER_CONTEXT: 'colima' })).toEqual({
      host: 'unix:///Users/ada/.colima/default/docker.sock',
      from: 'the docker context "colima"',
    });
    expect(resolveEndpoint(env).host).toBe('unix:///run/user/1000/docker.sock');
    expect(resolveEndpoint({ DOCKER_CONFIG: join(dir, 'none') })).toEqual({ host: 'unix:///var/run/docker.sock', from: 'the default context' });
    expect(resolveEndpoint({ ...env, DOCKER_CONTEXT: 'default' }).host).toBe('unix:///var/run/docker.sock');
  });

  it('names a context it cannot read, with the fix', () => {
    expect(() => resolveEndpoint({ DOCKER_CONFIG: dir, DOCKER_CONTEXT: 'gone' })).toThrow(
      /docker context "gone" has no readable .*meta\.json.*docker context use default/,
    );
  });

  it('refuses a remote engine by what made it the one, and keeps local ones', () => {
    expect(localSocketPath({ host: 'unix:///run/user/1000/docker.sock', from: 'x' })).toBe('/run/user/1000/docker.sock');
    for (const host of ['tcp://127.0.0.1:2375', 'tcp://localhost:2375', 'tcp://[::1]:2376']) expect(localSocketPath({ host, from: 'x' })).toBeUndefined();
    for (const [host, from] of [
      ['tcp://10.0.0.5:2376', 'DOCKER_HOST=tcp://10.0.0.5:2376'],
      ['ssh://ada@build.example.com', 'the docker context "build"'],
      ['tcp://127.0.0.1.nip.io:2375', 'DOCKER_HOST=tcp://127.0.0.1.nip.io:2375'],
    ]) {
      expect(() => localSocketPath({ host, from })).toThrow(SandboxError);
      expect(() => localSocketPath({ host, from })).toThrow(
        new RegExp(`not on this machine \\(${from.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}\\).*unset DOCKER_HOST`),
      );
    }
    expect(() => localSocketPath({ host: 'npipe:////./pipe/docker_engine', from: 'the default context' })).toThrow(/WSL 2/);
  });
});

describe.each(Object.entries(ENGINE_FACTS))('%s', (_name, facts) => {
  it(`is ${facts.kind}`, () => expect(engineKind(facts.endpoint, facts.report)).toBe(facts.kind));

  it(`binds ${facts.socket} for the proxy`, () => expect(socketBindSource(facts.kind, facts.endpoint, {})).toBe(facts.socket));

  it(`runs the proxy as ${facts.access.user} with group ${facts.access.group}`, () => expect(proxyAccess(facts.stat, facts.socket)).toEqual(facts.access));
});

describe('the socket as the engine sees it', () => {
  it('takes the path of DEVSEC_ENGINE_SOCKET over any guess, and refuses one a volume line cannot carry', () => {
    const desktop = ENGINE_FACTS['macOS, Docker Desktop (documented)'];
    expect(socketBindSource('docker-desktop', desktop.endpoint, { DEVSEC_ENGINE_SOCKET: '/var/run/docker.sock.raw' })).toBe('/var/run/docker.sock.raw');
    for (const bad of ['relative.sock', '/a:b.sock', "/a b'.sock", '/', '/var/run/../../etc/x.sock', '/var/./run.sock', '//x.sock'])
      expect(() => socketBindSource('docker', desktop.endpoint, { DEVSEC_ENGINE_SOCKET: bad })).toThrow(/DEVSEC_ENGINE_SOCKET=.* must be an absolute path/);
    expect(() => socketBindSource('docker', { host: 'unix:///tmp/a:b.sock', from: 'DOCKER_HOST=unix:///tmp/a:b.sock' }, {})).toThrow(/without ':'/);
  });

  it('gives the group when the group may write, else the owner, and refuses a socket nobody may use', () => {
    expect(proxyAccess({ uid: 0, gid: 999, mode: 0o660 }, '/s')).toEqual({ user: 'node', group: 999 });
    expect(proxyAccess({ uid: 0, gid: 0, mode: 0o666 }, '/s')).toEqual({ user: 'node', group: 0 });
    // Group may only read: connecting needs write, so the owner it is.
    expect(proxyAccess({ uid: 1000, gid: 1000, mode: 0o640 }, '/s')).toEqual({ user: '1000:1000', group: 1000 });
    expect(() => proxyAccess({ uid: 0, gid: 0, mode: 0o400 }, '/s')).toThrow(/mode 400 as its containers see it: not even its owner/);
  });

  it('looks from a throwaway container: no network, no capabilities, --mount so a missing path is an error, not a folder', () => {
    const run = stubRunner([[/^docker run/, statLine({ uid: 0, gid: 988, mode: 0o660 })]]);
    expect(statSocketInside('colima', '/var/run/docker.sock', 'node:24-trixie-slim', run)).toEqual({ uid: 0, gid: 988, mode: 0o660 });
    expect(run.calls[0]).toMatch(
      /^docker run --rm --network none --read-only --cap-drop ALL --security-opt no-new-privileges:true --user 65534:65534 --mount type=bind,source=\/var\/run\/docker\.sock,target=\/run\/devsec-engine\.sock,readonly --entrypoint node node:24-trixie-slim -e /,
    );
    expect(run.calls[0]).not.toMatch(/ -v /);
    // A base image that would read as an option of docker run is refused before anything runs.
    const none = stubRunner([]);
    expect(() => statSocketInside('docker', '/var/run/docker.sock', '--privileged', none)).toThrow(/"--privileged" is not an image name/);
    expect(none.calls).toEqual([]);
  });

  it('says what the engine answered when the look fails, and when it finds no socket', () => {
    const missing = stubRunner([
      [/^docker run/, { status: 125, stderr: 'docker: Error response from daemon: bind source path does not exist: /run/podman/podman.sock\n' }],
    ]);
    expect(() => statSocketInside('podman', '/run/podman/podman.sock', 'node:24-trixie-slim', missing)).toThrow(
      /Could not look at \/run\/podman\/podman\.sock from inside the engine \(docker: Error response .*does not exist.*\)\. If Podman .* set DEVSEC_ENGINE_SOCKET/,
    );
    const folder = stubRunner([[/^docker run/, statLine({ uid: 0, gid: 0, mode: 0o755 }, false)]]);
    expect(() => statSocketInside('docker', '/var/run/docker.sock', 'img', folder)).toThrow(/shows its containers no socket at \/var\/run\/docker\.sock/);
    const odd = stubRunner([[/^docker run/, { stdout: '\u001b[31mhello' }]]);
    expect(() => statSocketInside('docker', '/var/run/docker.sock', 'img', odd)).toThrow(/printed \\x1b\[31mhello, not its owner/);
  });
});

describe('discoverEngine', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let socket: string;
  const rootful = ENGINE_FACTS['Linux, rootful Docker (Debian docker.io 20.10)'];
  const engineRunner = (stat = { uid: 0, gid: 0, mode: 0o660 }) =>
    stubRunner([
      [/^docker version/, { stdout: JSON.stringify(rootful.report.version) }],
      [/^docker info/, { stdout: JSON.stringify(rootful.report.info) }],
      [/^docker run/, statLine(stat)],
    ]);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-discover-'));
    socket = join(dir, 'docker.sock');
    writeFileSync(socket, '');
    env = { XDG_STATE_HOME: join(dir, 'state'), HOME: dir, DOCKER_HOST: `unix://${socket}` };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("learns the group from inside, not from this machine's file", () => {
    // Here the file is the group 4242's; the engine's containers see group 0: the proxy gets 0.
    chownSync(socket, process.getuid!(), 4242);
    const run = engineRunner({ uid: 0, gid: 0, mode: 0o660 });
    const profile = discoverEngine('node:24-trixie-slim', run, env);
    expect(profile).toMatchObject({ kind: 'docker', socket, stat: { gid: 0 }, access: { user: 'node', group: 0 }, id: rootful.report.info.ID });
    expect(run.calls.map((call) => call.split(' ').slice(0, 2).join(' '))).toEqual(['docker version', 'docker info', 'docker run']);
  });

  it('asks once per endpoint, until the socket is re-created or a failed start forgets it', () => {
    const first = engineRunner();
    discoverEngine('img', first, env);
    const again = engineRunner();
    expect(discoverEngine('img', again, env).access).toEqual({ user: 'node', group: 0 });
    expect(again.calls).toEqual([]);
    // The engine restarted: its socket is a new file.
    rmSync(socket);
    writeFileSync(socket, '');
    const restarted = engineRunner({ uid: 0, gid: 7, mode: 0o660 });
    expect(discoverEngine('img', restarted, env).access.group).toBe(7);
    expect(restarted.calls).toHaveLength(3);
    forgetEngine(env);
    const forgotten = engineRunner({ uid: 0, gid: 8, mode: 0o660 });
    expect(discoverEngine('img', forgotten, env).access.group).toBe(8);
  });

  it('knows an engine that accepts limits without enforcing them (no cgroup driver)', () => {
    expect(discoverEngine('img', engineRunner(), env).enforcesLimits).toBe(true);
    forgetEngine(env);
    const rootlessV1 = stubRunner([
      [/^docker version/, { stdout: JSON.stringify(rootful.report.version) }],
      [/^docker info/, { stdout: JSON.stringify({ ...rootful.report.info, SecurityOptions: ['name=rootless'], CgroupDriver: 'none' }) }],
      [/^docker run/, statLine({ uid: 0, gid: 105, mode: 0o660 })],
    ]);
    expect(discoverEngine('img', rootlessV1, env)).toMatchObject({ kind: 'docker-rootless', enforcesLimits: false });
    // And remembers it.
    expect(discoverEngine('img', engineRunner(), env).enforcesLimits).toBe(false);
    // Rootless Podman on cgroup v1 names a driver, and drops the limits all the same.
    forgetEngine(env);
    const podmanV1 = stubRunner([
      [/^docker version/, { stdout: JSON.stringify({ Server: { Components: [{ Name: 'Podman Engine' }] } }) }],
      [/^docker info/, { stdout: JSON.stringify({ ID: '', CgroupDriver: 'cgroupfs', CgroupVersion: '1' }) }],
      [/^docker run/, statLine({ uid: 0, gid: 0, mode: 0o600 })],
    ]);
    expect(discoverEngine('img', podmanV1, { ...env, DOCKER_HOST: 'unix:///run/user/1991/podman/podman.sock' })).toMatchObject({
      kind: 'podman-rootless',
      enforcesLimits: false,
    });
  });

  it('learns again rather than trust a cache entry whose socket a volume line could not carry', () => {
    discoverEngine('img', engineRunner(), env);
    const [file] = readdirSync(join(dir, 'state', 'devsec', 'engines'));
    const path = join(dir, 'state', 'devsec', 'engines', file);
    writeFileSync(path, JSON.stringify({ kind: 'docker', id: '', socket: '/', stat: { uid: 0, gid: 0, mode: 0o600 }, enforcesLimits: true }), { mode: 0o600 });
    const again = engineRunner();
    expect(discoverEngine('img', again, env).socket).toBe(socket);
    expect(again.calls).toHaveLength(3);
  });

  it('says the daemon does not answer, and how to start it, as the preflight does', () => {
    const down = stubRunner([
      [/^docker version/, { status: 1, stderr: 'Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?\n' }],
    ]);
    expect(() => discoverEngine('img', down, env)).toThrow(/The Docker daemon does not answer: Cannot connect .*Start it/);
  });

  it('refuses a remote engine before running anything', () => {
    const run = engineRunner();
    expect(() => discoverEngine('img', run, { ...env, DOCKER_HOST: 'ssh://ada@build.example.com' })).toThrow(/not on this machine/);
    expect(run.calls).toEqual([]);
  });

  it('every engine of the table has facts to test it by', () => {
    const kinds = new Set(Object.values(ENGINE_FACTS).map((facts) => facts.kind));
    expect(Object.keys(ENGINES).filter((kind) => !kinds.has(kind as never))).toEqual([]);
  });
});
