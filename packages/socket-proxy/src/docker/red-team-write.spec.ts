/**
 * RED TEAM (issue #29): attacks on the write policy that got through, each reproduced against a
 * stand-in engine that records what reaches it. Kept as regressions once fixed.
 */
import { createServer, IncomingMessage, Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { loadConfig, ProxyConfig } from './config';
import { createProxyServer } from './server';
import { checkCreateBody, decideWrite, OWNER_LABEL, WritePolicyOptions } from './write-policy';

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
const BRIDGE_ID = 'b'.repeat(64);
/** The agent's own network is named `own-net`; its id starts with `abc`. */
const OWN_NET_ID = `abc${'0'.repeat(61)}`;
/** Images' own labels: a compose-built image of the stack carries its project label; a stand-in its mark. */
const IMAGE_LABELS: Record<string, Record<string, string>> = {
  'stack-a-app': { 'com.docker.compose.project': 'stack-a', 'com.docker.compose.service': 'app' },
  'scoped-image': { 'org.devsec.scope': 'dev' },
  'managed-image': { 'org.devsec.managed': 'true' },
  'postgres:17': { 'org.devsec.stand-in': 'true' },
};

interface Seen {
  method: string;
  url: string;
  body: string;
}

describe('RED TEAM: the write policy through the proxy (stand-in engine)', () => {
  let dir: string;
  let engine: Server;
  let proxy: Server;
  let proxySocket: string;
  const seen: Seen[] = [];
  /** Bytes the engine received on a hijacked exec connection after the exec start's own body. */
  const afterUpgrade: Buffer[] = [];
  let created = 0;
  /** The containers created, with the labels the engine gave them (the image's, then the create's). */
  const made = new Map<string, Record<string, string>>();
  let networks = 0;
  const engineSockets = new Set<Duplex>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-redteam-'));
    const engineSocket = join(dir, 'engine.sock');
    proxySocket = join(dir, 'proxy.sock');
    engine = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', async () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString() });
        const json = (status: number, value: unknown) => {
          res.writeHead(status, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        const path = (req.url ?? '').replace(/^\/v1\.41/, '').split('?')[0];
        if (req.method === 'GET' && path === '/containers/json') {
          // A slow engine: the count is read well before the create lands.
          const count = created;
          await new Promise((resolve) => setTimeout(resolve, 20));
          return json(
            200,
            Array.from({ length: count }, (_, i) => ({ Id: `c${i}` })),
          );
        }
        if (req.method === 'GET' && path === '/networks')
          return json(
            200,
            Array.from({ length: networks }, (_, i) => ({ Id: `n${i}` })),
          );
        if (req.method === 'GET' && /^\/containers\/(mine|id-mine)\/json$/.test(path))
          return json(200, { Id: 'id-mine', Config: { Labels: { [OWNER_LABEL]: OWNER } } });
        if (req.method === 'GET' && path === '/exec/exec-mine/json') return json(200, { ID: 'exec-mine', ContainerID: 'id-mine' });
        if (req.method === 'GET' && (path === '/networks/own-net' || path === '/networks/abc' || path === `/networks/${OWN_NET_ID}`))
          return json(200, { Id: OWN_NET_ID, Name: 'own-net', Labels: { [OWNER_LABEL]: OWNER } });
        if (path === '/containers/create') {
          created++;
          const sent = JSON.parse(Buffer.concat(chunks).toString());
          made.set(`new${created}`, { ...(IMAGE_LABELS[sent.Image] ?? {}), ...sent.Labels });
          return json(201, { Id: `new${created}`, Warnings: [] });
        }
        const madeId = /^\/containers\/(new[0-9]+)(\/json)?$/.exec(path)?.[1];
        if (madeId && req.method === 'GET') return json(200, { Id: madeId, Config: { Labels: made.get(madeId) } });
        if (madeId && req.method === 'DELETE') {
          made.delete(madeId);
          return json(204, {});
        }
        if (path === '/networks/create') {
          networks++;
          return json(201, { Id: `n${networks}` });
        }
        return json(200, { ok: true });
      });
    });
    // The engine's exec start: a detached start is answered as plain HTTP and the connection kept
    // (what dockerd does); an attached one is hijacked (101). Bytes after the body are recorded.
    engine.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      engineSockets.add(socket);
      const length = Number(req.headers['content-length'] ?? 0);
      let buffered = head;
      const answer = () => {
        const body = buffered.subarray(0, length).toString();
        const rest = buffered.subarray(length);
        if (rest.length > 0) afterUpgrade.push(rest);
        socket.on('data', (chunk: Buffer) => afterUpgrade.push(chunk));
        if (JSON.parse(body).Detach === true) socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n');
        else socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
      };
      if (buffered.length >= length) return answer();
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        if (buffered.length >= length) {
          socket.off('data', onData);
          answer();
        }
      };
      socket.on('data', onData);
    });
    await new Promise<void>((resolve) => engine.listen(engineSocket, resolve));
    const config: ProxyConfig = { ...loadConfig({ ...ENV, SOCKET_PATH: engineSocket }), listen: { kind: 'unix', path: proxySocket } };
    proxy = createProxyServer(config, { access: () => undefined, error: () => undefined });
    await new Promise<void>((resolve) => proxy.listen(proxySocket, resolve));
  });
  afterAll(async () => {
    for (const socket of engineSockets) socket.destroy();
    proxy.closeAllConnections();
    engine.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await new Promise((resolve) => engine.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    seen.length = 0;
    afterUpgrade.length = 0;
    created = 0;
    networks = 0;
    made.clear();
  });

  const raw = (request: string, waitMs = 300) =>
    new Promise<string>((resolve) => {
      const socket: Socket = connect(proxySocket);
      const chunks: Buffer[] = [];
      const done = () => resolve(Buffer.concat(chunks).toString('latin1'));
      const timer = setTimeout(() => {
        socket.destroy();
        done();
      }, waitMs);
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', () => undefined);
      socket.on('close', () => {
        clearTimeout(timer);
        done();
      });
      socket.write(request);
    });
  const request = (method: string, target: string, body?: string, extra: Record<string, string> = {}) => {
    const headers: Record<string, string> = { Host: 'docker', ...extra };
    if (body !== undefined) Object.assign(headers, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) });
    return `${method} ${target} HTTP/1.1\r\n${Object.entries(headers)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('')}\r\n${body ?? ''}`;
  };
  const status = (text: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  const creates = () => seen.filter((entry) => entry.method === 'POST');
  const privileged = request('POST', '/v1.41/containers/create', JSON.stringify({ Image: 'x', HostConfig: { Privileged: true, Binds: ['/:/host'] } }));

  it('CRITICAL: a detached exec start sent as an upgrade opens no raw pipe: a request behind it never reaches the engine', async () => {
    const answer = await raw(request('POST', '/v1.41/exec/exec-mine/start', '{"Detach":true}', { Connection: 'Upgrade', Upgrade: 'tcp' }) + privileged, 2000);
    expect(status(answer)).toBe(200);
    expect(Buffer.concat(afterUpgrade).toString()).toBe('');
  });

  it('LOW: a client that hangs up on an upgraded exec start before the answer does not end the proxy', async () => {
    for (let i = 0; i < 5; i++) {
      const socket = connect(proxySocket);
      socket.on('error', () => undefined);
      socket.write(request('POST', '/v1.41/exec/exec-mine/start', '{"Detach":true}', { Connection: 'Upgrade', Upgrade: 'tcp' }), () => socket.destroy());
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(status(await raw(request('GET', '/v1.41/exec/exec-mine/json', undefined, { Connection: 'close' })))).toBe(200);
  });

  it('still serves an attached exec start: 101, then the stream both ways', async () => {
    const answer = await raw(
      request('POST', '/v1.41/exec/exec-mine/start', '{"Detach":false,"Tty":false}', { Connection: 'Upgrade', Upgrade: 'tcp' }) + 'stdin',
    );
    expect(answer).toMatch(/^HTTP\/1\.1 101 UPGRADED\r\n/);
    expect(Buffer.concat(afterUpgrade).toString()).toBe('stdin');
  });

  it.each([
    ['a create', '/containers/create', { Image: 'x', NetworkingConfig: { EndpointsConfig: { 'stack-a_children': { NetworkID: BRIDGE_ID } } } }],
    ['a network connect', '/networks/own-net/connect', { Container: 'mine', EndpointConfig: { NetworkID: BRIDGE_ID } }],
  ])('HIGH: %s with an endpoint NetworkID (the engine joins that network instead) is refused', async (_what, target, body) => {
    const answer = await raw(request('POST', target, JSON.stringify(body), { Connection: 'close' }));
    expect(status(answer)).toBe(403);
    expect(answer).toMatch(/NetworkID is refused/);
    expect(creates()).toEqual([]);
  });

  it('MEDIUM: racing creates do not pass MAX_CHILDREN together', async () => {
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => raw(request('POST', '/containers/create', '{"Image":"x"}', { Connection: 'close' }), 3000)),
    );
    expect(answers.filter((answer) => status(answer) === 201)).toHaveLength(3);
    expect(answers.filter((answer) => status(answer) === 429)).toHaveLength(5);
    expect(created).toBe(3);
  });

  it('MEDIUM: networks are limited (each takes a subnet from the pools every stack shares)', async () => {
    networks = 4;
    const answer = await raw(request('POST', '/networks/create', '{"Name":"n5"}', { Connection: 'close' }));
    expect(status(answer)).toBe(429);
    expect(creates()).toEqual([]);
  });

  it.each([
    ['a container named like a short id', 'POST', '/containers/create?name=3f2a9c01b7d4', '{"Image":"x"}'],
    ['a rename to a short id', 'POST', '/containers/mine/rename?name=3f2a9c01b7d4', undefined],
    ['a network named like an id prefix', 'POST', '/networks/create', '{"Name":"4"}'],
  ])('MEDIUM: %s (it would shadow the sibling whose id starts so) is refused', async (_what, method, target, body) => {
    const answer = await raw(request(method, target, body, { Connection: 'close' }));
    expect(status(answer)).toBe(403);
    expect(answer).toMatch(/hex digits only/);
    expect(creates()).toEqual([]);
  });

  it('MEDIUM: a create naming its network by an id prefix is refused (removed in between, the prefix names another network)', async () => {
    const answer = await raw(
      request('POST', '/containers/create', JSON.stringify({ Image: 'x', HostConfig: { NetworkMode: 'abc' } }), { Connection: 'close' }),
    );
    expect(status(answer)).toBe(403);
    expect(answer).toMatch(/not an id prefix/);
    expect(creates()).toEqual([]);
    const byName = await raw(
      request('POST', '/containers/create', JSON.stringify({ Image: 'x', HostConfig: { NetworkMode: 'own-net' } }), { Connection: 'close' }),
    );
    expect(status(byName)).toBe(201);
  });

  it.each([
    ["the stack's compose-built image (the stack's project label)", 'stack-a-app', /com\.docker\.compose\.project/],
    ["an image with the shared services' scope label", 'scoped-image', /org\.devsec\.scope/],
    ['an image with an org.devsec label', 'managed-image', /org\.devsec\.managed/],
  ])('HIGH: a create from %s is refused and what the engine made removed', async (_what, image, label) => {
    const answer = await raw(request('POST', '/containers/create', JSON.stringify({ Image: image }), { Connection: 'close' }));
    expect(status(answer)).toBe(403);
    expect(answer).toMatch(label);
    expect([...made.keys()]).toEqual([]);
  });

  it('creates from a stand-in image (its mark is inert) and answers with what the engine said', async () => {
    const answer = await raw(request('POST', '/containers/create', JSON.stringify({ Image: 'postgres:17' }), { Connection: 'close' }));
    expect(status(answer)).toBe(201);
    expect(answer).toMatch(/"Id":"new1"/);
    expect([...made.keys()]).toEqual(['new1']);
  });

  it('keeps ordinary names: compose and testcontainers names pass', () => {
    for (const name of ['tc-postgres', 'app-db-1', 'db', 'abc']) {
      expect(decideWrite({ method: 'POST', target: `/containers/create?name=${name}`, headers: {} })).toMatchObject({ allowed: true });
    }
    expect(checkCreateBody({ Image: 'x', NetworkingConfig: { EndpointsConfig: { own: { NetworkID: '' } } } }, options()).body).toBeDefined();
  });
});
