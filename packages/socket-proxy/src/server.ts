import * as http from 'node:http';
import { Duplex, pipeline, Transform } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { ProxyConfig, ScopeLabel } from './config';
import { Allowance, decide } from './policy';
import { QueryParams, encodeQuery, hasScopeLabel, isEventInScope, withScopeFilter } from './scope';
import { EngineJson, filterNetworkContainers, redactInspect } from './redact';

/** How long an engine's /_ping answer is reused. */
const PING_CACHE_MS = 2000;
/** Inspect answers are buffered to be redacted; anything larger than this is refused. */
const MAX_INSPECT_BYTES = 32 * 1024 * 1024;
/** A refused request body is read and discarded up to this size, then the connection is cut. */
const MAX_DISCARDED_BODY = 256 * 1024 * 1024;
/** One event line from /events larger than this is not an event. */
const MAX_EVENT_LINE = 1024 * 1024;

/** Headers that belong to one hop and are never copied. */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

function endToEndHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const result: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!HOP_BY_HOP.has(name) && value !== undefined) result[name] = value;
  }
  return result;
}

function rawResponse(status: number, message: string): string {
  const body = JSON.stringify({ message });
  const reason = http.STATUS_CODES[status] ?? 'Error';
  return (
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}

/** Filters the newline-delimited JSON of /events down to events of containers in scope. */
export function eventScopeFilter(scope: Pick<ScopeLabel, 'key' | 'value'>): Transform {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  const keep = (lines: string[]) => {
    let out = '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        if (isEventInScope(JSON.parse(line), scope)) out += `${line}\n`;
      } catch {
        // Not an event: drop it rather than pass through something we cannot judge.
      }
    }
    return out;
  };
  return new Transform({
    transform(chunk, _encoding, callback) {
      pending += decoder.write(chunk);
      const lines = pending.split('\n');
      pending = lines.pop() as string;
      if (pending.length > MAX_EVENT_LINE) {
        callback(new Error('event line too long'));
        return;
      }
      const out = keep(lines);
      callback(null, out === '' ? undefined : out);
    },
    flush(callback) {
      const out = keep([pending + decoder.end()]);
      callback(null, out === '' ? undefined : out);
    },
  });
}

