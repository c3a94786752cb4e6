/**
 * The upstream (company) proxy: the URL and NO_PROXY parsed strictly, and the egress server in
 * process chaining to a real stand-in proxy on the loopback: what the upstream sees (CONNECT by
 * name with the credentials, absolute-form for plain HTTP), and what never leaves.
 */
import * as http from 'node:http';
import * as net from 'node:net';
import { connectThrough, rawTcp, readToEnd, statusOf } from '../../test/egress-client';
import type { EgressAccessEntry } from './access';
import { loadEgressConfig } from './config';
import { systemNetwork } from './dial';
import { createEgressServer, EgressServer } from './server';
import { bypassesUpstream, parseNoProxy, parseUpstreamProxy } from './upstream';

jest.setTimeout(20_000);

const named = (name: string) => ({ kind: 'name' as const, name });

describe('parseUpstreamProxy', () => {
  it('takes the credentials out of the URL into a Basic header and shows the URL without them', () => {
    const upstream = parseUpstreamProxy('http://us%40er:p%3Ass@proxy.corp.example:8080', '');
    expect(upstream).toMatchObject({ host: named('proxy.corp.example'), port: 8080, shown: 'http://proxy.corp.example:8080' });
    expect(Buffer.from(upstream.authorization!.replace(/^Basic /, ''), 'base64').toString()).toBe('us@er:p:ss');
    expect(JSON.stringify({ ...upstream, authorization: undefined })).not.toMatch(/p:ss|p%3Ass/);
  });

  it('defaults to port 80 and takes an IP address as it is', () => {
    expect(parseUpstreamProxy('http://10.1.2.3', '')).toMatchObject({ host: { kind: 'ip', address: '10.1.2.3' }, port: 80, authorization: undefined });
  });

  it.each([
    ['https://proxy.example:443', /https:\/\/ is not supported/],
    ['socks5://proxy.example:1080', /socks5:\/\/ is not supported/],
    ['http://proxy.example:8080/path', /no path/],
    ['proxy.example:8080', /not supported|not a URL/],
    ['not a url', /not a URL/],
  ])('refuses %s', (raw, message) => {
    expect(() => parseUpstreamProxy(raw, '')).toThrow(message);
  });
});

describe('NO_PROXY', () => {
  const upstream = { noProxy: parseNoProxy('.corp.example, mirror.internal:8443 10.0.0.0/8,[fd00::1]') };
  it.each([
    ['corp.example', 443, true],
    ['git.corp.example', 443, true],
    ['evilcorp.example', 443, false],
    ['mirror.internal', 8443, true],
    ['mirror.internal', 443, false],
    ['registry.npmjs.org', 443, false],
  ])('%s:%d bypasses the upstream: %s', (name, port, bypasses) => {
    expect(bypassesUpstream(upstream, named(name), port)).toBe(bypasses);
  });
  it('matches addresses by CIDR and exact IPv6, never a name that looks like one', () => {
    expect(bypassesUpstream(upstream, { kind: 'ip', address: '10.9.8.7' }, 443)).toBe(true);
    expect(bypassesUpstream(upstream, { kind: 'ip', address: '11.0.0.1' }, 443)).toBe(false);
    expect(bypassesUpstream(upstream, { kind: 'ip', address: 'fd00::1' }, 443)).toBe(true);
    expect(bypassesUpstream({ noProxy: parseNoProxy('localhost,::1,fd00::/8') }, { kind: 'ip', address: 'fd00::7' }, 443)).toBe(true);
  });
  it('`*` sends everything direct, and a malformed entry is refused', () => {
    expect(bypassesUpstream({ noProxy: parseNoProxy('*') }, named('anything.example'), 443)).toBe(true);
    expect(() => parseNoProxy('a/b')).toThrow(/EGRESS_NO_PROXY/);
  });
});

