/**
 * From the attacker's side: a corpus of dangerous raw requests against the proxy on a real
 * engine, next to a canary container that holds a secret in its env and in a file.
 */
import { randomBytes } from 'node:crypto';
import { describeWithDocker, docker, dockerOk, requireImage, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { RunningProxy, stackProxyEnv, startProxy } from './proxy-process';
import { rawExchange, statusCodes } from './raw-http';

jest.setTimeout(180_000);

const run = randomBytes(4).toString('hex');
const canary = `devsec-corpus-canary-${run}`;
const envSecret = `env-secret-${run}`;
const fileSecret = `file-secret-${run}`;
const scopeLabel = `org.devsec.scope=corpus-${run}`;

interface Attack {
  name: string;
  /** Raw bytes after the request line's method and target are filled in. */
  raw: (prefix: string, id: string) => string;
  /** How many 2xx answers the exchange may hold (legitimate requests in front of the attack). */
  legitimate?: number;
}

const request = (method: string, target: string, headers: string[] = [], body = '') =>
  `${method} ${target} HTTP/1.1\r\nHost: docker\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n${body}`;

function corpus(): Attack[] {
  const attacks: Attack[] = [];
  const get = (name: string, path: (id: string) => string, method = 'GET', headers: string[] = [], body = '') =>
    attacks.push({ name, raw: (prefix, id) => request(method, `${prefix}${path(id)}`, headers, body) });

  // Reads that leak file contents, filesystems, stdin, images, processes.
  for (const path of ['/secret.txt', '/', '/etc/shadow', '/proc/1/environ']) {
    const q = `path=${encodeURIComponent(path)}`;
    get(`archive GET ${path}`, (id) => `/containers/${id}/archive?${q}`);
    get(`archive HEAD ${path}`, (id) => `/containers/${id}/archive?${q}`, 'HEAD');
  }
  get('export', (id) => `/containers/${id}/export`);
  get('attach/ws', (id) => `/containers/${id}/attach/ws?stream=1&stdin=1&stdout=1`, 'GET', [
    'Upgrade: websocket',
    'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
    'Sec-WebSocket-Version: 13',
  ]);
  get('attach/ws without upgrade headers', (id) => `/containers/${id}/attach/ws?stream=1`);
  get('attach (hijack)', (id) => `/containers/${id}/attach?stream=1&stdin=1&stdout=1`, 'POST', ['Upgrade: tcp', 'Connection: Upgrade']);
  get('image save by name', () => `/images/${ROOTFS_IMAGE}/get`);
  get('image save by query', () => `/images/get?names=${encodeURIComponent(ROOTFS_IMAGE)}`);
  for (const endpoint of ['top', 'changes', 'stats?stream=0', 'resize?h=1&w=1']) get(`container ${endpoint}`, (id) => `/containers/${id}/${endpoint}`);
  get('system df', () => '/system/df');
  get('exec inspect', () => '/exec/abc/json');
  get('secrets', () => '/secrets');
  get('plugins', () => '/plugins');
  get('swarm', () => '/swarm');
  get('distribution', () => `/distribution/${ROOTFS_IMAGE}/json`);

  // Writes.
  const createBody = JSON.stringify({
    Image: ROOTFS_IMAGE,
    Cmd: ['cat', '/host/etc/shadow'],
    HostConfig: { Privileged: true, PidMode: 'host', Binds: ['/:/host'] },
  });
  get(
    'create privileged',
    () => '/containers/create?name=devsec-escape',
    'POST',
    ['Content-Type: application/json', `Content-Length: ${createBody.length}`],
    createBody,
  );
  const execBody = JSON.stringify({ Cmd: ['cat', '/secret.txt'], AttachStdout: true });
  get('exec create', (id) => `/containers/${id}/exec`, 'POST', ['Content-Type: application/json', `Content-Length: ${execBody.length}`], execBody);
  get('exec start', () => '/exec/abc/start', 'POST', ['Content-Type: application/json', 'Content-Length: 2'], '{}');
  get('archive PUT', (id) => `/containers/${id}/archive?path=/`, 'PUT', ['Content-Length: 0']);
  for (const action of ['stop', 'kill', 'restart', 'pause', 'start', 'wait', 'update', 'rename?name=x']) {
    get(`container ${action}`, (id) => `/containers/${id}/${action}`, 'POST', ['Content-Length: 0']);
  }
  get('container delete', (id) => `/containers/${id}?force=1`, 'DELETE');
  get('image delete', () => `/images/${ROOTFS_IMAGE}?force=1`, 'DELETE');
  get('build', () => '/build?t=devsec-evil', 'POST', ['Content-Type: application/x-tar', 'Content-Length: 0']);
  get('commit', (id) => `/commit?container=${id}&repo=devsec-evil`, 'POST', ['Content-Length: 0']);
  get('pull', () => '/images/create?fromImage=alpine&tag=3', 'POST', ['Content-Length: 0']);
  get('load', () => '/images/load', 'POST', ['Content-Length: 0']);
  get('volume create', () => '/volumes/create', 'POST', ['Content-Type: application/json', 'Content-Length: 2'], '{}');
  get('network create', () => '/networks/create', 'POST', ['Content-Type: application/json', 'Content-Length: 15'], '{"Name":"evil"}');
  get('swarm init', () => '/swarm/init', 'POST', ['Content-Type: application/json', 'Content-Length: 2'], '{}');
  get('prune', () => '/containers/prune', 'POST', ['Content-Length: 0']);
  get('session', () => '/session', 'POST', ['Upgrade: h2c', 'Connection: Upgrade']);
  get('grpc', () => '/grpc', 'POST', ['Content-Type: application/grpc', 'Upgrade: h2c', 'Connection: Upgrade']);
  get('auth', () => '/auth', 'POST', ['Content-Length: 2'], '{}');

  // Encoding tricks on the archive read (HAProxy-style prefix rules let these through).
  const archive = (id: string) => `/containers/${id}/archive?path=%2Fsecret.txt`;
  get('%61rchive', (id) => `/containers/${id}/%61rchive?path=%2Fsecret.txt`);
  get('%2F-joined path', (id) => `/containers%2F${id}%2Farchive?path=%2Fsecret.txt`);
  get('%2f lower-case', (id) => `/containers/${id}%2farchive?path=%2Fsecret.txt`);
  get('double-encoded %252F', (id) => `/containers/${id}%252Farchive?path=%2Fsecret.txt`);
  get('dot segment', (id) => `/containers/./${id}/archive?path=%2Fsecret.txt`);
  get('dot-dot segment', (id) => `/containers/json/../${id}/archive?path=%2Fsecret.txt`);
  get('encoded dot-dot', (id) => `/containers/json/%2e%2e/${id}/archive?path=%2Fsecret.txt`);
  get('double slash', (id) => `//containers/${id}/archive?path=%2Fsecret.txt`);
  get('inner double slash', (id) => `/containers//${id}/archive?path=%2Fsecret.txt`);
  get('trailing slash on inspect', (id) => `/containers/${id}/json/`);
  get('backslash', (id) => `/containers\\${id}\\archive?path=%2Fsecret.txt`);
  get('encoded NUL', (id) => `/containers/${id}/json%00/../archive?path=%2Fsecret.txt`);
  get('upper-case section', (id) => `/CONTAINERS/${id}/archive?path=%2Fsecret.txt`);
  get('upper-case action', (id) => `/containers/${id}/ARCHIVE?path=%2Fsecret.txt`);
  get('query carrying /containers/json', (id) => `${archive(id)}&x=/containers/json`);
  get('query-first trick', (id) => `/containers/${id}/archive?/containers/json&path=%2Fsecret.txt`);
  get('semicolon path parameter', (id) => `/containers/${id}/archive;/json?path=%2Fsecret.txt`);
  get('fragment', (id) => `/containers/${id}/archive#/containers/json`);
  get('matrix json suffix', (id) => `/containers/${id}/archive/json?path=%2Fsecret.txt`);
  get('repeated version prefix', (id) => `/v1.41/containers/${id}/archive?path=%2Fsecret.txt`);
  get('inspect with env via encoded id', (id) => `/containers/%${id.slice(0, 2)}/json`);

  // Request-target forms other than origin-form.
  attacks.push({ name: 'absolute-form archive', raw: (prefix, id) => request('GET', `http://docker${prefix}${archive(id)}`) });
  attacks.push({ name: 'absolute-form inspect', raw: (prefix, id) => request('GET', `http://docker${prefix}/containers/${id}/json`) });
  attacks.push({ name: 'asterisk-form', raw: () => request('OPTIONS', '*') });
  attacks.push({ name: 'CONNECT', raw: () => 'CONNECT docker:2375 HTTP/1.1\r\nHost: docker:2375\r\n\r\n' });
  attacks.push({ name: 'HTTP/2 preface', raw: () => 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' });
  attacks.push({ name: 'HTTP/1.0 archive', raw: (prefix, id) => `GET ${prefix}${archive(id)} HTTP/1.0\r\n\r\n` });
  attacks.push({ name: 'HTTP/0.9 style', raw: (prefix, id) => `GET ${prefix}${archive(id)}\r\n\r\n` });

  // Smuggling: a request hidden in the body of an allowed one, or behind it.
  const hidden = (prefix: string, id: string) => request('GET', `${prefix}${archive(id)}`);
  attacks.push({
    name: 'CL and TE together',
    raw: (prefix, id) => {
      const inner = hidden(prefix, id);
      return request('GET', `${prefix}/_ping`, ['Content-Length: 4', 'Transfer-Encoding: chunked'], `0\r\n\r\n${inner}`);
    },
  });
  attacks.push({
    name: 'duplicate Content-Length',
    raw: (prefix, id) => {
      const inner = hidden(prefix, id);
      return request('GET', `${prefix}/_ping`, ['Content-Length: 0', `Content-Length: ${inner.length}`], inner);
    },
  });
  attacks.push({
    name: 'TE chunked body on GET',
    raw: (prefix, id) => {
      const inner = hidden(prefix, id);
      return request('GET', `${prefix}/_ping`, ['Transfer-Encoding: chunked'], `${inner.length.toString(16)}\r\n${inner}\r\n0\r\n\r\n`);
    },
  });
  attacks.push({
    name: 'obfuscated TE',
    raw: (prefix, id) => request('GET', `${prefix}/_ping`, ['Transfer-Encoding: xchunked'], `0\r\n\r\n${hidden(prefix, id)}`),
  });
  attacks.push({
    name: 'TE with space before colon',
    raw: (prefix, id) => request('GET', `${prefix}/_ping`, ['Transfer-Encoding : chunked'], `0\r\n\r\n${hidden(prefix, id)}`),
  });
  attacks.push({
    name: 'Content-Length body on GET',
    raw: (prefix, id) => {
      const inner = hidden(prefix, id);
      return request('GET', `${prefix}/_ping`, [`Content-Length: ${inner.length}`], inner);
    },
  });
  attacks.push({ name: 'pipelined behind an allowed request', legitimate: 1, raw: (prefix, id) => request('GET', `${prefix}/_ping`) + hidden(prefix, id) });
  attacks.push({
    name: 'pipelined behind two allowed requests',
    legitimate: 2,
    raw: (prefix, id) => request('GET', `${prefix}/_ping`) + request('GET', `${prefix}/version`) + hidden(prefix, id),
  });
  attacks.push({
    name: 'upgrade on an allowed endpoint',
    raw: (prefix, id) => request('GET', `${prefix}/containers/${id}/logs?stdout=1`, ['Upgrade: tcp', 'Connection: Upgrade']),
  });
  attacks.push({
    name: 'Upgrade header without Connection',
    raw: (prefix, id) => request('GET', `${prefix}/containers/${id}/logs?stdout=1`, ['Upgrade: websocket']),
  });
  attacks.push({
    name: 'h2c upgrade',
    raw: (prefix) => request('GET', `${prefix}/_ping`, ['Upgrade: h2c', 'Connection: Upgrade, HTTP2-Settings', 'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA']),
  });
  attacks.push({ name: 'bare LF line endings', raw: (prefix, id) => `GET ${prefix}${archive(id)} HTTP/1.1\nHost: docker\n\n` });
  attacks.push({
    name: 'obs-fold header',
    raw: (prefix, id) => `GET ${prefix}/_ping HTTP/1.1\r\nHost: docker\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n${hidden(prefix, id)}`,
  });
  attacks.push({ name: 'lower-case method', raw: (prefix, id) => request('get', `${prefix}${archive(id)}`) });
  attacks.push({ name: 'tab in target', raw: (prefix, id) => request('GET', `${prefix}/containers/${id}/archive\t?path=%2Fsecret.txt`) });
  attacks.push({
    name: 'inspect of canary env (redaction)',
    legitimate: 1,
    raw: (prefix, id) => request('GET', `${prefix}/containers/${id}/json`, ['Connection: close']),
  });
  return attacks;
}

describeWithDocker('proxy against a corpus of dangerous raw requests', () => {
  let proxy: RunningProxy;
  let canaryId: string;
  const attacks = corpus();

  beforeAll(async () => {
    requireImage(ROOTFS_IMAGE);
    canaryId = dockerOk([
      'run',
      '-d',
      '--name',
      canary,
      '--label',
      scopeLabel,
      '-e',
      `SECRET=${envSecret}`,
      '-e',
      `FILE_SECRET=${fileSecret}`,
      ROOTFS_IMAGE,
      // The file's secret comes from the (redacted) env, so the command line does not carry it.
      'bash',
      '-c',
      'printenv FILE_SECRET > /secret.txt; printenv FILE_SECRET > /etc/shadow; exec sleep infinity',
    ]).trim();
    proxy = await startProxy(stackProxyEnv(scopeLabel, { LOG_LEVEL: 'warn' }));
  });

  afterAll(async () => {
    await proxy?.stop();
    docker(['rm', '-f', canary, 'devsec-escape']);
  });

  it('holds at least 100 attacks, each tried with and without /v1.41', () => {
    expect(attacks.length * 2).toBeGreaterThanOrEqual(100);
  });

  it('is a fair test: the direct socket does leak both secrets', async () => {
    const archive = await rawExchange('/var/run/docker.sock', request('GET', `/v1.41/containers/${canary}/archive?path=%2Fsecret.txt`));
    expect(archive).toContain(fileSecret);
    const inspect = await rawExchange('/var/run/docker.sock', request('GET', `/v1.41/containers/${canary}/json`, ['Connection: close']));
    expect(inspect).toContain(envSecret);
  });

  const cases = corpus().flatMap((attack) => [[attack.name, '', attack] as const, [attack.name, '/v1.41', attack] as const]);
  it.each(cases)('%s (prefix "%s") gets nothing through', async (_name, prefix, attack) => {
    for (const id of [canary, canaryId]) {
      const answer = await rawExchange(proxy.socketPath, attack.raw(prefix, id));
      expect(answer).not.toContain(envSecret);
      expect(answer).not.toContain(fileSecret);
      expect(answer).not.toMatch(/HTTP\/1\.[01] 101/);
      const ok = statusCodes(answer).filter((status) => status < 300);
      expect(ok.length).toBeLessThanOrEqual(attack.legitimate ?? 0);
    }
  });

  it('changed nothing on the engine', () => {
    expect(docker(['inspect', 'devsec-escape']).status).not.toBe(0);
    expect(dockerOk(['inspect', '-f', '{{.State.Running}}', canary]).trim()).toBe('true');
    expect(dockerOk(['exec', canary, 'cat', '/secret.txt']).trim()).toBe(fileSecret);
    expect(docker(['image', 'inspect', 'devsec-evil']).status).not.toBe(0);
    expect(docker(['network', 'inspect', 'evil']).status).not.toBe(0);
    expect(dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim()).toBe('inactive');
    // And the proxy is still serving.
    expect(docker(['ps', '--format', '{{.Names}}'], { host: proxy.host }).stdout).toContain(canary);
  });
});
