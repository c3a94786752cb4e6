/**
 * Plain HTTP (absolute-form): the upstream request is rebuilt from parsed parts (method, path,
 * filtered headers, one body framing) on a fresh connection to the resolved address. No client
 * byte reaches the upstream unparsed, so nothing can be smuggled behind the request.
 */
import * as http from 'node:http';
import { EgressContext, startAccess } from './access';
import { hostText, matchHost } from './allowlist';
import { refusalBody, refusalHeaders } from './answer';
import { bodyFraming, forwardedHeaders, isRefusal, parseAbsoluteTarget, Refusal } from './request';

/** A refused request's body is read and dropped up to this size (so the client sees the answer), then cut. */
const MAX_DISCARDED_BODY = 16 * 1024 * 1024;

export async function handleHttp(context: EgressContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const { config } = context;
  const access = startAccess(context.log, req.method);
  const { entry } = access;
  let refused = false;
  // 499 (nginx's "client closed request"): the client left before any answer was sent.
  res.once('close', () => access.finish(res.headersSent || refused ? res.statusCode : 499, res.writableFinished ? undefined : 'closed before the end'));

  /** Answers a refusal after the request body (if any) has been read; `rule` stays the allow rule for upstream failures. */
  const refuse = (refusal: Refusal, keepRule = false) => {
    if (refused) return;
    if (!keepRule) entry.rule = refusal.rule;
    if (res.headersSent) return void res.destroy();
    refused = true;
    res.statusCode = refusal.status;
    const answer = () => {
      res.writeHead(refusal.status, refusalHeaders(refusal));
      res.end(req.method === 'HEAD' ? undefined : refusalBody(refusal));
    };
    if (req.complete) return answer();
    let discarded = 0;
    req.on('data', (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > MAX_DISCARDED_BODY) res.destroy();
    });
    req.on('end', answer);
  };

  if (req.headers.host === undefined && req.httpVersion === '1.1') {
    return refuse({ status: 400, rule: 'malformed-request', message: 'an HTTP/1.1 request has a Host header (RFC 9112 §3.2).' });
  }
  const target = parseAbsoluteTarget(req.url ?? '');
  if (isRefusal(target)) return refuse(target);
  entry.host = hostText(target.host);
  entry.port = target.port;
  const framing = bodyFraming(req.headers);
  if (isRefusal(framing)) return refuse(framing);
  const decision = matchHost(config.allowlist, target.host, target.port);
  if (!decision.allowed) return refuse({ status: 403, rule: decision.rule, message: decision.message });
  entry.rule = decision.rule;
  const dialed = await context.dial(target, decision.privateAllowed, 'http');
  if (isRefusal(dialed)) return refuse(dialed);
  entry.address = dialed.address;
  if (dialed.via) entry.via = dialed.via;
  if (res.destroyed) return void dialed.socket.destroy();
  entry.decision = 'allow';
  dialed.socket.setTimeout(config.idleTimeoutMs, () => dialed.socket.destroy(Object.assign(new Error('idle timeout'), { code: 'idle-timeout' })));

  const upstream = http.request({
    createConnection: () => dialed.socket,
    method: req.method,
    // Through the company's proxy: absolute-form, with its credentials (never the client's Proxy-* headers).
    path: dialed.via ? `http://${target.authority}${target.path}` : target.path,
    setHost: false,
    // One request per upstream connection: each request is decided and resolved on its own.
    headers: [
      'Host',
      target.authority,
      ...forwardedHeaders(req.rawHeaders),
      ...framing.header,
      ...(dialed.via && config.upstream?.authorization ? ['Proxy-Authorization', config.upstream.authorization] : []),
      'Connection',
      'close',
    ],
  });
  upstream.on('response', (answer) => {
    try {
      res.writeHead(answer.statusCode ?? 502, forwardedHeaders(answer.rawHeaders));
    } catch (error) {
      // A header Node's parser read but will not write: refused here rather than crashing the proxy.
      return void upstream.destroy(Object.assign(new Error('unwritable response header'), { code: (error as NodeJS.ErrnoException).code }));
    }
    answer.on('data', (chunk: Buffer) => (entry.down += chunk.length));
    answer.on('error', () => res.destroy());
    answer.pipe(res);
  });
  upstream.on('error', (error: NodeJS.ErrnoException) => {
    entry.error = error.code ?? error.message;
    req.unpipe(upstream);
    refuse({ status: 502, rule: 'upstream-failed', message: `${entry.host}:${target.port} failed (${entry.error}).` }, true);
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.on('data', (chunk: Buffer) => (entry.up += chunk.length));
  req.pipe(upstream);
}
