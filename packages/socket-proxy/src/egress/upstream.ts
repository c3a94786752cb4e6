/**
 * The company's own HTTP proxy, when the sandbox's traffic must leave through it
 * (EGRESS_UPSTREAM_PROXY, with EGRESS_NO_PROXY for what goes direct). The egress proxy decides
 * first, as always: only what its list lets through is sent on, by CONNECT chaining for
 * tunnels and absolute-form for plain HTTP. The upstream's credentials (the URL's user and
 * password) are sent to the upstream only, as Proxy-Authorization; they never reach the dev
 * container, and the log shows the URL without them.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import { canonicalAddress, addressBytes } from './address';
import { EgressConfigError, Host, parseHost } from './allowlist';

export interface UpstreamProxy {
  /** The proxy's host (a name or an address): reached as it is, whatever its address. */
  host: Host;
  port: number;
  /** `Basic …` from the URL's user and password, or undefined. */
  authorization?: string;
  /** The URL without credentials, for the log and messages. */
  shown: string;
  noProxy: readonly NoProxyEntry[];
}

/** One EGRESS_NO_PROXY entry: a name (and its subdomains), an address or CIDR, with an optional port; or `*`. */
export type NoProxyEntry = { kind: 'all' } | { kind: 'name'; suffix: string; port?: number } | { kind: 'cidr'; bytes: number[]; bits: number; port?: number };

/**
 * `http://[user:password@]host[:port]`: the URL's own parser. No path, no other scheme (TLS to
 * the proxy itself is not spoken); the port defaults to 80, as curl's does for http://.
 */
export function parseUpstreamProxy(raw: string, noProxy: string): UpstreamProxy {
  const problem = (why: string) => new EgressConfigError(`EGRESS_UPSTREAM_PROXY: ${why}`);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw problem('is not a URL; give http://[user:password@]host:port.');
  }
  if (url.protocol !== 'http:') throw problem(`${url.protocol}// is not supported; give the proxy as http://host:port (the tunnels inside stay TLS).`);
  if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw problem('a proxy URL has no path, query or fragment.');
  const host = parseHost(url.hostname);
  if (!host) throw problem(`"${url.hostname}" is not a host name or IP address.`);
  const port = url.port === '' ? 80 : Number(url.port);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  const authorization = user || password ? `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` : undefined;
  return { host, port, authorization, shown: `http://${url.host}`, noProxy: parseNoProxy(noProxy) };
}

/** NO_PROXY as curl reads it: commas or spaces; `.example.com`, `example.com`, `*.example.com` all mean the domain and below. */
export function parseNoProxy(text: string): NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const raw of text.split(/[\s,]+/).filter(Boolean)) {
    if (raw === '*') {
      entries.push({ kind: 'all' });
      continue;
    }
    // An IPv6 address without brackets (::1, fd00::/8) has no port.
    const bareV6 = /^([0-9a-f]*:[0-9a-f:.]*)(\/[0-9]{1,3})?$/.exec(raw.toLowerCase());
    const match: (string | undefined)[] | null = bareV6
      ? [raw, bareV6[1], bareV6[2], undefined]
      : /^(\[[^\]]+\]|[^:/]+)(\/[0-9]{1,3})?(?::([0-9]{1,5}))?$/.exec(raw.toLowerCase());
    if (!match) throw new EgressConfigError(`EGRESS_NO_PROXY: "${raw}" is not a host, domain, address or CIDR (with an optional :port).`);
    const port = match[3] === undefined ? undefined : Number(match[3]);
    const bare = (match[1] as string).replace(/^\[|\]$/g, '');
    const address = canonicalAddress(bare);
    if (address) {
      const bytes = addressBytes(address) as number[];
      const bits = match[2] ? Number(match[2].slice(1)) : bytes.length * 8;
      if (bits > bytes.length * 8) throw new EgressConfigError(`EGRESS_NO_PROXY: "${raw}" has a prefix longer than the address.`);
      entries.push({ kind: 'cidr', bytes, bits, port });
      continue;
    }
    if (match[2]) throw new EgressConfigError(`EGRESS_NO_PROXY: "${raw}" has a /prefix but no address before it.`);
    const suffix = bare.replace(/^\*?\./, '');
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(suffix)) throw new EgressConfigError(`EGRESS_NO_PROXY: "${raw}" is not a host or domain name.`);
    entries.push({ kind: 'name', suffix, port });
  }
  return entries;
}

function inCidr(bytes: number[], entry: { bytes: number[]; bits: number }): boolean {
  if (bytes.length !== entry.bytes.length) return false;
  for (let bit = 0; bit < entry.bits; bit += 8) {
    const take = Math.min(8, entry.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((bytes[bit / 8] & mask) !== (entry.bytes[bit / 8] & mask)) return false;
  }
  return true;
}

/** Whether host:port goes direct (EGRESS_NO_PROXY names it) rather than through the upstream. */
export function bypassesUpstream(upstream: Pick<UpstreamProxy, 'noProxy'>, host: Host, port: number): boolean {
  return upstream.noProxy.some((entry) => {
    if (entry.kind === 'all') return true;
    if (entry.port !== undefined && entry.port !== port) return false;
    if (entry.kind === 'name') return host.kind === 'name' && (host.name === entry.suffix || host.name.endsWith(`.${entry.suffix}`));
    return host.kind === 'ip' && inCidr(addressBytes(host.address) as number[], entry);
  });
}

export class UpstreamRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Asks the upstream, on `socket` (connected to it), for a tunnel to `authority`, with Node's
 * HTTP parser reading its answer. Resolves with the tunnel (any bytes read past the answer are
 * put back), or rejects: UpstreamRefused for a non-2xx answer, the socket's error otherwise.
 */
export function connectThrough(socket: net.Socket, upstream: UpstreamProxy, authority: string, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Host: authority };
    if (upstream.authorization) headers['Proxy-Authorization'] = upstream.authorization;
    const request = http.request({ createConnection: () => socket, method: 'CONNECT', path: authority, headers, setHost: false });
    const timer = setTimeout(
      () => request.destroy(Object.assign(new Error(`the upstream proxy did not answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    request.once('connect', (answer: http.IncomingMessage, tunnel: net.Socket, head: Buffer) => {
      clearTimeout(timer);
      const status = answer.statusCode ?? 0;
      if (status < 200 || status > 299) {
        tunnel.destroy();
        return reject(new UpstreamRefused(status, `the upstream proxy ${upstream.shown} answered ${status} to CONNECT ${authority}.`));
      }
      if (head.length > 0) tunnel.unshift(head);
      tunnel.on('error', () => undefined);
      resolve(tunnel);
    });
    request.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    request.end();
  });
}
