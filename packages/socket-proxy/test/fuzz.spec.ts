/**
 * Seeded mutation fuzz: 10,000 requests derived from allowed and refused examples, in every
 * API version and with header variants, sent raw to the real proxy binary in front of a
 * recording stand-in for dockerd. The proxy must never crash, nothing its policy refuses may
 * reach the upstream, and what does reach it carries the client's API version and no header of
 * the client's but a User-Agent.
 */
import { decide } from '../src/docker/policy';
import { startFakeUpstream } from './fake-upstream';
import { RunningProxy, stackProxyEnv, startProxy } from './proxy-process';
import { rawExchange } from './raw-http';

jest.setTimeout(300_000);

const TOTAL = 10_000;
const CONCURRENCY = 32;
const SWITCHES = { PING: true, VERSION: true, EVENTS: true, CONTAINERS: true, IMAGES: true, INFO: true, NETWORKS: true, VOLUMES: true };

/** mulberry32: small, seeded, reproducible. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [
  '/_ping',
  '/version',
  '/info',
  '/events?since=0&until=1',
  '/containers/json?all=1',
  '/containers/abc/json',
  '/containers/abc/logs?stdout=1',
  '/images/json',
  '/images/node:24/json',
  '/networks',
  '/networks/dev',
  '/volumes',
  '/volumes/v',
  '/containers/abc/archive?path=/etc',
  '/containers/abc/export',
  '/containers/abc/attach/ws',
  '/images/get?names=x',
  '/containers/create',
  '/containers/abc/exec',
  '/build',
  '/exec/abc/start',
  '/containers/abc/top',
  '/plugins/p/json',
];
/** Every version the engine accepts (1.12–1.41), and prefixes around and beside them. */
const VERSIONS = [
  ...Array.from({ length: 30 }, (_, i) => `/v1.${12 + i}`),
  ...[
    '/v1.11',
    '/v1.42',
    '/v1.024',
    '/v01.41',
    '/v1.4',
    '/v2.0',
    '/v0.0',
    '/v99.999',
    '/v1.41.1',
    '/v1',
    '/V1.41',
    '/v1.41/v1.24',
    '/v1.-1',
    '/v1.1e1',
    '/v1.41%2F',
  ],
];
/** Header lines, and whether they declare a body or ask for an upgrade (then nothing may reach the engine). */
const HEADER_VARIANTS: Array<[string[], boolean]> = [
  [['Accept: */*'], false],
  [['Accept-Encoding: gzip, deflate'], false],
  [['X-Registry-Auth: eyJ1c2VybmFtZSI6InN0b2xlbiJ9'], false],
  [['Authorization: Bearer stolen-token'], false],
  [['Cookie: session=stolen'], false],
  [['X-Forwarded-For: 10.0.0.1', 'Forwarded: for=10.0.0.1'], false],
  [['Via: 1.1 evil'], false],
  [['Content-Type: application/json'], false],
  [['Content-Length: 0'], false],
  [['Expect: 100-continue'], false],
  [['Connection: keep-alive'], false],
  [['TE: trailers'], false],
  [['Trailer: X-Late'], false],
  [['Host: evil.example'], false],
  [['Host: docker', 'Host: evil.example'], false],
  [[`X-Long: ${'a'.repeat(8000)}`], false],
  [['X-Nul: a\u0000b'], false],
  [['X-Fold: a', ' folded'], false],
  [['Transfer-Encoding: identity'], true],
  [['Transfer-Encoding: chunked, identity'], true],
  [['Transfer-Encoding : chunked'], true],
  [[' Transfer-Encoding: chunked'], true],
  [['Content-Length: +0'], true],
  [['Content-Length: 00'], true],
  [['Content-Length: 0x0'], true],
  [['Content-Length: -1'], true],
  [['content-length: 5'], true],
  [['CONTENT-LENGTH: 1'], true],
  [['Upgrade:'], true],
  [['Connection: close, Upgrade'], true],
];
/** The only headers the proxy sends the engine: its own Host, the client's printable User-Agent, the agent's Connection. */
const UPSTREAM_HEADERS = new Set(['host', 'user-agent', 'connection']);
const METHODS = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'get', 'PRI'];
const WORDS = ['archive', 'export', 'attach', 'ws', 'get', 'exec', 'json', 'logs', 'create', '..', '.', '', 'v1.41', 'containers', 'JSON'];

