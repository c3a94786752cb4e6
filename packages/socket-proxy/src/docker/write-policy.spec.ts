import { readFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ProxyConfig } from './config';
import { createProxyServer } from './server';
import { goFold, parseStrictJson } from './strict-json';
import { checkCreateBody, decideWrite, OWNER_LABEL, PUBLISH_LABEL, registryOf, WRITE_RULES, WritePolicyOptions, WriteRefusal } from './write-policy';

const OWNER = 'stack-a';
const ENV = {
  CONTAINERS: '1',
  SCOPE_LABEL: 'com.docker.compose.project=stack-a,org.devsec.scope=dev',
  WRITE_POLICY: '1',
  WRITE_OWNER: OWNER,
  CHILDREN_NETWORK: 'stack-a_children',
  MAX_CHILDREN: '3',
  LOG_LEVEL: 'silent',
};
const options = (): WritePolicyOptions => loadConfig(ENV).write as WritePolicyOptions;

/** The stand-in engine's objects: the agent's own, the stack's dev container, another stack's. */
const CONTAINERS: Record<string, { Id: string; labels: Record<string, string> }> = {
  mine: { Id: 'id-mine', labels: { [OWNER_LABEL]: OWNER } },
  dev: { Id: 'id-dev', labels: { 'com.docker.compose.project': 'stack-a' } },
  postgres: { Id: 'id-postgres', labels: { 'org.devsec.scope': 'dev' } },
  // Another worktree's child: another owner, outside this scope.
  theirs: { Id: 'id-theirs', labels: { [OWNER_LABEL]: 'stack-b' } },
  // What a create makes (the proxy inspects it before answering).
  new: { Id: 'new', labels: { [OWNER_LABEL]: OWNER } },
};
const NETWORKS: Record<string, Record<string, string>> = {
  'own-net': { [OWNER_LABEL]: OWNER },
  'stack-a_sandbox': {},
  'other-net': { [OWNER_LABEL]: 'stack-b' },
};
const VOLUMES: Record<string, Record<string, string>> = { 'own-vol': { [OWNER_LABEL]: OWNER }, pgdata: { 'org.devsec.scope': 'dev' } };
const EXECS: Record<string, string> = { 'exec-mine': 'id-mine', 'exec-dev': 'id-dev' };

interface Seen {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
}

describe('strict JSON', () => {
  it.each([
    ['{"a":1,"a":2}', /"a" twice/],
    ['{"Image":"x","image":"y"}', /"Image" and "image"/],
    ['{"HostConfig":{"Privileged":false,"PRIVILEGED":true}}', /HostConfig names "Privileged" and "PRIVILEGED"/],
    // Go folds the Kelvin sign to K and a long s to S.
    ['{"\u212Aey":1,"key":2}', /which the engine reads as one name/],
    ['{"\u017Fysctls":1,"Sysctls":2}', /which the engine reads as one name/],
    ['{"a":1,}', /not strict JSON/],
    ['{/* c */"a":1}', /not strict JSON \(a comment/],
    ['{"a":1} {"a":2}', /not strict JSON/],
    ['{"a":NaN}', /not strict JSON/],
    ['{"a":1e400}', /out of range/],
    ['', /not strict JSON/],
  ])('%s is refused', (text, message) => expect(() => parseStrictJson(text)).toThrow(message));

  it('keeps __proto__ as a plain name', () => {
    const value = parseStrictJson('{"__proto__":{"Privileged":true}}') as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['__proto__']);
  });

  it('folds as Go does', () => {
    expect(goFold('privileged')).toBe(goFold('PRIVILEGED'));
    expect(goFold('\u017Fysctls')).toBe(goFold('Sysctls'));
    expect(goFold('stra\u00DFe')).not.toBe(goFold('STRASSE'));
  });

  it('carries the vendored jsonc-parser files unmodified', () => {
    for (const file of ['parser.js', 'scanner.js']) {
      const installed = readFileSync(join(require.resolve('jsonc-parser/package.json'), '..', 'lib/umd/impl', file));
      expect(readFileSync(join(__dirname, '../vendor/jsonc-parser', file)).equals(installed)).toBe(true);
    }
  });
});

