import { createServer, get, Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeUpstream } from '../../test/fake-upstream';
import type { Scope } from './config';
import { HANDLERS } from './handlers';
import { decide, RULES } from './policy';
import { createUpstream, Upstream } from './upstream';

const unit = { key: 'org.devsec.scope', value: 'unit', selector: 'org.devsec.scope=unit' };
const single: Scope = { selector: unit.selector, anyOf: [unit] };
/** A stack's own compose project and the shared services of its network. */
const project = { key: 'com.docker.compose.project', value: 'stack-a', selector: 'com.docker.compose.project=stack-a' };
const shared = { key: 'org.devsec.scope', value: 'dev', selector: 'org.devsec.scope=dev' };
const stackScope: Scope = { selector: `${project.selector},${shared.selector}`, anyOf: [project, shared] };
const SWITCHES = { PING: true, VERSION: true, EVENTS: true, CONTAINERS: true, IMAGES: true, INFO: true, NETWORKS: true, VOLUMES: true };

/** The stand-in engine's containers: labels, list entry, inspect's Created. */
const CONTAINERS = [
  { Id: 'a1', Created: 300, at: '1970-01-01T00:05:00.5Z', labels: { 'com.docker.compose.project': 'stack-a' } },
  { Id: 's1', Created: 250, at: '1970-01-01T00:04:10Z', labels: { 'org.devsec.scope': 'dev' } },
  // In both: a stack container that (from an older template) also carries the shared label.
  { Id: 'a2', Created: 200, at: '1970-01-01T00:03:20Z', labels: { 'com.docker.compose.project': 'stack-a', 'org.devsec.scope': 'dev' } },
  // Same second, different lists: s2 is the newer by nanoseconds.
  { Id: 'a3', Created: 100, at: '1970-01-01T00:01:40.2Z', labels: { 'com.docker.compose.project': 'stack-a' } },
  { Id: 's2', Created: 100, at: '1970-01-01T00:01:40.7Z', labels: { 'org.devsec.scope': 'dev' } },
  { Id: 'b1', Created: 260, at: '1970-01-01T00:04:20Z', labels: { 'com.docker.compose.project': 'stack-b' } },
];

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
  let scope: Scope = single;

  beforeAll(async () => {
    fake = await startFakeUpstream({ 'org.devsec.scope': 'unit' }, (req, res) => {
      const json = (value: unknown) => {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': '1.41' });
        res.end(JSON.stringify(value));
      };
      const url = new URL(req.url ?? '', 'http://docker');
      const version = /^\/v1\.([0-9]+)/.exec(url.pathname)?.[1];
      const path = url.pathname.replace(/^\/v1\.[0-9]+/, '');
      const labels: string[] = JSON.parse(url.searchParams.get('filters') ?? '{}').label ?? [];
      const missing = /^\/containers\/(devsec-missing-[0-9a-f]+)\//.exec(path);
      if (missing) {
        // dockerd's words for a container that does not exist (plain text before API 1.24).
        res.writeHead(404, { 'Content-Type': version !== undefined && Number(version) < 24 ? 'text/plain' : 'application/json', 'Api-Version': '1.41' });
        res.end(
          version !== undefined && Number(version) < 24
            ? `No such container: ${missing[1]}\n`
            : JSON.stringify({ message: `No such container: ${missing[1]}` }),
        );
        return true;
      }
      if (path === '/containers/mine/json') return (json({ Id: 'id-mine', Config: { Env: ['TOKEN=secret'], Labels: { 'org.devsec.scope': 'unit' } } }), true);
      if (path === '/containers/theirs/json') return (json({ Id: 'id-theirs', Config: { Env: [], Labels: { 'org.devsec.scope': 'other' } } }), true);
      const known = CONTAINERS.find((container) => path === `/containers/${container.Id}/json`);
      if (known) return (json({ Id: known.Id, Created: known.at, Config: { Labels: known.labels } }), true);
      if (path === '/containers/json') {
        const filters = JSON.parse(url.searchParams.get('filters') ?? '{}');
        const anchor = [...(filters.since ?? []), ...(filters.before ?? [])].find((ref: string) => !CONTAINERS.some((container) => container.Id === ref));
        if (anchor !== undefined) {
          res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: `no such container ${anchor}` }));
          return true;
        }
        if (labels.includes('org.devsec.scope=unit')) return (json([{ Id: 'id-mine', Created: 1 }]), true);
        const matching = CONTAINERS.filter((container) =>
          labels.every((label) => {
            const [key, value] = label.split('=');
            return (container.labels as Record<string, string>)[key] === value;
          }),
        );
        const limit = Number(url.searchParams.get('limit') ?? 0);
        return (json(matching.slice(0, limit > 0 ? limit : undefined).map(({ Id, Created }) => ({ Id, Created, Names: [`/${Id}`] }))), true);
      }
      if (path === '/networks/dev') {
        const attached = Object.fromEntries(['id-mine', 'id-theirs', 'a1', 's1', 'b1'].map((id) => [id, { Name: id }]));
        return (json({ Name: 'dev', Containers: attached, Services: { web: { Tasks: [{ Name: 'web.1.x' }] } } }), true);
      }
      if (path === '/networks') {
        // Before 1.28 the engine lists every network's containers.
        const containers = version !== undefined && Number(version) < 28 ? { a1: { Name: 'a1' }, b1: { Name: 'b1' } } : {};
        return (
          json([
            { Name: 'dev', Containers: containers },
            { Name: 'none', Containers: {} },
          ]),
          true
        );
      }
      if (path === '/volumes')
        return (json({ Volumes: [{ Name: 'v', Driver: 'local', Options: { type: 'nfs', o: 'addr=x,password=hunter2' } }], Warnings: null }), true);
      if (path === '/volumes/v') return (json({ Name: 'v', Options: { o: 'password=hunter2' }, Status: { token: 'hunter2' } }), true);
      if (path === '/info') return (json({ Name: 'host', HttpProxy: 'http://user:hunter2@proxy:3128', NoProxy: 'localhost' }), true);
      if (path === '/images/app/json')
        return (json({ Id: 'sha256:1', Config: { Env: ['KEY=value'] }, GraphDriver: { Data: { UpperDir: '/var/lib/x' } } }), true);
      if (path === '/images/broken/json') {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{"Id": "sha256:1", "Config": {"Env": ["KEY=hunter2"]');
        return true;
      }
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

  beforeEach(() => {
    fake.received.splice(0);
    scope = single;
  });

  const fetchJson = (path: string) =>
    new Promise<{ status: number; headers: Record<string, unknown>; body: any }>((resolve, reject) => {
      get({ socketPath: frontSocket, path }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text ? JSON.parse(text) : undefined }));
      }).on('error', reject);
    });
  const asked = () => fake.received.map((request) => decodeURIComponent(request.url));
  const ids = (list: Array<{ Id: string }>) => list.map((container) => container.Id);

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
    // The logs were never asked for, only the engine's answer for a container nobody created.
    expect(asked().filter((url) => url.includes('/logs'))).toEqual([expect.stringMatching(/^\/containers\/devsec-missing-[0-9a-f]{24}\/logs\?stdout=1$/)]);
  });

  it('answers for a container outside the scope in the shape the API version answers for a missing one', async () => {
    const old = await new Promise<{ status: number; type: unknown; text: string }>((resolve) =>
      get({ socketPath: frontSocket, path: '/v1.23/containers/theirs/json' }, (response) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], text }));
      }),
    );
    expect(old).toEqual({ status: 404, type: 'text/plain', text: 'No such container: theirs\n' });
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
    expect(answer.body.Containers).toEqual({ 'id-mine': { Name: 'id-mine' } });
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

  describe('with a scope of two selectors', () => {
    beforeEach(() => (scope = stackScope));

    it('container-list asks once per selector and merges newest first, each container once, same-second ties by inspect', async () => {
      const answer = await fetchJson('/v1.41/containers/json?all=1');
      expect(ids(answer.body)).toEqual(['a1', 's1', 'a2', 's2', 'a3']);
      expect(answer.headers['api-version']).toBe('1.41');
      const lists = asked().filter((url) => url.startsWith('/v1.41/containers/json'));
      expect(lists).toEqual([
        '/v1.41/containers/json?all=1&filters={"label":["com.docker.compose.project=stack-a"]}',
        '/v1.41/containers/json?all=1&filters={"label":["org.devsec.scope=dev"]}',
      ]);
      // Only the tied pair was inspected.
      expect(
        asked()
          .filter((url) => url.endsWith('/json') && !url.includes('containers/json'))
          .sort(),
      ).toEqual(['/v1.41/containers/a3/json', '/v1.41/containers/s2/json']);
    });

    it("container-list applies the client's limit to the merged list, and ANDs the client's labels in each query", async () => {
      expect(ids((await fetchJson('/containers/json?all=1&limit=2')).body)).toEqual(['a1', 's1']);
      expect(ids((await fetchJson('/containers/json?all=1&limit=4')).body)).toEqual(['a1', 's1', 'a2', 's2']);
      fake.received.splice(0);
      const filters = encodeURIComponent('{"label":["org.devsec.scope=dev"]}');
      expect(ids((await fetchJson(`/containers/json?all=1&filters=${filters}`)).body)).toEqual(['s1', 'a2', 's2']);
      expect(asked()[0]).toBe('/containers/json?all=1&filters={"label":["org.devsec.scope=dev","com.docker.compose.project=stack-a"]}');
    });

    it('container-list answers for a since/before anchor outside the scope as dockerd does for a missing one', async () => {
      for (const anchor of ['b1', '/b1', 'nothing-here', '../x']) {
        const filters = encodeURIComponent(JSON.stringify({ since: [anchor] }));
        expect(await fetchJson(`/containers/json?filters=${filters}`)).toMatchObject({ status: 500, body: { message: `no such container ${anchor}` } });
      }
      // The engine was asked about a name nobody created in their place, never about them.
      const lists = asked().filter((url) => url.startsWith('/containers/json'));
      expect(lists.length).toBeGreaterThan(0);
      for (const url of lists) expect(url).toMatch(/"since":\["(devsec-missing-[0-9a-f]{24}|\.\.\/x)"\]/);
      const before = encodeURIComponent(JSON.stringify({ before: ['s1'] }));
      expect((await fetchJson(`/containers/json?filters=${before}`)).status).toBe(200);
    });

    it('container-inspect sees either selector and nothing else', async () => {
      expect((await fetchJson('/containers/a1/json')).status).toBe(200);
      expect((await fetchJson('/containers/s1/json')).status).toBe(200);
      expect(await fetchJson('/containers/b1/json')).toMatchObject({ status: 404, body: { message: 'No such container: b1' } });
    });

    it("network-inspect keeps the containers of either selector, and drops swarm's Services", async () => {
      const answer = await fetchJson('/networks/dev');
      expect(Object.keys(answer.body.Containers).sort()).toEqual(['a1', 's1']);
      expect(answer.body).not.toHaveProperty('Services');
    });

    it.each(['v1.24', 'v1.27'])('network-list in API %s (every network with its containers) keeps only those in scope', async (version) => {
      const answer = await fetchJson(`/${version}/networks`);
      expect(answer.body).toEqual([
        { Name: 'dev', Containers: { a1: { Name: 'a1' } } },
        { Name: 'none', Containers: {} },
      ]);
      expect(JSON.stringify(answer.body)).not.toContain('b1');
    });

    it('network-list in API 1.28 and later (no containers listed) asks nothing more of the engine', async () => {
      expect((await fetchJson('/v1.28/networks')).body).toHaveLength(2);
      expect(asked()).toEqual(['/v1.28/networks']);
    });
  });

  it('volume-list and volume-inspect redact driver options and status', async () => {
    const list = await fetchJson('/volumes');
    expect(list.body.Volumes[0]).toEqual({ Name: 'v', Driver: 'local', Options: { type: '<redacted>', o: '<redacted>' } });
    const inspected = await fetchJson('/volumes/v');
    expect(inspected.body).toEqual({ Name: 'v', Options: { o: '<redacted>' }, Status: { token: '<redacted>' } });
  });

  it("info hides the credentials of the engine's proxies", async () => {
    expect((await fetchJson('/info')).body).toEqual({ Name: 'host', HttpProxy: 'http://<redacted>@proxy:3128', NoProxy: 'localhost' });
  });

  it('an answer that is not JSON is never passed on', async () => {
    const answer = await fetchJson('/images/broken/json');
    expect(answer.status).toBe(502);
    expect(JSON.stringify(answer.body)).not.toContain('hunter2');
  });
});