interface FuzzCase {
  method: string;
  target: string;
  headers: string[];
  body: string;
  /** The body is declared by Content-Length or Transfer-Encoding (not a pipelined request). */
  declaresBody: boolean;
}

function mutate(next: () => number, seedIndex: number): FuzzCase {
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)];
  const c: FuzzCase = {
    method: next() < 0.7 ? 'GET' : pick(METHODS),
    target: (next() < 0.5 ? '' : next() < 0.5 ? '/v1.41' : pick(VERSIONS)) + SEEDS[seedIndex % SEEDS.length],
    headers: [],
    body: '',
    declaresBody: false,
  };
  // A quarter go unmutated (bar method and prefix), so allowed traffic is well represented.
  const rounds = next() < 0.25 ? 0 : 1 + Math.floor(next() * 3);
  for (let round = 0; round < rounds; round++) {
    const at = Math.floor(next() * c.target.length);
    switch (Math.floor(next() * 13)) {
      case 0: // percent-encode one character
        c.target = c.target.slice(0, at) + '%' + c.target.charCodeAt(at).toString(16).padStart(2, '0') + c.target.slice(at + 1);
        break;
      case 1: // dot segments, empty segments
        c.target = c.target.slice(0, at) + pick(['/./', '/../', '//', '/.', '/x/..']) + c.target.slice(at);
        break;
      case 2: // flip case
        c.target = c.target.slice(0, at) + (c.target[at] ?? '').toUpperCase() + c.target.slice(at + 1);
        break;
      case 3: // version prefixes
        c.target = pick([...VERSIONS, '/v1.41/v1.41', '/v1.41.0']) + c.target.replace(/^\/[vV][0-9.]+(?=\/)/, '');
        break;
      case 4: // query noise
        c.target +=
          (c.target.includes('?') ? '&' : '?') +
          pick(['a=/containers/json', 'filters=%7B%22label%22%3A%5B%22x%22%5D%7D', 'filters=[', 'x=%zz', 'all=1&all=0', 'p=%00', '#frag']);
        break;
      case 5: // swap a segment for a dangerous word
        {
          const parts = c.target.split('/');
          parts[1 + Math.floor(next() * Math.max(1, parts.length - 1))] = pick(WORDS);
          c.target = parts.join('/');
        }
        break;
      case 6: // raw odd bytes
        c.target = c.target.slice(0, at) + pick(['\\', '\t', ' ', '\u0000', '\u00e9', ';', '@', '*']) + c.target.slice(at);
        break;
      case 7: // absolute and asterisk forms
        c.target = pick([`http://docker${c.target}`, '*', c.target.slice(1)]);
        break;
      case 8: // upgrades
        c.headers.push(
          ...pick([
            ['Upgrade: websocket', 'Connection: Upgrade'],
            ['Upgrade: tcp'],
            ['Connection: keep-alive, Upgrade'],
            ['Upgrade: h2c', 'Connection: Upgrade'],
          ]),
        );
        break;
      case 9: // bodies that smuggle a request
        {
          const smuggled = `POST /containers/create HTTP/1.1\r\nHost: x\r\nUser-Agent: smuggled\r\nContent-Length: 0\r\n\r\n`;
          const variant = pick(['cl', 'te', 'both', 'dup']);
          if (variant === 'cl') c.headers.push(`Content-Length: ${smuggled.length}`);
          if (variant === 'te') c.headers.push('Transfer-Encoding: chunked');
          if (variant === 'both') c.headers.push('Transfer-Encoding: chunked', `Content-Length: ${smuggled.length}`);
          if (variant === 'dup') c.headers.push('Content-Length: 0', `Content-Length: ${smuggled.length}`);
          c.declaresBody = true;
          c.body = variant === 'te' ? `${smuggled.length.toString(16)}\r\n${smuggled}\r\n0\r\n\r\n` : smuggled;
        }
        break;
      case 10: // pipelined request behind this one
        c.body += `GET /containers/abc/archive?path=/ HTTP/1.1\r\nHost: x\r\nUser-Agent: smuggled\r\n\r\n`;
        break;
      case 11: // header variants
        {
          const [lines, declares] = pick(HEADER_VARIANTS);
          c.headers.push(...lines);
          c.declaresBody = c.declaresBody || declares;
        }
        break;
      default: // method change
        c.method = pick(METHODS);
    }
  }
  return c;
}

