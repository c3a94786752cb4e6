/**
 * The HTTP side: every request goes through the policy, is logged once, and is either refused
 * here or served by its rule's handler.
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { answerAndClose, ConnectionCap } from '../common/admission';
import type { Listen, ProxyConfig } from './config';
import { Handler, HANDLERS } from './handlers';
import type { Limits } from '../common/limits';
import type { Logger } from '../common/logger';
import { Allowance, decide, Refusal } from './policy';
import { rawResponse, sendJson } from '../common/respond';
import { createUpstream, Upstream } from './upstream';
import { refusalMessage, serveUpgrade, serveWrite } from './write-handlers';
import { decideWrite, OWNER_LABEL, WritePolicyOptions, WriteRefusal } from './write-policy';
import { PortServer } from './ports';
import { encodeQuery } from './scope';
import { inspectInScope, listInScopeAnchored, missingContainerAnswer, parseAnswer } from './scoped-reads';
import { redactInspect } from './redact';
import { sendAnswer } from '../common/respond';

/** A refused request body is read and discarded up to this size, then the connection is cut. */
const MAX_DISCARDED_BODY = 256 * 1024 * 1024;
/** How often Node looks for requests past their headers or body timeout. */
const TIMEOUT_CHECK_MS = 1000;

export type ProxyLog = Pick<Logger, 'access' | 'error'>;

/** dockerd's reading of a boolean query parameter (httputils.BoolValue). */
const engineTrue = (value: string | undefined) => value !== undefined && !['', '0', 'no', 'false', 'none'].includes(value.trim().toLowerCase());

/** Requests whose engine answer stays open while the client reads: they count against MAX_STREAMS. */
export function isLongLived(decision: Allowance): boolean {
  return decision.handle === 'events' || (decision.handle === 'container-logs' && engineTrue(decision.params.follow));
}

/**
 * Puts MAX_CONNECTIONS in front of the HTTP server: http.Server attaches its parser in its own
 * 'connection' listener, so ours runs instead and hands it only the connections under the cap.
 */
function capConnections(server: http.Server, limits: Limits, log: ProxyLog, children?: ChildrenWatch): void {
  const cap = new ConnectionCap(limits.maxConnections);
  const httpListeners = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  const message = `devsec proxy: ${limits.maxConnections} connections are open, the limit (MAX_CONNECTIONS=${limits.maxConnections}); close some, or raise MAX_CONNECTIONS.`;
  const answer = rawResponse(503, message);
  const admit = (socket: Socket) => {
    for (const listener of httpListeners) listener.call(server, socket);
  };
  server.on('connection', (socket: Socket) => {
    if (cap.admit(socket)) {
      // A unix socket has no children on it.
      if (!children || socket.remoteAddress === undefined) return admit(socket);
      // The proxy is on the children network (it serves their mapped ports): a child never reaches the API.
      socket.pause();
      children
        .addresses()
        .then((addresses) => {
          if (!addresses.has(plainAddress(socket.remoteAddress))) {
            admit(socket);
            return void socket.resume();
          }
          log.access({ decision: 'deny', rule: 'from-child', status: 403 });
          socket.destroy();
        })
        .catch(() => socket.destroy());
      return;
    }
    log.access({ decision: 'deny', rule: 'max-connections', status: 503 });
    answerAndClose(socket, answer, limits.headersTimeoutMs);
  });
}

/** `::ffff:10.0.0.2` → `10.0.0.2`. */
const plainAddress = (address: string | undefined) => (address ?? '').replace(/^::ffff:/, '');

/** How often the listeners of stopped or removed children are closed. */
const SWEEP_MS = 3000;

/** The agent's own containers, as the engine lists them now: their addresses, and which run. */
interface ChildrenWatch {
  addresses(): Promise<Set<string>>;
  sweep(): Promise<void>;
  stop(): void;
}

function watchChildren(upstream: Upstream, options: WritePolicyOptions, ports: PortServer): ChildrenWatch {
  const list = async () => {
    const filters = JSON.stringify({ label: [`${OWNER_LABEL}=${options.owner}`] });
    const answer = await upstream.fetch(`/containers/json${encodeQuery({ all: '1', filters })}`, undefined);
    const listed = answer.status === 200 ? parseAnswer(answer) : undefined;
    if (!Array.isArray(listed)) throw new Error(`the engine's container list answered ${answer.status}`);
    return listed as Array<{ Id?: string; State?: string; NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> } }>;
  };
  const sweep = async () => {
    const running = new Set((await list()).filter((child) => child.State === 'running').map((child) => String(child.Id)));
    ports.keepOnly(running);
  };
  const timer = setInterval(() => void sweep().catch(() => undefined), SWEEP_MS);
  timer.unref();
  return {
    addresses: async () => {
      const addresses = new Set<string>();
      for (const child of await list())
        for (const network of Object.values(child.NetworkSettings?.Networks ?? {})) if (network?.IPAddress) addresses.add(network.IPAddress);
      return addresses;
    },
    sweep,
    stop: () => {
      clearInterval(timer);
      ports.closeAll();
    },
  };
}

