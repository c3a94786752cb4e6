/**
 * What the egress proxy accepts from a client, parsed strictly: CONNECT's authority-form and
 * plain HTTP's absolute-form, and the headers an upstream request is rebuilt from. Anything
 * ambiguous is refused, never repaired.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Host, hostText, parseHost } from './allowlist';

export interface Target {
  host: Host;
  port: number;
}

export interface HttpTarget extends Target {
  /** Origin-form for the upstream request line: path and query, "/" at least. */
  path: string;
  /** The Host header upstream: host, and the port unless it is 80. */
  authority: string;
}

export interface Refusal {
  status: number;
  rule: string;
  message: string;
}

const refuse = (status: number, rule: string, message: string): Refusal => ({ status, rule, message });

/** `host:port` or `[v6]:port`, the port required (RFC 9110 §9.3.6). */
export function parseConnectTarget(url: string): Target | Refusal {
  if (url.includes('@')) return refuse(400, 'userinfo', 'CONNECT targets carry no user name or password: send CONNECT host:port.');
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]/]+):([0-9]{1,5})$/.exec(url);
  const host = match ? parseHost(match[1]) : undefined;
  const port = match ? Number(match[2]) : 0;
  if (!match || !host || port < 1 || port > 65535) {
    return refuse(400, 'malformed-target', 'a CONNECT target is host:port with a DNS name or an IP address, e.g. CONNECT registry.npmjs.org:443.');
  }
  return { host, port };
}

/**
 * `http://host[:port][/path][?query]` (absolute-form, RFC 9112 §3.2.2). No userinfo, no
 * fragment, no other scheme: `https://` goes through CONNECT, since this proxy never terminates
 * TLS.
 */
export function parseAbsoluteTarget(url: string): HttpTarget | Refusal {
  if (url.startsWith('/') || url === '*') {
    return refuse(
      400,
      'origin-form',
      'this is the sandbox egress proxy: send absolute-form requests (GET http://host/path) or CONNECT host:port, e.g. by setting HTTP_PROXY and HTTPS_PROXY.',
    );
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (!scheme) return refuse(400, 'malformed-target', 'the request target is not an absolute http:// URL.');
  if (scheme[1].toLowerCase() !== 'http') {
    return refuse(
      400,
      'scheme',
      `${scheme[1].toLowerCase()}:// is not proxied as a plain request; https goes through CONNECT (set HTTPS_PROXY), and no other scheme is proxied.`,
    );
  }
  const rest = url.slice(scheme[0].length);
  const authorityEnd = rest.search(/[/?#]/);
  const authority = authorityEnd < 0 ? rest : rest.slice(0, authorityEnd);
  let path = authorityEnd < 0 ? '' : rest.slice(authorityEnd);
  if (authority.includes('@'))
    return refuse(400, 'userinfo', 'URLs with a user name or password (http://user@host/) are refused: credentials do not belong in a URL.');
  if (path.includes('#')) return refuse(400, 'malformed-target', 'a request target carries no #fragment.');
  if (!/^[\x21-\x7e]*$/.test(path)) return refuse(400, 'malformed-target', 'the request target has bytes that are not printable ASCII.');
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]+)(?::([0-9]{1,5}))?$/.exec(authority);
  const host = match ? parseHost(match[1]) : undefined;
  const port = match && match[2] !== undefined ? Number(match[2]) : 80;
  if (!match || !host || port < 1 || port > 65535) return refuse(400, 'malformed-target', 'the URL has no valid host (a DNS name or an IP address) and port.');
  if (path === '' || path.startsWith('?')) path = `/${path}`;
  return { host, port, path, authority: port === 80 ? hostText(host) : `${hostText(host)}:${port}` };
}

export const isRefusal = (value: object): value is Refusal => 'rule' in value;

/** Hop-by-hop headers (RFC 9110 §7.6.1) and what this proxy answers itself. */
const NOT_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The request's own Host is replaced by the URL's authority (RFC 9112 §3.2.2).
  'host',
  // 100 Continue was answered by this proxy already.
  'expect',
  // Tells a server this request crossed a proxy, with nothing it needs.
  'via',
]);

/**
 * The headers of a message as it is forwarded: raw order and case kept, hop-by-hop headers,
 * those named in Connection, and every Proxy-* header (credentials for this proxy) dropped.
 */
export function forwardedHeaders(rawHeaders: readonly string[]): string[] {
  const named = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i].toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1].split(',')) named.add(token.trim().toLowerCase());
  }
  const kept: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    if (NOT_FORWARDED.has(name) || named.has(name) || name.startsWith('proxy-')) continue;
    kept.push(rawHeaders[i], rawHeaders[i + 1]);
  }
  return kept;
}

/**
 * How a request body is framed upstream, or why it is refused. Node's strict parser already
 * refuses Content-Length with Transfer-Encoding and conflicting lengths; this is the second
 * lock, and it refuses codings other than plain chunked (which would reach the server without
 * their framing).
 */
export function bodyFraming(headers: IncomingHttpHeaders): { header: [string, string] | [] } | Refusal {
  const te = headers['transfer-encoding'];
  const cl = headers['content-length'];
  if (te !== undefined && cl !== undefined) return refuse(400, 'smuggling', 'Transfer-Encoding together with Content-Length is refused (request smuggling).');
  if (te !== undefined) {
    if (te.trim().toLowerCase() !== 'chunked') return refuse(400, 'smuggling', `Transfer-Encoding: ${te} is refused; only chunked is proxied.`);
    return { header: ['Transfer-Encoding', 'chunked'] };
  }
  if (cl !== undefined && !/^[0-9]+$/.test(cl)) return refuse(400, 'smuggling', 'Content-Length is not one decimal number.');
  // Content-Length, when there is one, is among the forwarded headers.
  return { header: [] };
}
