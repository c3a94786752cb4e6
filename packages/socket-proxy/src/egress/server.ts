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

/** The connections the server holds, under EGRESS_MAX_CONNECTIONS each way. */
interface Connections {
  clients: Set<net.Socket>;
  upstreams: Set<net.Socket>;
  /** Upstream connections being resolved and dialled: they count against the cap already. */
  dialing: number;
  /** Sockets over the cap: answered 503 when accepted, ignored by every handler after. */
  overCap: WeakSet<Duplex>;
}

function limitReached(config: EgressConfig, what: string): Refusal {
  return {
    status: 503,
    rule: 'connection-limit',
    message: `the egress proxy has ${config.maxConnections} ${what} connections open (EGRESS_MAX_CONNECTIONS); try again when some have closed.`,
  };
}

/** Answers on a socket no ServerResponse owns, then closes it once the client had time to read. */
function answerRaw(socket: Duplex, refusal: Refusal): void {
  if (socket.writable) socket.end(rawRefusal(refusal));
  // Closing at once with unread input would reset the connection and lose the answer.
  setTimeout(() => socket.destroy(), 1000).unref();
}

/** What the request and tunnel handlers share: the configuration, the log, and a dial under the cap. */
function egressContext(config: EgressConfig, log: EgressLog, network: Network, connections: Connections): EgressContext {
  const { upstreams } = connections;
  return {
    config,
    log,
    async dial(target, privateAllowed, mode) {
      if (upstreams.size + connections.dialing >= config.maxConnections) return limitReached(config, 'upstream');
      connections.dialing++;
      let result;
      try {
        result = await dial(target, privateAllowed, network, config.connectTimeoutMs, { upstream: config.upstream, mode });
      } finally {
        connections.dialing--;
      }
      if ('socket' in result) {
        const socket = result.socket;
        upstreams.add(socket);
        socket.once('close', () => upstreams.delete(socket));
      }
      return result;
    },
  };
}

function serverOptions(config: EgressConfig): http.ServerOptions {
  return {
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    // The handler refuses a missing Host itself, so that the refusal is logged like the others.
    requireHostHeader: false,
    headersTimeout: config.headerTimeoutMs,
    // No deadline for a whole request: uploads take what they take; idleness is cut instead.
    requestTimeout: 0,
    // Node checks the headers deadline on this beat (30 s by default): keep it a fraction of it.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.headerTimeoutMs / 4))),
  };
}

/** A plain-HTTP request: the healthcheck is answered here, any other is proxied or refused. */
function serveRequest(context: EgressContext, req: http.IncomingMessage, res: http.ServerResponse): void {
  if (req.url === EGRESS_HEALTH_PATH && (req.method === 'GET' || req.method === 'HEAD')) {
    // Not logged: the healthcheck asks every few seconds, and nothing leaves.
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': 3 });
    return void res.end(req.method === 'HEAD' ? undefined : 'OK\n');
  }
  handleHttp(context, req, res).catch((error) => {
    context.log.error({ msg: 'egress request failed', error: (error as Error).message });
    res.destroy();
  });
}

/** A CONNECT request: a tunnel, or its refusal. */
function serveConnect(context: EgressContext, req: http.IncomingMessage, socket: net.Socket, head: Buffer): void {
  handleConnect(context, req, socket, head).catch((error) => {
    context.log.error({ msg: 'egress tunnel failed', error: (error as Error).message });
    socket.destroy();
  });
}

/** A new client connection: kept under the cap, or marked over it and answered 503. */
function admitClient(config: EgressConfig, log: EgressLog, connections: Connections, socket: net.Socket): void {
  const { clients, overCap } = connections;
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
  answerRaw(socket, limitReached(config, 'client'));
}

/** Protocol upgrades are refused: a websocket goes through CONNECT (wss://) or not at all. */
function refuseUpgrade(log: EgressLog, req: http.IncomingMessage, socket: Duplex): void {
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
}

/** What Node's parser refused (headers too slow, or malformed) is answered 408 or 400. */
function answerClientError(config: EgressConfig, log: EgressLog, error: NodeJS.ErrnoException, socket: Duplex): void {
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
}

export function createEgressServer(config: EgressConfig, log: EgressLog, network: Network = systemNetwork): EgressServer {
  const connections: Connections = { clients: new Set(), upstreams: new Set(), dialing: 0, overCap: new WeakSet() };
  const { overCap } = connections;
  const context = egressContext(config, log, network, connections);

  const server = http.createServer(serverOptions(config), (req, res) => {
    if (!overCap.has(req.socket)) serveRequest(context, req, res);
  });
  // Idle plain-HTTP connections (and requests with no byte moving) close after this.
  server.timeout = config.idleTimeoutMs;

  server.on('connection', (socket: net.Socket) => admitClient(config, log, connections, socket));
  server.on('connect', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    if (!overCap.has(socket)) serveConnect(context, req, socket, head);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
    if (!overCap.has(socket)) refuseUpgrade(log, req, socket);
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!overCap.has(socket)) answerClientError(config, log, error, socket);
  });

  return {
    server,
    stop() {
      server.close();
      server.closeAllConnections();
      for (const socket of [...connections.clients, ...connections.upstreams]) socket.destroy();
    },
  };
}
