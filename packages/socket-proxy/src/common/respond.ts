/** Writing answers to the client: JSON, relayed engine answers, and refusals on a bare socket. */
import * as http from 'node:http';

/** An engine answer read whole. */
export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Headers that belong to one hop and are never copied. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function endToEndHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const result: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) result[name] = value;
  }
  return result;
}

/** A JSON answer, keeping the engine's end-to-end headers (Api-Version, Docker-*) when given. */
export function sendJson(res: http.ServerResponse, status: number, value: unknown, upstreamHeaders: http.IncomingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  const headers = endToEndHeaders(upstreamHeaders);
  delete headers['content-length'];
  delete headers['content-type'];
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function sendAnswer(res: http.ServerResponse, answer: Answer): void {
  const headers = endToEndHeaders(answer.headers);
  headers['content-length'] = answer.body.length;
  res.writeHead(answer.status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : answer.body);
}

/** A whole HTTP/1.1 refusal, for sockets that no ServerResponse owns (upgrade, CONNECT, parse errors). */
export function rawResponse(status: number, message: string): string {
  const body = JSON.stringify({ message });
  const reason = http.STATUS_CODES[status] ?? 'Error';
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` + `Connection: close\r\n\r\n${body}`
  );
}
