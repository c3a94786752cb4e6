/**
 * The egress proxy's server: HTTP/1.1 with Node's strict parser, CONNECT and absolute-form
 * requests, under a cap on client and upstream connections and a deadline for headers.
 */
import * as http from 'node:http';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { EgressContext, EgressLog, startAccess } from './access';
import { rawRefusal } from './answer';
import { EgressConfig, formatDuration } from './config';
import { dial, Network, systemNetwork } from './dial';
import { handleHttp } from './http';
import type { Refusal } from './request';
import { handleConnect } from './tunnel';

/** Answered 200 in origin-form, for the healthcheck; not a path any proxied request has. */
export const EGRESS_HEALTH_PATH = '/devsec-egress/health';

export interface EgressServer {
  server: http.Server;
  /** Closes the listener and every client and upstream connection. */
  stop(): void;
}

export function createEgressServer(config: EgressConfig, log: EgressLog, network: Network = systemNetwork): EgressServer {
  const clients = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();
  let dialing = 0;
  /** Sockets over the cap: answered 503 when accepted, ignored by every handler after. */
  const overCap = new WeakSet<Duplex>();
  const limitReached = (what: string): Refusal => ({
    status: 503,
    rule: 'connection-limit',
    message: `the egress proxy has ${config.maxConnections} ${what} connections open (EGRESS_MAX_CONNECTIONS); try again when some have closed.`,
  });
  /** Answers on a socket no ServerResponse owns, then closes it once the client had time to read. */
  const answerRaw = (socket: Duplex, refusal: Refusal) => {
    if (socket.writable) socket.end(rawRefusal(refusal));
    // Closing at once with unread input would reset the connection and lose the answer.
    setTimeout(() => socket.destroy(), 1000).unref();
  };

  const context: EgressContext = {
    config,
    log,
    async dial(target, privateAllowed) {
      if (upstreams.size + dialing >= config.maxConnections) return limitReached('upstream');
      dialing++;
      let result;
      try {
        result = await dial(target, privateAllowed, network, config.connectTimeoutMs);
      } finally {
        dialing--;
      }
      if ('socket' in result) {
        const socket = result.socket;
        upstreams.add(socket);
        socket.once('close', () => upstreams.delete(socket));
      }
      return result;
    },
  };

  const server = http.createServer(
    {
      insecureHTTPParser: false,
      joinDuplicateHeaders: false,
      // The handler refuses a missing Host itself, so that the refusal is logged like the others.
      requireHostHeader: false,
      headersTimeout: config.headerTimeoutMs,
      // No deadline for a whole request: uploads take what they take; idleness is cut instead.
      requestTimeout: 0,
      // Node checks the headers deadline on this beat (30 s by default): keep it a fraction of it.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headerTimeoutMs / 4))),
    },
    (req, res) => {
      if (overCap.has(req.socket)) return;
      if (req.url === EGRESS_HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
        // Not logged: the healthcheck asks every few seconds, and nothing leaves.
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
        return void res.end(req.method === 'HEAD' ? undefined : 'OK\n');
      }
      handleHttp(context, req, res).catch((error) => {
        log.error({ msg: 'egress request failed', error: (error as Error).message });
        res.destroy();
      });
    },
  );
  // Idle plain-HTTP connections (and requests with no byte moving) close after this.
  server.timeout = config.idleTimeoutMs;

  server.on('connection', (socket: net.Socket) => {
    if (clients.size < config.maxConnections) {
      clients.add(socket);
      socket.once('close', () => clients.delete(socket));
      return;
    }
    overCap.add(socket);
    socket.on('error', () => socket.destroy());
    const access = startAccess(log, undefined);
    access.entry.rule = 'connection-limit';
    access.finish(503);
    answerRaw(socket, limitReached('client'));
  });
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (overCap.has(socket)) return;
    handleConnect(context, req, socket, head).catch((error) => {
      log.error({ msg: 'egress tunnel failed', error: (error as Error).message });
      socket.destroy();
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    if (overCap.has(socket)) return;
    socket.on('error', () => socket.destroy());
    const access = startAccess(log, req.method);
    const refusal = {
      status: 403,
      rule: 'upgrade',
      message: 'protocol upgrades (websockets over plain http) are not proxied: use wss:// or https://, which go through CONNECT.',
    };
    access.entry.rule = refusal.rule;
    access.finish(refusal.status);
    answerRaw(socket, refusal);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (overCap.has(socket)) return;
    if (error.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
    const refusal: Refusal =
      error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? {
            status: 408,
            rule: 'header-timeout',
            message: `the request headers did not arrive within ${formatDuration(config.headerTimeoutMs)} (EGRESS_HEADER_TIMEOUT).`,
          }
        : {
            status: 400,
            rule: 'malformed-request',
            message: 'malformed HTTP request: send HTTP/1.1 absolute-form requests (GET http://host/) or CONNECT host:port.',
          };
    const access = startAccess(log, undefined);
    access.entry.rule = refusal.rule;
    access.finish(refusal.status, error.code ?? error.message);
    answerRaw(socket, refusal);
  });

  return {
    server,
    stop() {
      server.close();
      server.closeAllConnections();
      for (const socket of [...clients, ...upstreams]) socket.destroy();
    },
  };
}