function serverOptions(limits: Limits): http.ServerOptions {
  return {
    insecureHTTPParser: false,
    joinDuplicateHeaders: false,
    headersTimeout: limits.headersTimeoutMs,
    // A backstop: a request with a body is refused, and answered after BODY_TIMEOUT below.
    requestTimeout: limits.headersTimeoutMs + limits.bodyTimeoutMs + TIMEOUT_CHECK_MS,
    connectionsCheckingInterval: TIMEOUT_CHECK_MS,
  };
}

/** What the access line says of a request: filled in as the request is decided. */
interface Outcome {
  decision: 'allow' | 'deny';
  rule: string;
}

/** Logs a request once: when its answer is complete ('finish') or when the client ended a stream ('close'). */
function logWhenDone(log: ProxyLog, req: http.IncomingMessage, res: http.ServerResponse): Outcome {
  const started = process.hrtime.bigint();
  const outcome: Outcome = { decision: 'allow', rule: '' };
  let logged = false;
  const logOnce = () => {
    if (logged) return;
    logged = true;
    const ms = Number((process.hrtime.bigint() - started) / 1000n) / 1000;
    log.access({ method: req.method, path: req.url, decision: outcome.decision, rule: outcome.rule, status: res.statusCode, ms });
  };
  res.once('finish', logOnce);
  res.once('close', logOnce);
  return outcome;
}

/** Answers a refusal; a refusal also closes the connection, so nothing pipelined behind it is read. */
function refuseRequest(req: http.IncomingMessage, res: http.ServerResponse, refusal: Refusal, limits: Limits): void {
  res.setHeader('Connection', 'close');
  const answer = () => {
    if (!res.headersSent) sendJson(res, refusal.status, { message: refusal.message });
  };
  if (req.complete) return answer();
  // Read a refused body to its end (and throw it away) before answering: a client still
  // writing when the socket closes sees "broken pipe" instead of our message. A body slower
  // than BODY_TIMEOUT is answered anyway, and the connection closed behind the answer.
  const bodyTimer = setTimeout(answer, limits.bodyTimeoutMs);
  res.once('close', () => clearTimeout(bodyTimer));
  let discarded = 0;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARDED_BODY) req.destroy();
  });
  req.on('error', () => res.destroy());
  req.on('end', answer);
}

function upstreamFailed(log: ProxyLog, socketPath: string, res: http.ServerResponse, error: Error & { code?: string }): void {
  log.error({ msg: 'upstream error', error: error.message, socketPath });
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const message = `devsec proxy: the Docker engine at ${socketPath} did not answer (${error.code ?? error.message}).`;
  sendJson(res, 502, { message });
}

/**
 * Every request goes through the policy and is logged once; a refused one is answered here, an
 * allowed one by its rule's handler, a long-lived one only under MAX_STREAMS.
 */
function proxyRequests(config: ProxyConfig, log: ProxyLog, upstream: Upstream, ports?: { server: PortServer; watch: ChildrenWatch }): http.RequestListener {
  const { switches, scope, socketPath, limits } = config;
  let openStreams = 0;
  return (req, res) => {
    const outcome = logWhenDone(log, req, res);
    const head = { method: req.method ?? '', target: req.url ?? '', headers: req.headers };
    const write = config.write ? decideWrite(head) : undefined;
    if (write && !write.allowed) {
      outcome.decision = 'deny';
      outcome.rule = write.rule;
      return refuseRequest(req, res, write, limits);
    }
    if (write && config.write) {
      outcome.rule = write.rule;
      const context = { req, res, decision: write, scope, upstream, options: config.write };
      serveWrite(context)
        .then(() => {
          // A child stopped, killed or removed: its mapped ports go now, not at the next sweep.
          if (ports && /^container-(stop|kill|remove|delete)/.test(write.rule)) void ports.watch.sweep().catch(() => undefined);
        })
        .catch((error) => {
          if (!(error instanceof WriteRefusal)) return upstreamFailed(log, socketPath, res, error);
          outcome.decision = 'deny';
          outcome.rule = error.rule;
          refuseRequest(req, res, { allowed: false, status: error.status, rule: error.rule, message: refusalMessage(error) }, limits);
        });
      return;
    }
    const decision = decide(head, switches);
    if (!decision.allowed) {
      outcome.decision = 'deny';
      outcome.rule = decision.rule;
      return refuseRequest(req, res, decision, limits);
    }
    outcome.rule = decision.rule;
    if (isLongLived(decision)) {
      if (openStreams >= limits.maxStreams) {
        outcome.decision = 'deny';
        outcome.rule = 'max-streams';
        res.setHeader('Connection', 'close');
        const message = `devsec proxy: ${openStreams} streams (logs -f, events) are open, the limit (MAX_STREAMS=${limits.maxStreams}); close one, or raise MAX_STREAMS.`;
        return sendJson(res, 503, { message });
      }
      openStreams++;
      res.once('close', () => openStreams--);
    }
    const context = { req, res, decision, scope, upstream };
    const handler =
      ports && decision.handle === 'container-inspect'
        ? inspectServingPorts(ports.server)
        : ports && decision.handle === 'container-list'
          ? listServingPorts(ports.server)
          : HANDLERS[decision.handle];
    handler(context).catch((error) => upstreamFailed(log, socketPath, res, error));
  };
}

