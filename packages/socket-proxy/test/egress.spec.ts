/**
 * The compiled binary in egress mode, in front of local stand-ins (a TLS server and an HTTP
 * server on 127.0.0.1). `localhost` is the listed name: it resolves through /etc/hosts to a
 * loopback address, which only EGRESS_ALLOW_PRIVATE=localhost lets through — the same switch a
 * stand-in with a private Docker address needs. Nothing here leaves the machine.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { connectThrough, rawTcp, readToEnd, statusOf } from './egress-client';
import { RunningEgress, startEgress } from './egress-process';
import { compiledProxyBin } from './proxy-process';

jest.setTimeout(60_000);

const FIXTURES = join(__dirname, 'fixtures');
const cert = readFileSync(join(FIXTURES, 'egress-test.cert.pem'));
const key = readFileSync(join(FIXTURES, 'egress-test.key.pem'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs the binary with `args` and `env` to its end. */
function runBin(args: string[], env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [compiledProxyBin(), ...args], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env } });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
}

describe('egress proxy binary', () => {
  let tlsServer: tls.Server;
  let tlsPort: number;
  /** Raw TCP sockets of the TLS server: what really crossed the tunnel. */
  const tlsConnections: net.Socket[] = [];
  let httpServer: http.Server;
  let httpPort: number;
  let proxy: RunningEgress;

  beforeAll(async () => {
    tlsServer = tls.createServer({ key, cert }, (socket) => socket.once('data', (data) => socket.end(`pong:${data}`)));
    tlsServer.on('connection', (socket: net.Socket) => tlsConnections.push(socket));
    httpServer = http.createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end(`hello from ${req.headers.host}${req.url}`);
    });
    await new Promise<void>((resolve) => tlsServer.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
    tlsPort = (tlsServer.address() as net.AddressInfo).port;
    httpPort = (httpServer.address() as net.AddressInfo).port;
    proxy = await startEgress({
      EGRESS_ALLOW: `localhost:${tlsPort},localhost:${httpPort} 127.0.0.1:${httpPort}`,
      EGRESS_ALLOW_PRIVATE: 'localhost',
      EGRESS_HEADER_TIMEOUT: '500ms',
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    tlsServer?.close();
    httpServer?.closeAllConnections();
    httpServer?.close();
  });

  it('says what it grants in its start-up line', () => {
    expect(proxy.lines()[0]).toMatchObject({
      msg: 'listening',
      mode: 'egress',
      allow: [`localhost:${tlsPort}`, `localhost:${httpPort}`, `127.0.0.1:${httpPort}`],
      allowPrivate: ['localhost'],
      ports: [443, 80],
      maxConnections: 256,
      headerTimeout: '500ms',
      idleTimeout: '5m',
      connectTimeout: '10s',
    });
  });

  it('tunnels TLS to an allowed name untouched: the client checks the real server’s certificate; bytes are logged', async () => {
    const { status, socket } = await connectThrough(proxy.port, `localhost:${tlsPort}`);
    expect(status).toBe(200);
    const secure = tls.connect({ socket, servername: 'localhost', ca: cert });
    await new Promise((resolve, reject) => secure.once('secureConnect', resolve).once('error', reject));
    expect(secure.authorized).toBe(true);
    const answer = readToEnd(secure);
    secure.write('ping');
    expect(await answer).toBe('pong:ping');
    const line = await proxy.waitForLine((entry) => entry.method === 'CONNECT' && entry.decision === 'allow');
    const raw = tlsConnections[tlsConnections.length - 1];
    // The server's counts are final once its socket has closed (the client's close_notify comes last).
    await new Promise((resolve) => (raw.closed ? resolve(undefined) : raw.once('close', resolve)));
    expect(line).toMatchObject({
      level: 'info',
      method: 'CONNECT',
      host: 'localhost',
      port: tlsPort,
      address: '127.0.0.1',
      decision: 'allow',
      rule: `localhost:${tlsPort}`,
      status: 200,
      up: raw.bytesRead,
      down: raw.bytesWritten,
    });
    expect(raw.bytesRead).toBeGreaterThan(100);
    expect(typeof line.ms).toBe('number');
  });

  it.each([
    ['example.org:443', 'not-allowed', /example\.org is not on this sandbox's egress allowlist\. To allow it, .*--allowHosts=example\.org.*EGRESS_ALLOW/],
    [() => 'localhost:22', 'port', /localhost is allowed on ports .* only, not 22\. .*--allowHosts=localhost:22/],
    [() => `127.0.0.1:${httpPort}`, 'private-address', /127\.0\.0\.1 is not a public address \(loopback 127\.0\.0\.0\/8\).*EGRESS_ALLOW_PRIVATE/],
    ['10.0.0.1:443', 'ip-literal', /10\.0\.0\.1 is an IP address; the sandbox reaches hosts by name/],
    ['user@example.org:443', 'userinfo', /no user name or password/],
  ])('refuses CONNECT %p (%s) with 403 or 400 and a message naming the host', async (authority, rule, message) => {
    const target = typeof authority === 'function' ? authority() : authority;
    const raw = await rawTcp(proxy.port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
    expect(statusOf(raw)).toBe(rule === 'userinfo' ? 400 : 403);
    expect(raw).toMatch(message);
    expect(raw).toMatch(/\r\nProxy-Status: devsec-egress; error=\w+; details="/);
    await proxy.waitForLine((entry) => entry.method === 'CONNECT' && entry.rule === rule && entry.decision === 'deny' && entry.level === 'warn');
  });

  it('forwards plain HTTP to an allowed host, and refuses one off the list', async () => {
    const get = (url: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const request = http.request({ host: '127.0.0.1', port: proxy.port, method: 'GET', path: url, headers: { Host: new URL(url).host } }, (response) => {
          let body = '';
          response.on('data', (chunk) => (body += chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
        });
        request.on('error', reject);
        request.end();
      });
    expect(await get(`http://localhost:${httpPort}/hello?x=1`)).toEqual({ status: 200, body: `hello from localhost:${httpPort}/hello?x=1` });
    const line = await proxy.waitForLine((entry) => entry.method === 'GET' && entry.decision === 'allow');
    expect(line).toMatchObject({ host: 'localhost', port: httpPort, rule: `localhost:${httpPort}`, status: 200, up: 0 });
    expect(line.down).toBe(`hello from localhost:${httpPort}/hello?x=1`.length);
    expect(line).not.toHaveProperty('path');
    const refused = await get('http://example.org/');
    expect(refused.status).toBe(403);
    expect(refused.body).toMatch(/^devsec egress proxy: example\.org is not on this sandbox's egress allowlist\. .*--allowHosts=example\.org/);
  });

  it('refuses a smuggling attempt before anything is sent upstream', async () => {
    const raw = await rawTcp(
      proxy.port,
      `POST http://localhost:${httpPort}/ HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://example.org/ HTTP/1.1\r\nHost: x\r\n\r\n`,
    );
    expect(statusOf(raw)).toBe(400);
    expect(raw.match(/^HTTP\/1\.1 \d{3} /gm)).toHaveLength(1);
    await proxy.waitForLine((entry) => entry.rule === 'malformed-request' && entry.status === 400);
  });

  it('cuts a client that trickles its headers at the header timeout', async () => {
    const started = Date.now();
    const socket = net.connect(proxy.port, '127.0.0.1');
    const answer = readToEnd(socket);
    socket.write(`CONNECT localhost:${tlsPort} HTTP/1.1\r\n`);
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 100);
    const text = await answer;
    clearInterval(trickle);
    expect(statusOf(text)).toBe(408);
    expect(text).toContain('the request headers did not arrive within 500ms (EGRESS_HEADER_TIMEOUT)');
    expect(Date.now() - started).toBeLessThan(4000);
    await proxy.waitForLine((entry) => entry.rule === 'header-timeout' && entry.status === 408);
  });

  it('stops at start on a bad entry, naming it', async () => {
    const { code, stderr } = await runBin([], { EGRESS: '1', EGRESS_ALLOW: 'registry.npmjs.org *.com' });
    expect(code).toBe(2);
    expect(stderr).toContain('EGRESS_ALLOW: "*.com" is too broad');
  });

  describe('with a cap of two connections', () => {
    let capped: RunningEgress;
    let listen: string;
    beforeAll(async () => {
      listen = `tcp://127.0.0.1:${await freePort()}`;
      capped = await startEgress({
        EGRESS_LISTEN: listen,
        EGRESS_ALLOW: `localhost:${tlsPort}`,
        EGRESS_ALLOW_PRIVATE: 'localhost',
        EGRESS_MAX_CONNECTIONS: '2',
      });
    });
    afterAll(() => capped?.stop());

    it('answers 503 over the cap, and serves again once a connection closed', async () => {
      const first = await connectThrough(capped.port, `localhost:${tlsPort}`);
      const second = await connectThrough(capped.port, `localhost:${tlsPort}`);
      expect([first.status, second.status]).toEqual([200, 200]);
      const third = await rawTcp(capped.port, `CONNECT localhost:${tlsPort} HTTP/1.1\r\nHost: x\r\n\r\n`);
      expect(statusOf(third)).toBe(503);
      expect(third).toContain('the egress proxy has 2 client connections open (EGRESS_MAX_CONNECTIONS)');
      await capped.waitForLine((entry) => entry.rule === 'connection-limit' && entry.status === 503);
      first.socket.destroy();
      await sleep(200);
      const again = await connectThrough(capped.port, `localhost:${tlsPort}`);
      expect(again.status).toBe(200);
      again.socket.destroy();
      second.socket.destroy();
    });

    it('--check exits 0 while the proxy answers on EGRESS_LISTEN, 1 once it is gone', async () => {
      expect((await runBin(['--check'], { EGRESS: '1', EGRESS_LISTEN: listen })).code).toBe(0);
      await capped.stop();
      expect((await runBin(['--check'], { EGRESS: '1', EGRESS_LISTEN: listen })).code).toBe(1);
    });
  });
});
