/**
 * The HTTP side: every request goes through the policy, is logged once, and is either refused
 * here or served by its rule's handler.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Listen, ProxyConfig } from './config';
import { HANDLERS } from './handlers';
import type { Logger } from './logger';
import { decide } from './policy';
import { rawResponse, sendJson } from './respond';
import { createUpstream } from './upstream';

/** A refused request body is read and discarded up to this size, then the connection is cut. */
const MAX_DISCARDED_BODY = 256 * 1024 * 1024;

export type ProxyLog = Pick<Logger, 'access' | 'error'>;

export function createProxyServer(config: ProxyConfig, log: ProxyLog): http.Server {
  const { switches, scope, socketPath } = config;
  const upstream = createUpstream(socketPath);

  function upstreamFailed(res: http.ServerResponse, error: Error & { code?: string }) {
    log.error({ msg: 'upstream error', error: error.message, socketPath });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const message = `devsec proxy: the Docker engine at ${socketPath} did not answer (${error.code ?? error.message}).`;
    sendJson(res, 502, { message });
  }

  const server = http.createServer({ insecureHTTPParser: false, joinDuplicateHeaders: false }, (req, res) => {
    const started = process.hrtime.bigint();
    const outcome: { decision: 'allow' | 'deny'; rule: string } = { decision: 'allow', rule: '' };
    let logged = false;
    const logOnce = () => {
      if (logged) return;
      logged = true;
      const ms = Number((process.hrtime.bigint() - started) / 1000n) / 1000;
      log.access({ method: req.method, path: req.url, decision: outcome.decision, rule: outcome.rule, status: res.statusCode, ms });
    };
    // 'finish' for answers that completed, 'close' for streams the client ended.
    res.once('finish', logOnce);
    res.once('close', logOnce);

    const decision = decide({ method: req.method ?? '', target: req.url ?? '', headers: req.headers }, switches);
    if (!decision.allowed) {
      // A refusal also closes the connection, so nothing pipelined behind it is read.
      outcome.decision = 'deny';
      outcome.rule = decision.rule;
      res.setHeader('Connection', 'close');
      const answer = () => sendJson(res, decision.status, { message: decision.message });
      if (req.complete) return answer();
      // Read a refused body to its end (and throw it away) before answering: a client still
      // writing when the socket closes sees "broken pipe" instead of our message.
      let discarded = 0;
      req.on('data', (chunk: Buffer) => {
        discarded += chunk.length;
        if (discarded > MAX_DISCARDED_BODY) req.destroy();
      });
      req.on('error', () => res.destroy());
      req.on('end', answer);
      return;
    }
    outcome.rule = decision.rule;
    HANDLERS[decision.handle]({ req, res, decision, scope, upstream }).catch((error) => upstreamFailed(res, error));
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
  server.on('clientError', (error: Error & { code?: string }, socket) => {
    log.access({ decision: 'deny', rule: 'malformed-request', status: 400, error: error.code ?? error.message });
    if (socket.writable) socket.end(rawResponse(400, 'devsec sandbox policy: malformed HTTP request.'));
    socket.destroy();
  });
  server.on('close', () => upstream.close());
  return server;
}

/** Listens on a TCP address or a unix socket (mode 660: the socket's group may connect). */
export function listenOn(server: http.Server, listen: Listen): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.kind === 'unix') {
      // A stale socket from an earlier run would make listen() fail with EADDRINUSE.
      try {
        if (fs.statSync(listen.path).isSocket()) fs.unlinkSync(listen.path);
      } catch {
        // Nothing there.
      }
      server.listen(listen.path, () => {
        fs.chmodSync(listen.path, 0o660);
        resolve();
      });
    } else {
      server.listen(listen.port, listen.host, () => resolve());
    }
  });
}
