/**
 * The proxy binary's limits, with small values, in front of a stand-in for dockerd that holds
 * its event streams open: caps answered with a 503 that names them, slow requests cut, idle
 * keep-alive connections closed, and streams left open as long as the client reads.
 */
import { get, IncomingMessage } from 'node:http';
import { startFakeUpstream } from './fake-upstream';
import { RunningProxy, startProxy } from './proxy-process';
import { openRaw, RawConnection, sleep, trickle, until } from './raw-client';

jest.setTimeout(60_000);

const request = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: docker\r\n${extra}\r\n`;
const bodyOf = (connection: RawConnection) => JSON.parse(connection.received().split('\r\n\r\n')[1]);

describe('limits of the proxy binary', () => {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let proxy: RunningProxy;
  const late = { write: () => undefined as void };

  beforeAll(async () => {
    const streams = new Set<import('node:http').ServerResponse>();
    late.write = () =>
      streams.forEach((res) =>
        res.write(`${JSON.stringify({ Type: 'container', Action: 'late', Actor: { ID: '1', Attributes: { 'org.devsec.scope': 'limits' } } })}\n`),
      );
    upstream = await startFakeUpstream({ 'org.devsec.scope': 'limits' }, (req, res) => {
      if (!(req.url ?? '').startsWith('/events')) return false;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      streams.add(res);
      res.on('close', () => streams.delete(res));
      return true;
    });
    proxy = await startProxy({
      SOCKET_PATH: upstream.socketPath,
      CONTAINERS: '1',
      SCOPE_LABEL: 'org.devsec.scope=limits',
      LOG_LEVEL: 'warn',
      MAX_CONNECTIONS: '4',
      MAX_STREAMS: '2',
      HEADERS_TIMEOUT: '1',
      BODY_TIMEOUT: '1',
      IDLE_TIMEOUT: '1',
    });
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  const openEvents = () =>
    new Promise<IncomingMessage>((resolve, reject) => get({ socketPath: proxy.socketPath, path: '/events', agent: false }, resolve).on('error', reject));

  it('caps open streams with a 503 naming MAX_STREAMS, keeps them open past every timeout, and frees a slot when one closes', async () => {
    const first = await openEvents();
    const second = await openEvents();
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    let text = '';
    first.on('data', (chunk) => (text += chunk));

    const third = openRaw(proxy.socketPath, request('/events'));
    await third.closed;
    expect(third.status()).toBe(503);
    expect(bodyOf(third).message).toMatch(/2 streams \(logs -f, events\) are open, the limit \(MAX_STREAMS=2\); close one, or raise MAX_STREAMS/);
    // A short request is still served.
    const ping = openRaw(proxy.socketPath, request('/_ping', 'Connection: close\r\n'));
    await ping.closed;
    expect(ping.status()).toBe(200);

    // Three times every timeout (1 s) with nothing sent: the stream is still open, and delivers.
    await sleep(3000);
    late.write();
    await until(() => text.includes('"late"'), 2000, 'the late event');
    expect(first.socket.destroyed).toBe(false);

    second.destroy();
    await sleep(200);
    const again = await openEvents();
    expect(again.statusCode).toBe(200);
    first.destroy();
    again.destroy();
    expect(proxy.output()).toMatch(/"rule":"max-streams","status":503/);
  });

  it('answers a connection over MAX_CONNECTIONS with a 503 naming the limit, at once, and serves again once one closes', async () => {
    await sleep(200);
    const held = [0, 1, 2, 3].map(() => openRaw(proxy.socketPath, request('/_ping')));
    await until(() => held.every((connection) => connection.status() === 200), 2000, 'four answered pings');
    const over = openRaw(proxy.socketPath, request('/_ping'));
    const closedAfter = await over.closed;
    expect(over.status()).toBe(503);
    expect(bodyOf(over).message).toBe('devsec proxy: 4 connections are open, the limit (MAX_CONNECTIONS=4); close some, or raise MAX_CONNECTIONS.');
    expect(closedAfter).toBeLessThan(500);
    held[0].socket.destroy();
    await held[0].closed;
    // The proxy sees the close a moment after the client does.
    await sleep(200);
    const next = openRaw(proxy.socketPath, request('/_ping', 'Connection: close\r\n'));
    await next.closed;
    expect(next.status()).toBe(200);
    // The others were idle keep-alive connections: IDLE_TIMEOUT closed them.
    for (const connection of held.slice(1)) expect(await connection.closed).toBeLessThan(3500);
    expect(proxy.output()).toMatch(/"rule":"max-connections","status":503/);
  });

  it('closes an idle keep-alive connection after IDLE_TIMEOUT', async () => {
    const idle = openRaw(proxy.socketPath, request('/_ping'));
    await until(() => idle.status() === 200, 2000, 'the ping');
    const closedAfter = await idle.closed;
    expect(closedAfter).toBeGreaterThanOrEqual(900);
    expect(closedAfter).toBeLessThan(3500);
  });

  it('cuts a client that sends its headers slowly, or nothing at all, after HEADERS_TIMEOUT with a 408', async () => {
    const slow = openRaw(proxy.socketPath, 'GET /_ping HTTP/1.1\r\nHo');
    trickle(slow, 'st: docker\r\nX-Slow: yes\r\n\r\n', 200);
    const silent = openRaw(proxy.socketPath);
    for (const connection of [slow, silent]) {
      expect(await connection.closed).toBeLessThan(3500);
      expect(connection.status()).toBe(408);
      expect(bodyOf(connection).message).toBe("devsec proxy: the request's headers did not arrive within 1 s (HEADERS_TIMEOUT).");
    }
  });

  it('answers a refused request whose body trickles after BODY_TIMEOUT, and closes the connection', async () => {
    const head = 'POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{';
    const trickling = openRaw(proxy.socketPath, head);
    trickle(trickling, 'x'.repeat(1000), 200);
    expect(await trickling.closed).toBeLessThan(3500);
    expect(trickling.status()).toBe(403);
    expect(bodyOf(trickling).message).toMatch(/`docker run \/ docker create` is blocked/);
    // Nothing of it reached the engine.
    expect(upstream.received.filter((received) => received.method !== 'GET')).toEqual([]);
  });
});
