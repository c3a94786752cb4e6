/**
 * The engine's side of the proxy. Every request to the engine is built here from parsed,
 * allowed parts (method, canonical path, re-encoded query): no client byte is copied through,
 * bar a printable User-Agent.
 */
import * as http from 'node:http';
import { pipeline, Readable, Transform } from 'node:stream';
import { Answer, endToEndHeaders } from '../common/respond';

/** Inspect answers are buffered to be redacted; anything larger than this is refused. */
export const MAX_INSPECT_BYTES = 32 * 1024 * 1024;
/** How long an engine's /_ping answer is reused. */
export const PING_CACHE_MS = 2000;

export interface UpstreamOptions {
  maxBufferedBytes?: number;
  pingCacheMs?: number;
}

export interface Upstream {
  readonly socketPath: string;
  /** GET `path` and read the answer whole (at most maxBufferedBytes). */
  fetch(path: string, userAgent: string | undefined): Promise<Answer>;
  /**
   * The engine's /_ping answer. The docker CLI pings before every command; a fresh answer
   * (< pingCacheMs old) is served from memory: one round trip to the engine fewer per
   * command, the same headers. Only a 200 is kept.
   */
  ping(path: string, userAgent: string | undefined): Promise<Answer>;
  /**
   * Streams the engine's answer to `res`: backpressure through pipeline, and the engine
   * request is torn down as soon as the client goes away. `transform` applies to a 200 only.
   * Settles when the stream ends; rejects when the engine cannot be reached.
   */
  stream(res: http.ServerResponse, method: 'GET' | 'HEAD', path: string, userAgent: string | undefined, transform?: Transform): Promise<void>;
  /**
   * A write (write policy): `method` on `path` with a body this proxy built or checked, the
   * engine's answer streamed to `res`. Only Content-Type and X-Registry-Auth are passed as given.
   */
  send(
    res: http.ServerResponse,
    method: string,
    path: string,
    userAgent: string | undefined,
    body: Buffer | Readable | undefined,
    headers?: http.OutgoingHttpHeaders,
  ): Promise<void>;
  /** A write whose answer the proxy reads whole (the server looks at it before answering). */
  call(method: string, path: string, userAgent: string | undefined, body?: Buffer): Promise<Answer>;
  close(): void;
}

/** The request options for the engine: nothing from the client but a printable User-Agent. */
export function upstreamRequestOptions(socketPath: string, method: string, path: string, userAgent: string | undefined) {
  return {
    socketPath,
    method,
    path,
    headers: { Host: 'docker', ...(userAgent && /^[\x20-\x7e]{1,256}$/.test(userAgent) ? { 'User-Agent': userAgent } : {}) },
  };
}

export function createUpstream(socketPath: string, options: UpstreamOptions = {}): Upstream {
  const maxBufferedBytes = options.maxBufferedBytes ?? MAX_INSPECT_BYTES;
  const pingCacheMs = options.pingCacheMs ?? PING_CACHE_MS;
  const agent = new http.Agent({ keepAlive: true });
  const request = (method: string, path: string, userAgent: string | undefined, headers: http.OutgoingHttpHeaders = {}) => {
    const options = upstreamRequestOptions(socketPath, method, path, userAgent);
    return http.request({ ...options, headers: { ...options.headers, ...headers }, agent });
  };
  let pingCache: { at: number; answer: Answer } | undefined;

  const fetch = (path: string, userAgent: string | undefined, method = 'GET', body?: Buffer) =>
    new Promise<Answer>((resolve, reject) => {
      const outgoing = request(method, path, userAgent, body ? { 'Content-Type': 'application/json', 'Content-Length': body.length } : {});
      outgoing.on('error', reject);
      outgoing.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > maxBufferedBytes) {
            response.destroy(new Error('inspect answer too large to redact'));
            return;
          }
          chunks.push(chunk);
        });
        response.on('error', reject);
        response.on('end', () => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: Buffer.concat(chunks) }));
      });
      outgoing.end(body);
    });

  return {
    socketPath,
    fetch: (path, userAgent) => fetch(path, userAgent),
    call: (method, path, userAgent, body) => fetch(path, userAgent, method, body),
    send(res, method, path, userAgent, body, headers = {}) {
      return new Promise<void>((resolve, reject) => {
        const sized = Buffer.isBuffer(body) ? { 'Content-Length': body.length } : body ? { 'Transfer-Encoding': 'chunked' } : {};
        const outgoing = request(method, path, userAgent, { ...headers, ...sized });
        res.on('close', () => outgoing.destroy());
        outgoing.on('error', reject);
        outgoing.on('response', (response) => {
          res.writeHead(response.statusCode ?? 502, endToEndHeaders(response.headers));
          if (!('content-length' in response.headers)) res.flushHeaders();
          pipeline(response, res, () => {
            outgoing.destroy();
            resolve();
          });
        });
        if (body === undefined || Buffer.isBuffer(body)) outgoing.end(body);
        else pipeline(body, outgoing, (error) => error && outgoing.destroy(error));
      });
    },
    async ping(path, userAgent) {
      if (!pingCache || Date.now() - pingCache.at > pingCacheMs) {
        const answer = await fetch(path, userAgent);
        if (answer.status !== 200) return answer;
        pingCache = { at: Date.now(), answer };
      }
      return pingCache.answer;
    },
    stream(res, method, path, userAgent, transform) {
      return new Promise<void>((resolve, reject) => {
        const outgoing = request(method, path, userAgent);
        res.on('close', () => outgoing.destroy());
        outgoing.on('error', reject);
        outgoing.on('response', (response) => {
          const headers = endToEndHeaders(response.headers);
          if (transform) delete headers['content-length'];
          res.writeHead(response.statusCode ?? 502, headers);
          // Docker's log and event streams are useless if buffered; a sized answer goes out whole.
          if (!('content-length' in headers)) res.flushHeaders();
          const done = () => {
            outgoing.destroy();
            resolve();
          };
          if (transform && response.statusCode === 200) pipeline(response, transform, res, done);
          else pipeline(response, res, done);
        });
        outgoing.end();
      });
    },
    close: () => agent.destroy(),
  };
}
