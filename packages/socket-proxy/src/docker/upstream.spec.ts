import { createServer, get, IncomingMessage, Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { startFakeUpstream } from '../../test/fake-upstream';
import { createUpstream, Upstream, upstreamRequestOptions } from './upstream';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('upstreamRequestOptions', () => {
  it('builds the request from its parts: Host, and a printable User-Agent at most', () => {
    expect(upstreamRequestOptions('/s.sock', 'GET', '/v1.41/_ping', 'Docker-Client/28.2.2 (linux)')).toEqual({
      socketPath: '/s.sock',
      method: 'GET',
      path: '/v1.41/_ping',
      headers: { Host: 'docker', 'User-Agent': 'Docker-Client/28.2.2 (linux)' },
    });
  });

  it.each([
    ['no', undefined],
    ['an empty', ''],
    ['a CRLF-injecting', 'a\r\nX-Injected: 1'],
    ['a non-ASCII', 'é'],
    ['a 257-character', 'x'.repeat(257)],
  ])('drops %s User-Agent', (_name, userAgent) => {
    expect(upstreamRequestOptions('/s.sock', 'HEAD', '/_ping', userAgent).headers).toEqual({ Host: 'docker' });
  });
});

describe('createUpstream against a stand-in engine', () => {
  const state = { bigBody: 'x'.repeat(1000), pingStatus: 200, streamClosed: false };
  let fake: Awaited<ReturnType<typeof startFakeUpstream>>;
  let upstream: Upstream;

  beforeAll(async () => {
    fake = await startFakeUpstream({}, (req, res) => {
      if (req.url === '/big') {
        res.end(state.bigBody);
        return true;
      }
      if (req.url === '/_ping' && state.pingStatus !== 200) {
        res.writeHead(state.pingStatus);
        res.end('down');
        return true;
      }
      if (req.url === '/stream') {
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '100' });
        res.write('one\ntwo\n');
        res.on('close', () => (state.streamClosed = true));
        return true;
      }
      return false;
    });
    upstream = createUpstream(fake.socketPath, { maxBufferedBytes: 100, pingCacheMs: 200 });
  });

  afterAll(async () => {
    upstream?.close();
    await fake?.close();
  });

  beforeEach(() => fake.received.splice(0));

  it('fetches an answer whole, and sends nothing of the client but the User-Agent', async () => {
    const answer = await upstream.fetch('/v1.41/containers/abc/json', 'ua/1');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json');
    expect(JSON.parse(answer.body.toString())).toMatchObject({ Id: 'abc' });
    expect(fake.received).toHaveLength(1);
    expect(fake.received[0]).toMatchObject({ method: 'GET', url: '/v1.41/containers/abc/json', userAgent: 'ua/1' });
    expect(Object.keys(fake.received[0].headers).sort()).toEqual(['connection', 'host', 'user-agent']);
  });

  it('refuses to buffer an answer over the size cap', async () => {
    await expect(upstream.fetch('/big', undefined)).rejects.toThrow('inspect answer too large to redact');
  });

  it('rejects when the engine is not there', async () => {
    const missing = createUpstream(join(mkdtempSync(join(tmpdir(), 'devsec-none-')), 'docker.sock'));
    await expect(missing.fetch('/_ping', undefined)).rejects.toMatchObject({ code: 'ENOENT' });
    missing.close();
  });

  it('answers pings from memory while fresh, and never caches a failed one', async () => {
    const first = await upstream.ping('/_ping', undefined);
    const second = await upstream.ping('/_ping', undefined);
    expect(second).toBe(first);
    expect(fake.received).toHaveLength(1);
    await sleep(250);
    state.pingStatus = 500;
    expect((await upstream.ping('/_ping', undefined)).status).toBe(500);
    state.pingStatus = 200;
    expect((await upstream.ping('/_ping', undefined)).status).toBe(200);
    expect(fake.received).toHaveLength(3);
  });

  describe('stream', () => {
    let front: Server;
    let frontSocket: string;
    let transform: (() => Transform) | undefined;
    const settled: string[] = [];

    beforeAll(async () => {
      frontSocket = join(mkdtempSync(join(tmpdir(), 'devsec-front-')), 'front.sock');
      front = createServer((req, res) => {
        upstream.stream(res, 'GET', req.url ?? '', req.headers['user-agent'], transform?.()).then(
          () => settled.push('resolved'),
          (error: Error) => settled.push(`rejected ${error.message}`),
        );
      });
      await new Promise<void>((resolve) => front.listen(frontSocket, resolve));
    });

    afterAll(() => new Promise<void>((resolve) => front.close(() => resolve())));

    const open = (path: string) => new Promise<IncomingMessage>((resolve, reject) => get({ socketPath: frontSocket, path }, resolve).on('error', reject));
    const read = (response: IncomingMessage) =>
      new Promise<string>((resolve) => {
        let text = '';
        response.on('data', (chunk) => (text += chunk));
        response.on('end', () => resolve(text));
      });

    it('relays status, end-to-end headers and body, and applies the transform to a 200', async () => {
      transform = () => new Transform({ transform: (chunk, _encoding, callback) => callback(null, String(chunk).toUpperCase()) });
      const response = await open('/v1.41/containers/abc/json');
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toBe('application/json');
      // A transformed body has a new length: the engine's Content-Length is not relayed.
      expect(response.headers['content-length']).toBeUndefined();
      expect(await read(response)).toContain('"ID":"ABC"');
      transform = undefined;
    });

    it('tears the engine request down when the client goes away', async () => {
      const response = await open('/stream');
      await new Promise((resolve) => response.once('data', resolve));
      expect(state.streamClosed).toBe(false);
      response.destroy();
      for (let i = 0; i < 40 && !state.streamClosed; i++) await sleep(25);
      expect(state.streamClosed).toBe(true);
    });

    it('rejects when the engine cannot be reached', async () => {
      const saved = upstream;
      upstream = createUpstream(join(mkdtempSync(join(tmpdir(), 'devsec-none-')), 'docker.sock'));
      settled.splice(0);
      const request = get({ socketPath: frontSocket, path: '/_ping' });
      request.on('error', () => undefined);
      for (let i = 0; i < 40 && settled.length === 0; i++) await sleep(25);
      expect(settled).toEqual([expect.stringMatching(/^rejected .*ENOENT/)]);
      request.destroy();
      upstream.close();
      upstream = saved;
    });
  });
});
