/**
 * The engine's side of the proxy. Every request to the engine is built here from parsed,
 * allowed parts (method, canonical path, re-encoded query): no client byte is copied through,
 * bar a printable User-Agent.
 */
import * as http from 'node:http';
import { pipeline, Transform } from 'node:stream';
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
  close(): void;
}

/** The request options for the engine: nothing from the client but a printable User-Agent. */
export function upstreamRequestOptions(socketPath: string, method: 'GET' | 'HEAD', path: string, userAgent: string | undefined) {
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
  const request = (method: 'GET' | 'HEAD', path: string, userAgent: string | undefined) =>
    http.request({ ...upstreamRequestOptions(socketPath, method, path, userAgent), agent });
  let pingCache: { at: number; answer: Answer } | undefined;

  const fetch = (path: string, userAgent: string | undefined) =>
    new Promise<Answer>((resolve, reject) => {
      const outgoing = request('GET', path, userAgent);
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
      outgoing.end();
    });

  return {
    socketPath,
    fetch,
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
