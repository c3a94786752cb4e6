import { createServer, get, Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../test/fake-upstream';
import { eventScopeFilter, HANDLERS } from './handlers';
import { decide, RULES } from './policy';
import { createUpstream, Upstream } from './upstream';

const scope = { key: 'org.devsec.scope', value: 'unit', selector: 'org.devsec.scope=unit' };
const SWITCHES = { PING: true, VERSION: true, EVENTS: true, CONTAINERS: true, IMAGES: true, INFO: true, NETWORKS: true, VOLUMES: true };

describe('HANDLERS', () => {
  it("has a handler for every rule's handle, and each handler serves some rule", () => {
    const handles = new Set(RULES.map((row) => row.handle));
    expect([...handles].filter((handle) => !(handle in HANDLERS))).toEqual([]);
    expect(Object.keys(HANDLERS).filter((handle) => !handles.has(handle as never))).toEqual([]);
    expect(Object.isFrozen(HANDLERS)).toBe(true);
  });
});

describe('handlers against a stand-in engine', () => {
  let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
  let upstream: Upstream;
  let front: Server;
  let frontSocket: string;

  beforeAll(async () => {
    fake = await startFakeUpstream({ 'org.devsec.scope': 'unit' }, (req, res) => {
      const json = (value: unknown) => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': '1.41' });
        res.end(JSON.stringify(value));
      };
      const path = (req.url ?? '').split('?')[0].replace(/^\/v1\.[0-9]+/, '');
      if (path === '/containers/mine/json') return (json({ Id: 'id-mine', Config: { Env: ['TOKEN=secret'], Labels: { 'org.devsec.scope': 'unit' } } }), true);
      if (path === '/containers/theirs/json') return (json({ Id: 'id-theirs', Config: { Env: [], Labels: { 'org.devsec.scope': 'other' } } }), true);
      if (path === '/containers/json') return (json([{ Id: 'id-mine' }]), true);
      if (path === '/networks/dev') return (json({ Name: 'dev', Containers: { 'id-mine': { Name: 'mine' }, 'id-theirs': { Name: 'theirs' } } }), true);
      if (path === '/images/app/json')
        return (json({ Id: 'sha256:1', Config: { Env: ['KEY=value'] }, GraphDriver: { Data: { UpperDir: '/var/lib/x' } } }), true);
      return false;
    });
    upstream = createUpstream(fake.socketPath);
    frontSocket = join(mkdtempSync(join(tmpdir(), 'devsec-handlers-')), 'front.sock');
    // The server's part reduced to the call it makes: decide, then the rule's handler.
    front = createServer((req, res) => {
      const decision = decide({ method: req.method ?? '', target: req.url ?? '', headers: req.headers }, SWITCHES);
      if (!decision.allowed) throw new Error(`refused in a handler test: ${decision.message}`);
      void HANDLERS[decision.handle]({ req, res, decision, scope, upstream });
    });
    await new Promise<void>((resolve) => front.listen(frontSocket, resolve));
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => front.close(() => resolve()));
    upstream?.close();
    await fake?.close();
  });

  beforeEach(() => fake.received.splice(0));

  const fetchJson = (path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: any }>((resolve, reject) => {
      get({ socketPath: frontSocket, path }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text ? JSON.parse(text) : undefined }));
      }).on('error', reject);
    });
  const asked = () => fake.received.map((request) => decodeURIComponent(request.url));

  it('container-inspect redacts a container in scope and keeps the engine headers', async () => {
    const answer = await fetchJson('/v1.41/containers/mine/json');
    expect(answer.status).toBe(200);
    expect(answer.body.Config.Env).toEqual(['TOKEN=<redacted>']);
    expect(answer.headers['api-version']).toBe('1.41');
  });

  it('container-inspect and container-logs answer "No such container" outside the scope', async () => {
    for (const path of ['/containers/theirs/json', '/containers/theirs/logs?stdout=1']) {
      expect(await fetchJson(path)).toMatchObject({ status: 404, body: { message: 'No such container: theirs' } });
    }
    // The logs were never asked for.
    expect(asked().some((url) => url.includes('/logs'))).toBe(false);
  });

  it('container-logs reads the logs by the id it checked, not by the name', async () => {
    await fetchJson('/v1.41/containers/mine/logs?stdout=1');
    expect(asked()).toEqual(['/v1.41/containers/mine/json', '/v1.41/containers/id-mine/logs?stdout=1']);
  });

  it("container-list asks the engine for the scope label, ANDed with the client's filters", async () => {
    await fetchJson('/containers/json?filters=%7B%22label%22%3A%5B%22a%3Db%22%5D%7D');
    expect(asked()).toEqual(['/containers/json?filters={"label":["a=b","org.devsec.scope=unit"]}']);
  });

  it('network-inspect lists only the containers in scope', async () => {
    const answer = await fetchJson('/networks/dev');
    expect(answer.body.Containers).toEqual({ 'id-mine': { Name: 'mine' } });
    expect(asked()[1]).toBe('/containers/json?all=1&filters={"label":["org.devsec.scope=unit"]}');
  });

  it('image-inspect redacts env values and layer paths', async () => {
    const answer = await fetchJson('/images/app/json');
    expect(answer.body).toMatchObject({ Config: { Env: ['KEY=<redacted>'] }, GraphDriver: { Data: { UpperDir: '<redacted>' } } });
  });

  it('forward and ping relay the engine answer', async () => {
    expect(await fetchJson('/version')).toMatchObject({ status: 200, body: {} });
    const ping = await new Promise<string>((resolve) => get({ socketPath: frontSocket, path: '/_ping' }, (r) => r.on('data', (d) => resolve(String(d)))));
    expect(ping).toBe('OK');
  });
});

describe('eventScopeFilter', () => {
  it('keeps whole lines of in-scope container events, across chunk and character boundaries', async () => {
    const events = [
      { Type: 'container', Action: 'start', Actor: { Attributes: { name: 'mine-é', 'org.devsec.scope': 'unit' } } },
      { Type: 'container', Action: 'start', Actor: { Attributes: { name: 'theirs' } } },
      { Type: 'network', Action: 'connect', Actor: { Attributes: { 'org.devsec.scope': 'unit' } } },
    ];
    const bytes = Buffer.from(events.map((event) => `${JSON.stringify(event)}\n`).join('') + 'not json\n');
    const filter = eventScopeFilter(scope);
    let out = '';
    filter.on('data', (chunk) => (out += chunk));
    for (let at = 0; at < bytes.length; at += 7) filter.write(bytes.subarray(at, at + 7));
    filter.end();
    await new Promise((resolve) => filter.on('end', resolve));
    expect(out).toBe(`${JSON.stringify(events[0])}\n`);
  });
});