describe('mutation fuzz against the proxy binary', () => {
  const scope = { 'org.devsec.scope': 'fuzz' };
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let proxy: RunningProxy;

  beforeAll(async () => {
    upstream = await startFakeUpstream(scope);
    proxy = await startProxy(stackProxyEnv('com.docker.compose.project=fuzz,org.devsec.scope=fuzz', { LOG_LEVEL: 'error' }, upstream.socketPath));
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  it(`never crashes and never forwards what the policy refuses (${TOTAL} requests, seed 20261128)`, async () => {
    const next = random(20261128);
    const cases = Array.from({ length: TOTAL }, (_, i) => mutate(next, i));
    let index = 0;
    const worker = async () => {
      while (index < cases.length) {
        const i = index++;
        const c = cases[i];
        const raw = `${c.method} ${c.target} HTTP/1.1\r\nHost: docker\r\nUser-Agent: fuzz-${i}\r\n${c.headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n${c.body}`;
        await rawExchange(proxy.socketPath, raw, 2000);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));

    expect(proxy.child.exitCode).toBeNull();
    const refusedReached: string[] = [];
    let allowedCount = 0;
    const versionsReached = new Set<string | undefined>();
    const variantsReached = new Set<string>();
    for (const request of upstream.received) {
      const match = /^fuzz-(\d+)$/.exec(request.userAgent ?? '');
      if (!match) {
        refusedReached.push(`unlabelled ${request.method} ${request.url} (${request.userAgent})`);
        continue;
      }
      const c = cases[Number(match[1])];
      // llhttp skips extra spaces between the method and the target; judge what it parsed.
      const decision = decide({ method: c.method, target: c.target.replace(/^ +/, ''), headers: {} }, SWITCHES);
      const hasBodyOrUpgrade = c.declaresBody || c.headers.some((h) => /upgrade/i.test(h));
      if (!decision.allowed || hasBodyOrUpgrade) refusedReached.push(`${c.method} ${JSON.stringify(c.target)} ${c.headers.join('|')}`);
      // What reached the engine is itself canonical and allowed.
      if (!decide({ method: request.method, target: request.url, headers: request.headers }, SWITCHES).allowed)
        refusedReached.push(`non-canonical upstream ${request.url}`);
      if (request.headers['content-length'] || request.headers['transfer-encoding'] || request.headers.upgrade)
        refusedReached.push(`body/upgrade upstream ${request.url}`);
      // Nothing of the client's but its User-Agent, and its own API version.
      const foreign = Object.keys(request.headers).filter((name) => !UPSTREAM_HEADERS.has(name));
      if (foreign.length > 0 || request.headers.host !== 'docker')
        refusedReached.push(`client headers upstream ${request.url}: ${foreign.join(',')} host=${request.headers.host}`);
      const upstreamVersion = /^\/(v[0-9]+\.[0-9]+)\//.exec(request.url)?.[1];
      if (decision.allowed && upstreamVersion !== decision.version) refusedReached.push(`version changed upstream: ${c.target} → ${request.url}`);
      allowedCount++;
      versionsReached.add(upstreamVersion);
      for (const line of c.headers) variantsReached.add(line.split(':')[0]);
    }
    expect(refusedReached).toEqual([]);
    // The corpus is not all refusals: a fair share of allowed requests did reach the upstream.
    expect(allowedCount).toBeGreaterThan(TOTAL / 20);
    // … in most API versions, and with most of the harmless header variants.
    expect(versionsReached.size).toBeGreaterThan(25);
    expect(variantsReached.size).toBeGreaterThan(10);
    const stillServing = await rawExchange(proxy.socketPath, 'GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n');
    expect(stillServing).toMatch(/^HTTP\/1\.1 200/);
  });
});