export interface ProxyLog {
  access: (entry: object) => void;
  error: (entry: object) => void;
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export function createProxyServer(config: ProxyConfig, log: ProxyLog): http.Server {
  const agent = new http.Agent({ keepAlive: true });
  const { switches, scope, socketPath } = config;

  function upstreamRequest(method: 'GET' | 'HEAD', path: string, clientRequest: http.IncomingMessage) {
    const userAgent = clientRequest.headers['user-agent'];
    return http.request({
      socketPath,
      agent,
      method,
      path,
      // A fresh request built from parsed, allowed parts: no client byte is copied through.
      headers: { Host: 'docker', ...(userAgent && /^[\x20-\x7e]{1,256}$/.test(userAgent) ? { 'User-Agent': userAgent } : {}) },
    });
  }

  function fetchUpstream(path: string, clientRequest: http.IncomingMessage): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const request = upstreamRequest('GET', path, clientRequest);
      request.on('error', reject);
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk) => {
          size += chunk.length;
          if (size > MAX_INSPECT_BYTES) {
            response.destroy(new Error('inspect answer too large to redact'));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      });
      request.end();
    });
  }

  function sendJson(res: http.ServerResponse, status: number, value: unknown, upstreamHeaders: http.IncomingHttpHeaders = {}) {
    const body = JSON.stringify(value);
    const headers = endToEndHeaders(upstreamHeaders);
    delete headers['content-length'];
    delete headers['content-type'];
    res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  function sendAnswer(res: http.ServerResponse, answer: Answer) {
    const headers = endToEndHeaders(answer.headers);
    headers['content-length'] = answer.body.length;
    res.writeHead(answer.status, headers);
    res.end(res.req.method === 'HEAD' ? undefined : answer.body);
  }

  /**
   * Streams an upstream answer to the client: backpressure through pipeline, and the
   * upstream request is torn down as soon as the client goes away.
   */
  function stream(req: http.IncomingMessage, res: http.ServerResponse, method: 'GET' | 'HEAD', path: string, transform?: Transform) {
    const request = upstreamRequest(method, path, req);
    res.on('close', () => request.destroy());
    request.on('error', (error) => upstreamFailed(res, error));
    request.on('response', (response) => {
      const headers = endToEndHeaders(response.headers);
      if (transform) delete headers['content-length'];
      res.writeHead(response.statusCode ?? 502, headers);
      // Docker's log and event streams are useless if buffered; a sized answer goes out whole.
      if (!('content-length' in headers)) res.flushHeaders();
      const done = () => request.destroy();
      if (transform && response.statusCode === 200) pipeline(response, transform, res, done);
      else pipeline(response, res, done);
    });
    request.end();
  }

  function upstreamFailed(res: http.ServerResponse, error: Error & { code?: string }) {
    log.error({ msg: 'upstream error', error: error.message, socketPath });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = `devsec proxy: the Docker engine at ${socketPath} did not answer (${error.code ?? error.message}).`;
    sendJson(res, 502, { message });
  }

  /**
   * The docker CLI pings before every command. A fresh answer (< PING_CACHE_MS old) is served
   * from memory: one round trip to the engine fewer per command, the same headers.
   */
  let pingCache: { at: number; answer: Answer } | undefined;

  const noSuchContainer = (ref: string) => ({ message: `No such container: ${ref}` });

  /**
   * Resolves a container reference to its inspect object, or undefined when it is outside
   * the scope (which the client cannot tell from a container that does not exist).
   */
  async function inspectInScope(
    prefix: string,
    ref: string,
    req: http.IncomingMessage,
    params: QueryParams = {},
  ): Promise<{ hidden: true } | { answer: Answer; container?: EngineJson; hidden?: undefined }> {
    const answer = await fetchUpstream(`${prefix}/containers/${ref}/json${encodeQuery(params)}`, req);
    if (answer.status !== 200) return { answer };
    const container = JSON.parse(answer.body.toString('utf8'));
    if (!hasScopeLabel(container && container.Config && container.Config.Labels, scope)) return { hidden: true };
    return { answer, container };
  }

  async function serve(req: http.IncomingMessage, res: http.ServerResponse, decision: Allowance): Promise<void> {
    const prefix = decision.version ? `/${decision.version}` : '';
    const path = `${prefix}/${decision.segments.join('/')}`;
    const ref = decision.ref as string;
    switch (decision.handle) {
      case 'forward':
        return stream(req, res, decision.method, `${path}${encodeQuery(decision.params)}`);
      case 'ping': {
        if (!pingCache || Date.now() - pingCache.at > PING_CACHE_MS) {
          const answer = await fetchUpstream(`${path}`, req);
          if (answer.status !== 200) return sendAnswer(res, answer);
          pingCache = { at: Date.now(), answer };
        }
        return sendAnswer(res, pingCache.answer);
      }
      case 'container-list':
        return stream(req, res, decision.method, `${path}${encodeQuery(withScopeFilter(decision.params, scope))}`);
      case 'events':
        return stream(req, res, decision.method, `${path}${encodeQuery(withScopeFilter(decision.params, scope))}`, eventScopeFilter(scope));
      case 'container-inspect': {
        const found = await inspectInScope(prefix, ref, req, decision.params);
        if (found.hidden) return sendJson(res, 404, noSuchContainer(ref));
        if (!found.container) return sendAnswer(res, found.answer);
        return sendJson(res, 200, redactInspect(found.container), found.answer.headers);
      }
      case 'container-logs': {
        const found = await inspectInScope(prefix, ref, req);
        if (found.hidden) return sendJson(res, 404, noSuchContainer(ref));
        if (!found.container) return sendAnswer(res, found.answer);
        // Use the resolved id so a name re-pointed after the check cannot be read.
        const logsPath = `${prefix}/containers/${found.container.Id}/logs${encodeQuery(decision.params)}`;
        return stream(req, res, decision.method, logsPath);
      }
      case 'image-inspect': {
        const answer = await fetchUpstream(`${path}${encodeQuery(decision.params)}`, req);
        if (answer.status !== 200) return sendAnswer(res, answer);
        return sendJson(res, 200, redactInspect(JSON.parse(answer.body.toString('utf8'))), answer.headers);
      }
      case 'network-inspect': {
        const answer = await fetchUpstream(`${path}${encodeQuery(decision.params)}`, req);
        if (answer.status !== 200) return sendAnswer(res, answer);
        const listed = await fetchUpstream(`${prefix}/containers/json${encodeQuery(withScopeFilter({ all: '1' }, scope))}`, req);
        if (listed.status !== 200) return sendAnswer(res, listed);
        const ids = new Set<string>(JSON.parse(listed.body.toString('utf8')).map((c: { Id: string }) => c.Id));
        return sendJson(res, 200, filterNetworkContainers(JSON.parse(answer.body.toString('utf8')), ids), answer.headers);
      }
      default:
        throw new Error(`no handler for ${decision.handle}`);
    }
  }

  const server = http.createServer({ insecureHTTPParser: false, joinDuplicateHeaders: false }, (req, res) => {
    const started = process.hrtime.bigint();
    const outcome = { decision: 'allow', rule: '' };
    let logged = false;
    const logOnce = () => {
      if (logged) return;
      logged = true;
      log.access({
        method: req.method,
        path: req.url,
        decision: outcome.decision,
        rule: outcome.rule,
        status: res.statusCode,
        ms: Number((process.hrtime.bigint() - started) / 1000n) / 1000,
      });
    };
    // 'finish' for answers that completed, 'close' for streams the client ended.
    res.once('finish', logOnce);
    res.once('close', logOnce);
    /** A refusal also closes the connection, so nothing pipelined behind it is read. */
    const deny = (status: number, rule: string, message: string) => {
      outcome.decision = 'deny';
      outcome.rule = rule;
      res.setHeader('Connection', 'close');
      if (req.complete) return sendJson(res, status, { message });
      // Read a refused body to its end (and throw it away) before answering: a client still
      // writing when the socket closes sees "broken pipe" instead of our message.
      let discarded = 0;
      req.on('data', (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > MAX_DISCARDED_BODY) req.destroy();
      });
      req.on('error', () => res.destroy());
      req.on('end', () => sendJson(res, status, { message }));
    };

    const decision = decide({ method: req.method ?? '', target: req.url ?? '', headers: req.headers }, switches);
    if (!decision.allowed) return deny(decision.status, decision.rule, decision.message);
    outcome.rule = decision.rule;
    serve(req, res, decision).catch((error) => upstreamFailed(res, error));
  });

  // No idle timeout: `logs -f` and `events` stay open as long as the client does.
  server.timeout = 0;
  server.requestTimeout = 0;

  const refuseSocket = (rule: string, message: string, status: number) => (req: http.IncomingMessage, socket: Duplex) => {
    log.access({ method: req.method, path: req.url, decision: 'deny', rule, status });
    socket.end(rawResponse(status, `devsec sandbox policy: ${message}`));
  };
  server.on('upgrade', refuseSocket('upgrade', 'protocol upgrades (attach, exec or websockets) are not proxied.', 403));
  server.on('connect', refuseSocket('connect', 'CONNECT tunnels are not proxied.', 405));
  server.on('clientError', (error, socket) => {
    log.access({ decision: 'deny', rule: 'malformed-request', status: 400, error: (error as Error & { code?: string }).code ?? error.message });
    if (socket.writable) socket.end(rawResponse(400, 'devsec sandbox policy: malformed HTTP request.'));
    socket.destroy();
  });
  server.on('close', () => agent.destroy());
  return server;
}