/** The proxy's own address the request came to: where its mapped ports listen for this client. */
// A unix-socket client is on this machine: loopback.
const bindOf = (req: http.IncomingMessage) => plainAddress(req.socket.localAddress) || '127.0.0.1';
const prefixOf = (decision: Allowance) => (decision.version ? `/${decision.version}` : '');

/** Inspect, as the read policy answers it, with an own child's mapped ports served by the proxy. */
const inspectServingPorts =
  (ports: PortServer): Handler =>
  async ({ req, res, decision, scope, upstream }) => {
    const reader = { upstream, prefix: prefixOf(decision), userAgent: req.headers['user-agent'], scope };
    const ref = decision.ref as string;
    const found = await inspectInScope(reader, ref, decision.params);
    if (found.hidden) return sendAnswer(res, await missingContainerAnswer(reader, ref, 'json', decision.params));
    if (!found.container) return sendAnswer(res, found.answer);
    sendJson(res, 200, redactInspect(await ports.rewriteInspect(found.container, bindOf(req))), found.answer.headers);
  };

/** The container list, as the read policy answers it, with the mapped ports the proxy serves. */
const listServingPorts =
  (ports: PortServer): Handler =>
  async ({ req, res, decision, scope, upstream }) => {
    const reader = { upstream, prefix: prefixOf(decision), userAgent: req.headers['user-agent'], scope };
    const listed = await listInScopeAnchored(reader, decision.params);
    if ('failed' in listed) return sendAnswer(res, listed.failed);
    sendJson(
      res,
      200,
      listed.containers.map((entry) => ports.rewriteListEntry(entry, bindOf(req))),
      listed.answer.headers,
    );
  };

/** What Node's parser refused: headers slower than HEADERS_TIMEOUT (408), or a malformed request (400). */
function answerClientError(limits: Limits, log: ProxyLog, error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    log.access({ decision: 'deny', rule: 'request-timeout', status: 408 });
    const message = `devsec proxy: the request's headers did not arrive within ${limits.headersTimeoutMs / 1000} s (HEADERS_TIMEOUT).`;
    if (socket.writable) socket.end(rawResponse(408, message));
  } else {
    log.access({ decision: 'deny', rule: 'malformed-request', status: 400, error: error.code ?? error.message });
    if (socket.writable) socket.end(rawResponse(400, 'devsec sandbox policy: malformed HTTP request.'));
  }
  socket.destroy();
}

export function createProxyServer(config: ProxyConfig, log: ProxyLog): http.Server {
  const { limits } = config;
  const upstream = createUpstream(config.socketPath);
  const portServer = config.write
    ? new PortServer(config.write, (entry) => log.access({ decision: 'allow', rule: 'mapped-port', status: 0, ...entry }), limits.maxConnections)
    : undefined;
  const ports = portServer && config.write ? { server: portServer, watch: watchChildren(upstream, config.write, portServer) } : undefined;
  const server = http.createServer(serverOptions(limits), proxyRequests(config, log, upstream, ports));

  // No inactivity timeout while a request is served: `logs -f` and `events` stay open as long as
  // the client does. Between requests, IDLE_TIMEOUT closes a keep-alive connection.
  server.timeout = 0;
  server.keepAliveTimeout = limits.idleTimeoutMs;
  capConnections(server, limits, log, ports?.watch);

  const refuseSocket = (rule: string, message: string, status: number) => (req: http.IncomingMessage, socket: Duplex) => {
    log.access({ method: req.method, path: req.url, decision: 'deny', rule, status });
    socket.end(rawResponse(status, `devsec sandbox policy: ${message}`));
  };
  const refuseUpgrade = refuseSocket('upgrade', 'protocol upgrades (attach, exec or websockets) are not proxied.', 403);
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    // Node's server stops listening for the socket's errors once it hands it over: without this, a
    // client that resets the connection before the answer would end the proxy (an unhandled 'error').
    socket.on('error', () => socket.destroy());
    // The write policy's `docker exec` (attached): its own checks, then a hijacked stream.
    const write = config.write ? decideWrite({ method: req.method ?? '', target: req.url ?? '', headers: req.headers }) : undefined;
    if (!write || !config.write || !write.allowed || !write.row.upgrade) {
      if (write && !write.allowed) return refuseSocket(write.rule, write.message.replace(/^devsec sandbox policy: /, ''), write.status)(req, socket);
      return refuseUpgrade(req, socket);
    }
    log.access({ method: req.method, path: req.url, decision: 'allow', rule: write.rule, status: 101 });
    const context = { req, decision: write, scope: config.scope, upstream, options: config.write };
    void serveUpgrade(context, socket, head, config.socketPath, limits.bodyTimeoutMs);
  });
  server.on('connect', refuseSocket('connect', 'CONNECT tunnels are not proxied.', 405));
  server.on('clientError', (error: Error & { code?: string }, socket: Duplex) => answerClientError(limits, log, error, socket));
  server.on('close', () => {
    ports?.watch.stop();
    upstream.close();
  });
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