describe('egress server through an upstream proxy', () => {
  /** What the stand-in company proxy received: method, target and Proxy-Authorization. */
  const seenByUpstream: { method: string; url: string; auth?: string }[] = [];
  const seenByOrigin: string[] = [];
  let origin: http.Server;
  let originPort: number;
  let company: http.Server;
  let companyPort: number;
  let proxy: EgressServer;
  let proxyPort: number;
  const logged: EgressAccessEntry[] = [];
  const originAddress = '127.0.0.1';

  beforeAll(async () => {
    origin = http.createServer((req, res) => {
      seenByOrigin.push(`${req.method} ${req.url} host=${req.headers.host} proxy-auth=${req.headers['proxy-authorization'] ?? '-'}`);
      res.end('from origin');
    });
    await new Promise<void>((resolve) => origin.listen(0, originAddress, resolve));
    originPort = (origin.address() as net.AddressInfo).port;
    // A company proxy: CONNECT to anything named *.example (to the origin), plain requests forwarded there too.
    company = http.createServer((req, res) => {
      seenByUpstream.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers['proxy-authorization'] });
      const forward = http.request(
        { host: originAddress, port: originPort, method: req.method, path: new URL(req.url ?? '').pathname, headers: { host: new URL(req.url ?? '').host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, { 'x-via': 'company' });
          answer.pipe(res);
        },
      );
      forward.end();
    });
    company.on('connect', (req: http.IncomingMessage, socket: net.Socket) => {
      seenByUpstream.push({ method: 'CONNECT', url: req.url ?? '', auth: req.headers['proxy-authorization'] });
      if (req.headers['proxy-authorization'] !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`) {
        return void socket.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n');
      }
      const out = net.connect(originPort, originAddress, () => {
        socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        out.pipe(socket);
        socket.pipe(out);
      });
      out.on('error', () => socket.destroy());
      socket.on('error', () => out.destroy());
    });
    await new Promise<void>((resolve) => company.listen(0, '127.0.0.1', resolve));
    companyPort = (company.address() as net.AddressInfo).port;
    const config = loadEgressConfig({
      EGRESS: '1',
      EGRESS_LISTEN: 'tcp://127.0.0.1:0',
      EGRESS_ALLOW: `listed.example:${originPort} direct.internal:${originPort} private.example:${originPort} unresolvable.example:${originPort}`,
      EGRESS_ALLOW_PRIVATE: 'direct.internal',
      // 127.0.0.1 is the upstream here: private, allowed as the way out, never as a destination.
      EGRESS_UPSTREAM_PROXY: `http://alice:s3cret@127.0.0.1:${companyPort}`,
      EGRESS_NO_PROXY: '.internal',
      EGRESS_CONNECT_TIMEOUT: '2s',
    });
    const answers: Record<string, string[]> = {
      'listed.example': ['93.184.216.34'],
      'direct.internal': ['127.0.0.1'],
      'private.example': ['10.0.0.8'],
    };
    const lookup = async (name: string) => {
      if (!(name in answers)) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return answers[name].map((address) => ({ address, family: 4 }));
    };
    proxy = createEgressServer(config, { access: (entry) => logged.push(entry as EgressAccessEntry), error: () => undefined }, { ...systemNetwork, lookup });
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve));
    proxyPort = (proxy.server.address() as net.AddressInfo).port;
  });

  afterAll(() => {
    proxy.stop();
    for (const server of [origin, company]) {
      server.closeAllConnections();
      server.close();
    }
  });

  beforeEach(() => {
    seenByUpstream.length = 0;
    seenByOrigin.length = 0;
  });

  it('chains a listed tunnel by CONNECT with the credentials, by name, and logs the upstream without them', async () => {
    const { status, head, socket } = await connectThrough(proxyPort, `listed.example:${originPort}`);
    expect(`${status} ${head}`).toMatch(/^200 /);
    socket.write(`GET /through HTTP/1.1\r\nHost: listed.example\r\nConnection: close\r\n\r\n`);
    expect(await readToEnd(socket)).toMatch(/from origin$/);
    expect(seenByUpstream).toEqual([
      { method: 'CONNECT', url: `listed.example:${originPort}`, auth: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    ]);
    for (let i = 0; i < 50 && !logged.some((entry) => entry.host === 'listed.example'); i++) await new Promise((resolve) => setTimeout(resolve, 20));
    const entry = logged.find((logged) => logged.host === 'listed.example');
    expect(entry).toMatchObject({ decision: 'allow', host: 'listed.example', via: `http://127.0.0.1:${companyPort}` });
    expect(JSON.stringify(logged)).not.toMatch(/s3cret|YWxpY2U6czNjcmV0/);
  });

  it('sends a listed plain request in absolute-form with the credentials, dropping the client’s own Proxy-Authorization', async () => {
    const raw = await rawTcp(
      proxyPort,
      `GET http://listed.example:${originPort}/plain HTTP/1.1\r\nHost: listed.example\r\nProxy-Authorization: Basic Y2xpZW50\r\nConnection: close\r\n\r\n`,
    );
    expect(statusOf(raw)).toBe(200);
    expect(raw).toMatch(/x-via: company/i);
    expect(seenByUpstream).toEqual([
      { method: 'GET', url: `http://listed.example:${originPort}/plain`, auth: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    ]);
  });

  it('refuses what is not listed before anything reaches the upstream', async () => {
    const { status, socket } = await connectThrough(proxyPort, 'unlisted.example:443');
    socket.destroy();
    expect(status).toBe(403);
    const raw = await rawTcp(proxyPort, `GET http://unlisted.example/ HTTP/1.1\r\nHost: unlisted.example\r\n\r\n`);
    expect(statusOf(raw)).toBe(403);
    expect(seenByUpstream).toEqual([]);
  });

  it('refuses a listed name that resolves to a private address here without asking the upstream', async () => {
    const { status, head, socket } = await connectThrough(proxyPort, `private.example:${originPort}`);
    socket.destroy();
    expect(status).toBe(403);
    expect(head).toMatch(/private-address|403/);
    expect(seenByUpstream).toEqual([]);
  });

  it('lets the upstream resolve a listed name that does not resolve here', async () => {
    const { status, socket } = await connectThrough(proxyPort, `unresolvable.example:${originPort}`);
    socket.destroy();
    expect(status).toBe(200);
    expect(seenByUpstream.map((seen) => seen.url)).toEqual([`unresolvable.example:${originPort}`]);
  });

  it('goes direct, to the pinned address, for what EGRESS_NO_PROXY names', async () => {
    const { status, socket } = await connectThrough(proxyPort, `direct.internal:${originPort}`);
    expect(status).toBe(200);
    socket.write(`GET /direct HTTP/1.1\r\nHost: direct.internal\r\nConnection: close\r\n\r\n`);
    expect(await readToEnd(socket)).toMatch(/from origin$/);
    expect(seenByUpstream).toEqual([]);
    expect(seenByOrigin).toEqual(['GET /direct host=direct.internal proxy-auth=-']);
  });

  it('answers 502 naming the upstream when it refuses the tunnel', async () => {
    const bad = createEgressServer(
      loadEgressConfig({
        EGRESS: '1',
        EGRESS_ALLOW: `listed.example:${originPort}`,
        EGRESS_UPSTREAM_PROXY: `http://alice:wrong@127.0.0.1:${companyPort}`,
      }),
      { access: () => undefined, error: () => undefined },
      { ...systemNetwork, lookup: async () => [{ address: '93.184.216.34', family: 4 }] },
    );
    await new Promise<void>((resolve) => bad.server.listen(0, '127.0.0.1', resolve));
    try {
      const { status, head, socket } = await connectThrough((bad.server.address() as net.AddressInfo).port, `listed.example:${originPort}`);
      const body = await readToEnd(socket);
      expect(status).toBe(502);
      expect(head + body).toMatch(/upstream proxy http:\/\/127\.0\.0\.1:\d+ answered 407/);
      expect(head + body).not.toMatch(/wrong/);
    } finally {
      bad.stop();
    }
  });
});