describe('checkCreateBody: what is forced', () => {
  it('stamps the owner, forces no-new-privileges, limits, the children network, no host ports', () => {
    const { body } = checkCreateBody(
      parseStrictJson(
        '{"image":"postgres:17","hostconfig":{"PortBindings":{"5432/tcp":[{"HostPort":"5432","HostIp":"0.0.0.0"}]},"PublishAllPorts":true},"ExposedPorts":{"5432/tcp":{}}}',
      ),
      options(),
    );
    expect(body).toEqual({
      Image: 'postgres:17',
      ExposedPorts: { '5432/tcp': {} },
      // What was asked to publish is the proxy's to serve (ports.ts), never the engine's to bind.
      Labels: { [OWNER_LABEL]: OWNER, [PUBLISH_LABEL]: 'all' },
      HostConfig: {
        SecurityOpt: ['no-new-privileges'],
        Privileged: false,
        Memory: 1024 ** 3,
        MemorySwap: 1024 ** 3,
        NanoCpus: 1e9,
        PidsLimit: 512,
        CapDrop: ['NET_RAW'],
        NetworkMode: 'stack-a_children',
        PortBindings: {},
        PublishAllPorts: false,
      },
    });
  });

  it('remembers the ports a create asked to publish in a label the agent cannot set itself', () => {
    const asked = (text: string) => checkCreateBody(parseStrictJson(text), options()).body.Labels;
    expect(asked('{"Image":"p","HostConfig":{"PortBindings":{"5432/tcp":[{"HostPort":""}],"80":null}}}')).toEqual({
      [OWNER_LABEL]: OWNER,
      [PUBLISH_LABEL]: '5432/tcp,80/tcp',
    });
    expect(asked('{"Image":"p"}')).toEqual({ [OWNER_LABEL]: OWNER });
    expect(() => asked('{"Image":"p","HostConfig":{"PortBindings":{"5432/tcp; rm":[]}}}')).toThrow(/not a port key/);
    expect(() => asked(`{"Image":"p","Labels":{"${PUBLISH_LABEL}":"all"}}`)).toThrow(WriteRefusal);
  });

  it('keeps what a child asks below the limits, and forces the stack runtime', () => {
    const { body } = checkCreateBody(
      { Image: 'x', HostConfig: { Memory: 64 * 1024 * 1024, PidsLimit: 10, NanoCpus: 5e8 } },
      { ...options(), runtime: 'runsc' },
    );
    expect(body.HostConfig).toMatchObject({ Memory: 64 * 1024 * 1024, MemorySwap: 64 * 1024 * 1024, PidsLimit: 10, NanoCpus: 5e8, Runtime: 'runsc' });
  });

  it("reads the docker CLI's `default` endpoint as the children network", () => {
    const { body } = checkCreateBody({ Image: 'x', HostConfig: { NetworkMode: 'default' }, NetworkingConfig: { EndpointsConfig: { default: {} } } }, options());
    expect(body.NetworkingConfig).toEqual({ EndpointsConfig: { 'stack-a_children': {} } });
    expect((body.HostConfig as Record<string, unknown>).NetworkMode).toBe('stack-a_children');
  });

  it('names the networks and volumes the server must find the agent own', () => {
    const { refs } = checkCreateBody(
      {
        Image: 'x',
        HostConfig: { NetworkMode: 'own-net', Binds: ['own-vol:/data:ro'], Mounts: [{ Type: 'volume', Source: 'v2', Target: '/v' }] },
        NetworkingConfig: { EndpointsConfig: { 'own-net': { Aliases: ['db'] }, 'stack-a_children': {} } },
      },
      options(),
    );
    expect([...refs.networks]).toEqual(['own-net']);
    expect([...refs.volumes].sort()).toEqual(['own-vol', 'v2']);
  });
});

