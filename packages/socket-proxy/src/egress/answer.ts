/**
 * The egress proxy's own answers. A refusal says why in a plain-text body (curl and npm show
 * it) and in a Proxy-Status header (RFC 9209; `curl -v` and git's trace show it even for a
 * refused CONNECT, whose body most clients drop).
 */
import { STATUS_CODES } from 'node:http';
import type { Refusal } from './request';

/** RFC 9209 error types, by rule; by status otherwise. */
const PROXY_STATUS_ERROR: Record<string, string> = {
  'private-address': 'destination_ip_prohibited',
  'resolve-failed': 'dns_error',
  'resolve-timeout': 'dns_timeout',
  'connect-failed': 'destination_unavailable',
  'connect-timeout': 'connection_timeout',
  'connection-limit': 'connection_limit_reached',
  'upstream-failed': 'http_protocol_error',
};

function proxyStatus(refusal: Refusal): string {
  const error = PROXY_STATUS_ERROR[refusal.rule] ?? (refusal.status === 403 ? 'http_request_denied' : 'http_request_error');
  // An sf-string: printable ASCII, with " and \ escaped.
  const details = refusal.message.replace(/[^\x20-\x7e]/g, '?').replace(/["\\]/g, (c) => `\\${c}`);
  return `devsec-egress; error=${error}; details="${details}"`;
}

export const refusalBody = (refusal: Refusal) => `devsec egress proxy: ${refusal.message}\n`;

/** Headers of a refusal; the connection closes after it, so nothing behind it is read. */
export function refusalHeaders(refusal: Refusal): Record<string, string | number> {
  return {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(refusalBody(refusal)),
    'Proxy-Status': proxyStatus(refusal),
    Connection: 'close',
  };
}

/** A whole HTTP/1.1 refusal, for sockets no ServerResponse owns (CONNECT, parse errors, the cap). */
export function rawRefusal(refusal: Refusal): string {
  const head = Object.entries(refusalHeaders(refusal))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status] ?? 'Error'}\r\n${head}\r\n${refusalBody(refusal)}`;
}

export const TUNNEL_ESTABLISHED = 'HTTP/1.1 200 Connection Established\r\n\r\n';
