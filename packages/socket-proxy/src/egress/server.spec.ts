/**
 * The egress server in process, with names resolved by a fake resolver to local stand-ins:
 * what reaches the upstream, what is refused, and the timeouts. The compiled binary has its
 * own suite (test/egress.process.spec.ts).
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { connectThrough, rawTcp, readToEnd, statusOf } from '../../test/egress-client';
import type { EgressAccessEntry } from './access';
import { loadEgressConfig } from './config';
import { systemNetwork } from './dial';
import { createEgressServer, EGRESS_HEALTH_PATH, EgressServer } from './server';

jest.setTimeout(20_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Seen {
  method: string;
  url: string;
  rawHeaders: string[];
  body: string;
}

describe('egress server', () => {
  const seen: Seen[] = [];
  let upstream: http.Server;
  let upstreamPort: number;
  let echo: net.Server;
  let echoPort: number;
  let proxy: EgressServer;
  let proxyPort: number;
  const logged: EgressAccessEntry[] = [];
  const lastLog = async (count = logged.length) => {
    for (let i = 0; i < 50 && logged.length <= count - 1; i++) await sleep(20);
    return logged[logged.length - 1];
  };

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', rawHeaders: req.rawHeaders, body });
        if (req.url === '/reset') return void req.socket.destroy();
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Keep-Alive': 'timeout=77', 'Proxy-Authenticate': 'Basic', 'X-Answer': 'yes' });
        res.end(`got ${body.length}`);
      });
    });
    echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    upstreamPort = (upstream.address() as net.AddressInfo).port;
    echoPort = (echo.address() as net.AddressInfo).port;
    const config = loadEgressConfig({
      EGRESS: '1',
      EGRESS_LISTEN: 'tcp://127.0.0.1:0',
      EGRESS_ALLOW: `stand-in:${upstreamPort} echo:${echoPort} sneaky.example.com:${echoPort}`,
      EGRESS_ALLOW_PRIVATE: 'stand-in echo',
      EGRESS_HEADER_TIMEOUT: '300ms',
      EGRESS_IDLE_TIMEOUT: '1500ms',
      EGRESS_CONNECT_TIMEOUT: '1s',
    });
    const lookup = async (name: string) => (['stand-in', 'echo', 'sneaky.example.com'].includes(name) ? [{ address: '127.0.0.1', family: 4 }] : []);
    proxy = createEgressServer(config, { access: (entry) => logged.push(entry as EgressAccessEntry), error: () => undefined }, { ...systemNetwork, lookup });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxyPort = (proxy.server.address() as net.AddressInfo).port;
  });

  afterAll(() => {
    proxy.stop();
    upstream.closeAllConnections();
    upstream.close();
    echo.close();
  });

  it('rebuilds a plain HTTP request: the URL’s host, no proxy or hop-by-hop headers, the body framed anew', async () => {
    const body = 'hello';
    const raw = await rawTcp(
      proxyPort,
      `POST http://STAND-IN:${upstreamPort}/path?q=1 HTTP/1.1\r\nHost: elsewhere.example\r\nProxy-Authorization: Basic c2VjcmV0\r\n` +
        `Connection: keep-alive, X-Private\r\nX-Private: 1\r\nKeep-Alive: timeout=9\r\nX-Kept: a\r\nX-Kept: b\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`,
      1500,
    );
    expect(statusOf(raw)).toBe(200);
    expect(raw).toMatch(/\r\n\r\n(5\r\n)?got 5/);
    expect(raw).toContain('X-Answer: yes');
    expect(raw).not.toMatch(/Proxy-Authenticate|timeout=77/);
    const request = seen[seen.length - 1];
    expect(request).toMatchObject({ method: 'POST', url: '/path?q=1', body: 'hello' });
    expect(request.rawHeaders).toEqual([
      'Host',
      `stand-in:${upstreamPort}`,
      'X-Kept',
      'a',
      'X-Kept',
      'b',
      'Transfer-Encoding',
      'chunked',
      'Connection',
      'close',
    ]);
    expect(await lastLog()).toMatchObject({ method: 'POST', host: 'stand-in', port: upstreamPort, decision: 'allow', rule: `stand-in:${upstreamPort}`, up: 5 });
    expect(logged[logged.length - 1].down).toBeGreaterThanOrEqual(5);
  });

  it('answers Expect: 100-continue itself and does not pass it on', async () => {
    const raw = await rawTcp(
      proxyPort,
      `PUT http://stand-in:${upstreamPort}/up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`,
    );
    expect(raw).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK/);
    expect(seen[seen.length - 1].rawHeaders).toEqual(['Host', `stand-in:${upstreamPort}`, 'Content-Length', '3', 'Connection', 'close']);
  });

  it.each([
    [
      'Content-Length with Transfer-Encoding',
      'POST http://stand-in/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n',
      400,
    ],
    ['two Content-Lengths', 'POST http://stand-in/ HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab', 400],
    ['an obsolete line folding', 'GET http://stand-in/ HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n  folded\r\n\r\n', 400],
    ['a gzip transfer coding', 'POST http://stand-in/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', 400],
    ['userinfo in the URL', 'GET http://user:pw@stand-in/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['no Host header', 'GET http://stand-in/ HTTP/1.1\r\n\r\n', 400],
    ['origin-form', 'GET / HTTP/1.1\r\nHost: stand-in\r\n\r\n', 400],
    ['https in absolute-form', 'GET https://stand-in/ HTTP/1.1\r\nHost: x\r\n\r\n', 400],
    ['an upgrade', 'GET http://stand-in/ HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n', 403],
  ])('refuses %s, and nothing reaches the upstream', async (_, payload, status) => {
    const before = seen.length;
    const raw = await rawTcp(proxyPort, payload, 1500);
    expect(statusOf(raw)).toBe(status);
    expect(raw).toMatch(/devsec egress proxy: |^HTTP\/1\.1 400 Bad Request/);
    expect(seen.length).toBe(before);
    expect(await lastLog()).toMatchObject({ decision: 'deny', status });
  });

  it('refuses a host off the list after reading the body, so the client sees why', async () => {
    const body = 'x'.repeat(256 * 1024);
    const raw = await rawTcp(proxyPort, `POST http://elsewhere.example/ HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    expect(statusOf(raw)).toBe(403);
    expect(raw).toContain('Proxy-Status: devsec-egress; error=http_request_denied; details="elsewhere.example is not on');
    expect(raw).toContain('devsec egress proxy: elsewhere.example is not on this sandbox');
  });

  it('refuses a listed name that resolves to a private address unless it may', async () => {
    const { status } = await connectThrough(proxyPort, `sneaky.example.com:${echoPort}`);
    expect(status).toBe(403);
    expect(await lastLog()).toMatchObject({ method: 'CONNECT', host: 'sneaky.example.com', decision: 'deny', rule: 'private-address', status: 403 });
  });

  it('keeps a tunnel past the header timeout, and closes it after the idle timeout', async () => {
    const { status, socket } = await connectThrough(proxyPort, `echo:${echoPort}`);
    expect(status).toBe(200);
    const text = readToEnd(socket);
    await sleep(500);
    socket.write('still here');
    await sleep(500);
    socket.write(' and here');
    const started = Date.now();
    expect(await text).toBe('still here and here');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1300);
    expect(await lastLog()).toMatchObject({ method: 'CONNECT', decision: 'allow', up: 19, down: 19, error: 'idle-timeout', status: 200 });
  });

  it('answers 502 when the upstream fails, logging the rule that allowed it', async () => {
    const raw = await rawTcp(proxyPort, `GET http://stand-in:${upstreamPort}/reset HTTP/1.1\r\nHost: x\r\n\r\n`);
    expect(statusOf(raw)).toBe(502);
    expect(await lastLog()).toMatchObject({ decision: 'allow', rule: `stand-in:${upstreamPort}`, status: 502, error: 'ECONNRESET' });
  });

  it('answers its health path in origin-form, unlogged', async () => {
    const before = logged.length;
    expect(statusOf(await rawTcp(proxyPort, `GET ${EGRESS_HEALTH_PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))).toBe(200);
    expect(logged.length).toBe(before);
  });
});