describe('decideWrite', () => {
  it('reads each row once with and without the version prefix', () => {
    for (const row of WRITE_RULES) {
      const path = row.path.map((part) => (typeof part === 'string' ? part : 'ref')).join('/') + (row.rule === 'image-pull' ? '?fromImage=postgres' : '');
      const headers = row.rule === 'container-attach' ? { connection: 'Upgrade', upgrade: 'tcp' } : {};
      for (const target of [`/${path}`, `/v1.41/${path}`]) {
        expect(decideWrite({ method: row.method, target, headers })).toMatchObject({ allowed: true, rule: row.rule });
      }
    }
  });

  it.each([
    ['POST', '/build', /docker build.*is refused.*Build the image on the host/],
    ['POST', '/v1.41/build?t=x', /docker build/],
    ['POST', '/commit?container=mine', /docker commit/],
    ['POST', '/containers/mine/attach?stream=1', /as the docker CLI asks for it \(Connection: Upgrade, Upgrade: tcp\) only/],
    ['POST', '/containers/mine/attach?stream=1&hijack=1', /query parameter "hijack"/],
    ['POST', '/containers/mine/update', /not served/],
    ['POST', '/swarm/init', /is refused; the write policy serves/],
    ['POST', '/containers/prune', /is refused/],
    ['POST', '/images/create?fromSrc=http://x/y.tar', /fromSrc/],
    ['POST', '/images/create?fromImage=alpine&repo=x', /query parameter "repo"/],
    ['POST', '/containers/create?name=x&name=y', /query parameter "name" is repeated/],
    ['DELETE', '/images/alpine', /is refused/],
    ['PUT', '/containers/mine/archive/x', /is refused/],
  ])('%s %s is refused', (method, target, message) => {
    const decision = decideWrite({ method, target, headers: {} });
    expect(decision).toMatchObject({ allowed: false });
    expect(decision && !decision.allowed && decision.message).toMatch(message);
  });

  it("drops the create query's other parameters (dockerode repeats the body there), forwarding only name and platform", () => {
    const hostile = encodeURIComponent(JSON.stringify({ Privileged: true, Binds: ['/:/host'] }));
    for (const target of [
      `/v1.41/containers/create?name=x&Image=postgres&Env=A%3D1&Env=B%3D2&HostConfig=${hostile}&platform=linux`,
      `/containers/create?hostconfig=${hostile}&na%6De=y&name=x&platform=linux`,
    ]) {
      const decision = decideWrite({ method: 'POST', target, headers: {} });
      expect(decision).toMatchObject({ allowed: true, rule: 'container-create' });
      expect(decision && decision.allowed && { ...decision.params }).toEqual({ name: 'x', platform: 'linux' });
    }
  });

  it('leaves reads to the read policy', () => {
    expect(decideWrite({ method: 'GET', target: '/containers/json', headers: {} })).toBeUndefined();
    expect(decideWrite({ method: 'GET', target: '/containers/mine/logs', headers: {} })).toBeUndefined();
  });

  it.each([
    ['docker.io', 'postgres'],
    ['docker.io', 'library/postgres'],
    ['docker.io', 'index.docker.io/library/postgres'],
    ['ghcr.io', 'ghcr.io/x/y'],
    ['localhost:5000', 'localhost:5000/x'],
    ['localhost', 'localhost/x'],
  ])('the registry is %s for %s', (registry, image) => expect(registryOf(image)).toBe(registry));
});

/** A stand-in engine that records every request, and a proxy with the write policy in front of it. */
describe('the write policy through the proxy', () => {
  let engine: Server;
  let proxy: Server;
  let dir: string;
  let proxySocket: string;
  const seen: Seen[] = [];
  let ownCount = 0;
  const writes = () => seen.filter((request) => !['GET', 'HEAD'].includes(request.method) || /\/(archive|top)|\/exec\/[^/]+\/json/.test(request.url));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-write-'));
    const engineSocket = join(dir, 'engine.sock');
    proxySocket = join(dir, 'proxy.sock');
    engine = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString(), headers: req.headers });
        const json = (status: number, value: unknown) => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        const path = (req.url ?? '').replace(/^\/v1\.41/, '').split('?')[0];
        let match: RegExpExecArray | null;
        if (req.method === 'GET' && path === '/containers/json')
          return json(
            200,
            Array.from({ length: ownCount }, (_, i) => ({ Id: `c${i}`, Created: i })),
          );
        // The agent's networks and volumes, counted before a create (none here).
        if (req.method === 'GET' && path === '/networks') return json(200, []);
        if (req.method === 'GET' && path === '/volumes') return json(200, { Volumes: [], Warnings: null });
        if (req.method === 'GET' && (match = /^\/containers\/([^/]+)\/json$/.exec(path))) {
          const known = CONTAINERS[match[1]] ?? Object.values(CONTAINERS).find((container) => container.Id === match?.[1]);
          return known ? json(200, { Id: known.Id, Config: { Labels: known.labels } }) : json(404, { message: `No such container: ${match[1]}` });
        }
        if (req.method === 'GET' && (match = /^\/exec\/([^/]+)\/json$/.exec(path))) {
          return EXECS[match[1]] ? json(200, { ID: match[1], ContainerID: EXECS[match[1]] }) : json(404, { message: 'No such exec instance' });
        }
        if (req.method === 'GET' && (match = /^\/networks\/([^/]+)$/.exec(path))) {
          return NETWORKS[match[1]]
            ? json(200, { Id: `net-${match[1]}`, Name: match[1], Labels: NETWORKS[match[1]] })
            : json(404, { message: 'network not found' });
        }
        if (req.method === 'GET' && (match = /^\/volumes\/([^/]+)$/.exec(path))) {
          return VOLUMES[match[1]] ? json(200, { Name: match[1], Labels: VOLUMES[match[1]] }) : json(404, { message: 'no such volume' });
        }
        if (path === '/containers/create') return json(201, { Id: 'new', Warnings: [] });
        return json(200, { ok: true });
      });
    });
    await new Promise<void>((resolve) => engine.listen(engineSocket, resolve));
    const config: ProxyConfig = { ...loadConfig({ ...ENV, SOCKET_PATH: engineSocket }), listen: { kind: 'unix', path: proxySocket } };
    proxy = createProxyServer(config, { access: () => undefined, error: () => undefined });
    await new Promise<void>((resolve) => proxy.listen(proxySocket, resolve));
  });
  afterAll(async () => {
    proxy.closeAllConnections();
    engine.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await new Promise((resolve) => engine.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    ownCount = 0;
  });

  /** One raw HTTP/1.1 exchange: what is sent is exactly `head` and `body` (chunked bodies, odd headers). */
  const raw = (request: string) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const socket = connect(proxySocket);
      const chunks: Buffer[] = [];
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', reject);
      socket.on('close', () => {
        const text = Buffer.concat(chunks).toString();
        const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
        resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
      });
      socket.write(request);
    });
  const send = (method: string, target: string, body?: string, headers: Record<string, string> = {}) => {
    const all: Record<string, string> = { Host: 'docker', Connection: 'close', ...headers };
    if (body !== undefined && !('Transfer-Encoding' in headers)) all['Content-Length'] = String(Buffer.byteLength(body));
    if (body !== undefined && !('Content-Type' in headers)) all['Content-Type'] = 'application/json';
    const head = Object.entries(all)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('');
    return raw(`${method} ${target} HTTP/1.1\r\n${head}\r\n${body ?? ''}`);
  };
  const create = (body: unknown, prefix = '') => send('POST', `${prefix}/containers/create`, typeof body === 'string' ? body : JSON.stringify(body));

  const host = (hostConfig: Record<string, unknown>) => ({ Image: 'postgres:17', HostConfig: hostConfig });
  /** Every refused item of the policy, and the tricks around them: [what, body, the field the answer names]. */
  const HOSTILE: Array<[string, unknown, RegExp]> = [
    ['privileged', host({ Privileged: true }), /HostConfig\.Privileged is refused/],
    ['privileged as a number', host({ Privileged: 1 }), /HostConfig\.Privileged must be true or false/],
    ['privileged as a string', host({ Privileged: 'true' }), /HostConfig\.Privileged must be true or false/],
    ['privileged in lower case', '{"Image":"x","HostConfig":{"privileged":true}}', /HostConfig\.Privileged is refused/],
    ['privileged in upper case', '{"Image":"x","hostconfig":{"PRIVILEGED":true}}', /HostConfig\.Privileged is refused/],
    ['privileged twice, false then true', '{"Image":"x","HostConfig":{"Privileged":false,"Privileged":true}}', /"Privileged" twice/],
    ['privileged twice under two cases', '{"Image":"x","HostConfig":{"Privileged":false,"privileged":true}}', /"Privileged" and "privileged"/],
    ['HostConfig twice under two cases', '{"Image":"x","HostConfig":{},"hostConfig":{"Privileged":true}}', /"HostConfig" and "hostConfig"/],
    ['Sysctls with a long s', '{"Image":"x","HostConfig":{"\u017Fysctls":{"kernel.shm_rmid_forced":"1"}}}', /HostConfig\.Sysctls is refused/],
    ['__proto__ smuggling', '{"Image":"x","HostConfig":{"__proto__":{"Privileged":true}}}', /HostConfig\.__proto__ is not a field/],
    ['bind of /', host({ Binds: ['/:/host'] }), /a bind of a host path/],
    ['bind of the docker socket', host({ Binds: ['/var/run/docker.sock:/var/run/docker.sock'] }), /a bind of a host path/],
    ['bind with a relative path', host({ Binds: ['./x:/x'] }), /a bind of a host path/],
    ['bind mount', host({ Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }), /HostConfig\.Mounts\[0\]\.Type "bind" is refused/],
    ['bind mount in upper case', host({ Mounts: [{ Type: 'BIND', Source: '/', Target: '/host' }] }), /Type "BIND" is refused/],
    [
      'volume with driver options (a bind in disguise)',
      host({
        Mounts: [{ Type: 'volume', Target: '/h', VolumeOptions: { DriverConfig: { Name: 'local', Options: { type: 'none', o: 'bind', device: '/' } } } }],
      }),
      /VolumeOptions\.DriverConfig is refused/,
    ],
    ['a shared service volume', host({ Mounts: [{ Type: 'volume', Source: 'pgdata', Target: '/d' }] }), /pgdata is not a volume this sandbox created/],
    ['a shared service volume as a bind', host({ Binds: ['pgdata:/d'] }), /pgdata is not a volume this sandbox created/],
    ['host network', host({ NetworkMode: 'host' }), /NetworkMode "host" is refused/],
    ['default bridge', host({ NetworkMode: 'bridge' }), /NetworkMode "bridge" is refused/],
    ["a sibling's network namespace", host({ NetworkMode: 'container:dev' }), /NetworkMode "container:dev" is refused/],
    ["the stack's sandbox network", host({ NetworkMode: 'stack-a_sandbox' }), /stack-a_sandbox is not a network this sandbox created/],
    ['host network by endpoint', { Image: 'x', NetworkingConfig: { EndpointsConfig: { host: {} } } }, /EndpointsConfig\.host "host" is refused/],
    [
      "another stack's network by endpoint",
      { Image: 'x', NetworkingConfig: { EndpointsConfig: { 'other-net': {} } } },
      /other-net is not a network this sandbox created/,
    ],
    ['host pid namespace', host({ PidMode: 'host' }), /HostConfig\.PidMode is refused/],
    ["a sibling's pid namespace", host({ PidMode: 'container:dev' }), /HostConfig\.PidMode is refused/],
    ['host ipc namespace', host({ IpcMode: 'host' }), /HostConfig\.IpcMode "host" is refused/],
    ['host uts namespace', host({ UTSMode: 'host' }), /HostConfig\.UTSMode is refused/],
    ['host user namespace', host({ UsernsMode: 'host' }), /HostConfig\.UsernsMode is refused/],
    ['host cgroup namespace', host({ CgroupnsMode: 'host' }), /HostConfig\.CgroupnsMode "host" is refused/],
    ['devices', host({ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }), /HostConfig\.Devices is refused/],
    ['device cgroup rules', host({ DeviceCgroupRules: ['a *:* rwm'] }), /HostConfig\.DeviceCgroupRules is refused/],
    ['GPUs', host({ DeviceRequests: [{ Count: -1, Capabilities: [['gpu']] }] }), /HostConfig\.DeviceRequests is refused/],
    ['added capabilities', host({ CapAdd: ['SYS_ADMIN'] }), /HostConfig\.CapAdd is refused/],
    ['seccomp unconfined', host({ SecurityOpt: ['seccomp=unconfined'] }), /"seccomp=unconfined" is refused/],
    ['apparmor unconfined', host({ SecurityOpt: ['apparmor=unconfined'] }), /"apparmor=unconfined" is refused/],
    ['systempaths unconfined', host({ SecurityOpt: ['systempaths=unconfined'] }), /"systempaths=unconfined" is refused/],
    ['masked paths cleared', host({ MaskedPaths: [] }), /HostConfig\.MaskedPaths is refused/],
    ['read-only paths cleared', host({ ReadonlyPaths: [] }), /HostConfig\.ReadonlyPaths is refused/],
    ['sysctls', host({ Sysctls: { 'net.ipv4.ip_forward': '1' } }), /HostConfig\.Sysctls is refused/],
    ['cgroup parent', host({ CgroupParent: '/' }), /HostConfig\.CgroupParent is refused/],
    ['volumes from a sibling', host({ VolumesFrom: ['dev'] }), /HostConfig\.VolumesFrom is refused/],
    ['links', host({ Links: ['dev:dev'] }), /HostConfig\.Links is refused/],
    ['a log driver', host({ LogConfig: { Type: 'syslog', Config: { 'syslog-address': 'udp://1.2.3.4:514' } } }), /LogConfig\.Type "syslog" is refused/],
    ['a runtime override', host({ Runtime: 'runc' }), /HostConfig\.Runtime "runc" is refused/],
    ['OOM score below 0', host({ OomScoreAdj: -1000 }), /HostConfig\.OomScoreAdj must be from 0/],
    ['OOM killer off', host({ OomKillDisable: true }), /HostConfig\.OomKillDisable is refused/],
    ['the owner label, set by the agent', { Image: 'x', Labels: { [OWNER_LABEL]: 'stack-b' } }, /Labels\.org\.devsec\.owner is refused/],
    ['an org.devsec label in another case', { Image: 'x', Labels: { 'ORG.DEVSEC.scope': 'dev' } }, /Labels\.ORG\.DEVSEC\.scope is refused/],
    [
      "the stack's compose project label",
      { Image: 'x', Labels: { 'com.docker.compose.project': 'stack-a' } },
      /Labels\.com\.docker\.compose\.project is refused/,
    ],
    ['a field not on the list', { Image: 'x', Foo: 1 }, /Foo is not a field this sandbox allows/],
    ['memory over the limit', host({ Memory: 2 * 1024 ** 3 }), /HostConfig\.Memory .* over this sandbox's limit/],
    ['unlimited swap', host({ MemorySwap: -1 }), /HostConfig\.MemorySwap must equal/],
    ['pids over the limit', host({ PidsLimit: 100000 }), /HostConfig\.PidsLimit .* over/],
    ['CPUs over the limit', host({ NanoCpus: 4e9 }), /HostConfig\.NanoCpus .* over/],
    ['a CPU quota', host({ CpuQuota: 1000000 }), /HostConfig\.CpuQuota is refused/],
    ['ulimits', host({ Ulimits: [{ Name: 'nofile', Soft: 1048576, Hard: 1048576 }] }), /HostConfig\.Ulimits is refused/],
    ['host-gateway', host({ ExtraHosts: ['h:host-gateway'] }), /host-gateway names an address of the host/],
    ['a volume driver', host({ VolumeDriver: 'nfs' }), /HostConfig\.VolumeDriver is refused/],
    ['restart always', host({ RestartPolicy: { Name: 'always' } }), /RestartPolicy\.Name "always" is refused/],
    ['a list for a body', [], /must be a JSON object/],
    ['not JSON', '{"Image":"x",}', /not strict JSON/],
    ['a comment', '{"Image":"x"/*,"HostConfig":{"Privileged":true}*/}', /not strict JSON \(a comment/],
    ['a second value', '{"Image":"x"}{"HostConfig":{"Privileged":true}}', /not strict JSON/],
    ['no image', { HostConfig: {} }, /Image must name an image/],
  ];

  it('has at least 40 hostile create bodies', () => expect(HOSTILE.length).toBeGreaterThanOrEqual(40));

  describe.each(['', '/v1.41'])('POST %s/containers/create', (prefix) => {
    it.each(HOSTILE)('refuses %s: 403 naming the field, nothing forwarded', async (_what, body, message) => {
      const answer = await create(body, prefix);
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body).message).toMatch(message);
      expect(writes()).toEqual([]);
    });
  });

  it.each([
    [
      'over the size limit',
      () => send('POST', '/containers/create', JSON.stringify({ Image: 'x', Env: ['A='.padEnd(1024 * 1024 + 10, 'a')] })),
      /over 1048576 bytes/,
    ],
    ['text/plain', () => send('POST', '/containers/create', '{"Image":"x"}', { 'Content-Type': 'text/plain' }), /Content-Type "text\/plain" is not JSON/],
    [
      'JSON with a parameter trick',
      () => send('POST', '/containers/create', '{"Image":"x"}', { 'Content-Type': 'application/json; boundary=x' }),
      /is not JSON/,
    ],
    ['gzip', () => send('POST', '/containers/create', '{"Image":"x"}', { 'Content-Encoding': 'gzip' }), /Content-Encoding "gzip"/],
  ])('refuses a body %s, forwarding nothing', async (_what, sendIt, message) => {
    const answer = await sendIt();
    expect([400, 403]).toContain(answer.status);
    expect(JSON.parse(answer.body).message).toMatch(message);
    expect(writes()).toEqual([]);
  });

  it('reads a chunked body whole: privileged split across chunks is refused, nothing forwarded', async () => {
    const body = '{"Image":"x","HostConfig":{"Privi';
    const rest = 'leged":true}}';
    const chunked = `${body.length.toString(16)}\r\n${body}\r\n${rest.length.toString(16)}\r\n${rest}\r\n0\r\n\r\n`;
    const answer = await send('POST', '/containers/create', chunked, { 'Transfer-Encoding': 'chunked' });
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).message).toMatch(/HostConfig\.Privileged is refused/);
    expect(writes()).toEqual([]);
  });

  it('forwards an allowed create rebuilt: canonical names, owner label, forced limits, no host ports', async () => {
    const answer = await create(
      '{"image":"postgres:17","Env":["POSTGRES_PASSWORD=x"],"Labels":{"org.testcontainers":"true"},"ExposedPorts":{"5432/tcp":{}},"hostconfig":{"PortBindings":{"5432/tcp":[{"HostPort":""}]},"privileged":false}}',
      '/v1.41',
    );
    expect(answer.status).toBe(201);
    const forwarded = writes();
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0]).toMatchObject({ method: 'POST', url: '/v1.41/containers/create' });
    expect(JSON.parse(forwarded[0].body)).toMatchObject({
      Image: 'postgres:17',
      Labels: { 'org.testcontainers': 'true', [OWNER_LABEL]: OWNER },
      HostConfig: { Privileged: false, SecurityOpt: ['no-new-privileges'], PortBindings: {}, PublishAllPorts: false, NetworkMode: 'stack-a_children' },
    });
    expect(forwarded[0].body).not.toMatch(/hostconfig|"image"/);
  });

  it('forwards a create that mounts its own volume on its own network', async () => {
    const answer = await create({ Image: 'x', HostConfig: { NetworkMode: 'own-net', Binds: ['own-vol:/data'] } });
    expect(answer.status).toBe(201);
    expect(writes()).toHaveLength(1);
  });

  it('answers 429 naming the limit at MAX_CHILDREN, forwarding nothing', async () => {
    ownCount = 3;
    const answer = await create({ Image: 'x' });
    expect(answer.status).toBe(429);
    expect(JSON.parse(answer.body).message).toMatch(/MAX_CHILDREN=3/);
    expect(writes()).toEqual([]);
  });

  /** Calls on a container: each passes on the agent's own (on its full id) and is refused on a sibling. */
  const CONTAINER_CALLS: Array<[string, string, string | undefined]> = [
    ['POST', 'start', undefined],
    ['POST', 'stop?t=1', undefined],
    ['POST', 'restart', undefined],
    ['POST', 'kill?signal=KILL', undefined],
    ['POST', 'wait?condition=not-running', undefined],
    ['POST', 'pause', undefined],
    ['POST', 'unpause', undefined],
    ['POST', 'rename?name=renamed', undefined],
    ['POST', 'resize?h=10&w=10', undefined],
    ['DELETE', '?force=1&v=1', undefined],
    ['GET', 'top', undefined],
    ['GET', 'archive?path=/etc', undefined],
    ['HEAD', 'archive?path=/etc', undefined],
    ['PUT', 'archive?path=/tmp', 'tar bytes'],
    ['POST', 'exec', '{"Cmd":["true"],"AttachStdout":true}'],
  ];
  const callPath = (ref: string, tail: string) => (tail.startsWith('?') ? `/containers/${ref}${tail}` : `/containers/${ref}/${tail}`);

  it.each(CONTAINER_CALLS)('%s /containers/mine/%s passes, on the full id', async (method, tail, body) => {
    const answer = await send(method, callPath('mine', tail), body, body === 'tar bytes' ? { 'Content-Type': 'application/x-tar' } : {});
    expect(answer.status).toBe(200);
    const forwarded = writes().filter((request) => request.url.includes('id-mine'));
    expect(forwarded).toHaveLength(1);
    expect(forwarded[0].method).toBe(method);
  });

  it.each(
    CONTAINER_CALLS.flatMap((call) => [
      ['dev', ...call],
      ['postgres', ...call],
    ]),
  )('%s: %s /containers/…/%s is refused (a sibling stays read-only)', async (ref, method, tail, body) => {
    const answer = await send(method, callPath(ref as string, tail as string), body, body === 'tar bytes' ? { 'Content-Type': 'application/x-tar' } : {});
    expect(answer.status).toBe(403);
    if (method !== 'HEAD') expect(JSON.parse(answer.body).message).toMatch(/is not a container this sandbox created/);
    expect(writes().filter((request) => request.method !== 'GET')).toEqual([]);
  });

  it("reads another stack's child as missing", async () => {
    const answer = await send('POST', '/containers/theirs/stop');
    expect(answer.status).toBe(404);
    expect(writes()).toEqual([]);
  });

  it('refuses a privileged exec, and an exec started on a sibling', async () => {
    expect((await send('POST', '/containers/mine/exec', '{"Cmd":["id"],"Privileged":true}')).status).toBe(403);
    expect((await send('POST', '/containers/mine/exec', '{"Cmd":["id"],"privileged":1}')).status).toBe(403);
    expect((await send('POST', '/exec/exec-dev/start', '{"Detach":true}')).status).toBe(403);
    expect(writes().filter((request) => request.method !== 'GET')).toEqual([]);
    expect((await send('POST', '/exec/exec-mine/start', '{"Detach":true}')).status).toBe(200);
    expect((await send('GET', '/exec/exec-mine/json')).status).toBe(200);
  });

  it("takes dockerode's exec start (its own stdin and hijack flags in the body) and forwards only the engine's fields", async () => {
    expect((await send('POST', '/exec/exec-mine/start', '{"stdin":"yes","Detach":true}')).status).toBe(403);
    expect(writes().filter((request) => request.method !== 'GET')).toEqual([]);
    expect((await send('POST', '/exec/exec-mine/start', '{"stdin":true,"hijack":false,"Detach":true,"Tty":false}')).status).toBe(200);
    expect(JSON.parse(writes().filter((request) => request.method === 'POST')[0].body)).toEqual({ Detach: true, Tty: false });
  });

  it('creates networks internal, with no gateway on the host, labelled as its own', async () => {
    expect((await send('POST', '/networks/create', '{"Name":"tc-net","Driver":"bridge","Internal":false,"CheckDuplicate":true}')).status).toBe(200);
    expect(JSON.parse(writes()[0].body)).toEqual({
      Name: 'tc-net',
      CheckDuplicate: true,
      Driver: 'bridge',
      Internal: true,
      Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' },
      Labels: { [OWNER_LABEL]: OWNER },
    });
  });

  it.each([
    ['POST', '/networks/create', '{"Name":"n","Driver":"macvlan"}', 403, /Driver "macvlan" is refused/],
    ['POST', '/networks/create', '{"Name":"n","Options":{"com.docker.network.bridge.host_binding_ipv4":"0.0.0.0"}}', 403, /Options is refused/],
    ['POST', '/networks/create', '{"Name":"n","IPAM":{"Config":[{"Subnet":"192.168.1.0/24"}]}}', 403, /IPAM\.Config is refused/],
    ['DELETE', '/networks/stack-a_sandbox', undefined, 403, /not a network this sandbox created/],
    ['POST', '/networks/other-net/connect', '{"Container":"mine"}', 403, /not a network this sandbox created/],
    ['POST', '/networks/own-net/connect', '{"Container":"dev"}', 403, /not a container this sandbox created/],
    ['POST', '/networks/own-net/disconnect', '{"Container":"postgres"}', 403, /not a container this sandbox created/],
    ['POST', '/volumes/create', '{"Name":"v","DriverOpts":{"type":"none","o":"bind","device":"/"}}', 403, /DriverOpts is refused/],
    ['POST', '/volumes/create', '{"Name":"v","Driver":"nfs"}', 403, /Driver "nfs" is refused/],
    ['DELETE', '/volumes/pgdata', undefined, 403, /not a volume this sandbox created/],
    ['POST', '/images/create?fromImage=ghcr.io/x/y&tag=1', undefined, 403, /pulls from ghcr\.io are refused/],
    ['POST', '/images/create?fromImage=evil.example/secret-data', undefined, 403, /pulls from evil\.example are refused/],
    ['POST', '/containers/mine/start', '{"x":1}', 403, /takes no request body/],
    ['POST', '/containers/mine/stop', '{"t":0,"x":1}', 403, /takes no request body/],
    ['POST', '/containers/mine/stop', '{"t":{"a":1}}', 403, /takes no request body/],
    ['POST', '/containers/mine/stop', '{"t":0,"t":1}', 403, /takes no request body/],
  ])('%s %s is refused', async (method, target, body, status, message) => {
    const answer = await send(method, target, body);
    expect(answer.status).toBe(status);
    expect(JSON.parse(answer.body).message).toMatch(message);
    expect(writes().filter((request) => request.method !== 'GET')).toEqual([]);
  });

  it.each([
    ['DELETE', '/networks/own-net', undefined],
    ['POST', '/networks/own-net/connect', '{"Container":"mine","EndpointConfig":{"Aliases":["db"]}}'],
    ['POST', '/volumes/create', '{"Name":"v"}'],
    ['DELETE', '/volumes/own-vol', undefined],
    // dockerode repeats its query options as a body: read and dropped.
    ['POST', '/containers/mine/stop?t=0', '{"t":0}'],
    ['POST', '/images/create?fromImage=postgres&tag=17', undefined],
    ['POST', '/images/create?fromImage=docker.io/library/postgres&tag=17', undefined],
  ])('%s %s passes', async (method, target, body) => {
    expect((await send(method, target, body)).status).toBe(200);
    expect(writes().filter((request) => request.method !== 'GET')).toHaveLength(1);
    if (target.includes('/stop'))
      expect(writes().filter((request) => request.method !== 'GET')[0]).toMatchObject({ url: '/containers/id-mine/stop?t=0', body: '' });
  });

  it('connects by the container id it checked', async () => {
    await send('POST', '/networks/own-net/connect', '{"Container":"mine"}');
    const forwarded = writes().find((request) => request.method === 'POST');
    expect(forwarded?.url).toBe('/networks/net-own-net/connect');
    expect(JSON.parse(forwarded?.body ?? '{}')).toEqual({ Container: 'id-mine' });
  });

  it('still refuses every write when the policy is off', () => {
    const readOnly = loadConfig({ CONTAINERS: '1' });
    expect(readOnly.write).toBeUndefined();
  });

  it('keeps a refusal a WriteRefusal', () => expect(new WriteRefusal('r', 'why')).toBeInstanceOf(Error));
});
