/**
 * CONNECT: decide on the authority, then a byte tunnel to the resolved address. No TLS is
 * terminated or inspected; the proxy sees a host name, a port and byte counts.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { EgressContext, startAccess } from './access';
import { hostText, matchHost } from './allowlist';
import { rawRefusal, TUNNEL_ESTABLISHED } from './answer';
import { isRefusal, parseConnectTarget, Refusal } from './request';

/**
 * Pipes both ways, with backpressure and half-close (each side's end is passed on), until both
 * sides are done, either fails, or neither moves a byte for `idleMs`.
 */
export function splice(client: Socket, upstream: Socket, idleMs: number, counts: { up: number; down: number }, done: (error?: string) => void): void {
  let finished = false;
  const close = (error?: string) => {
    if (finished) return;
    finished = true;
    client.destroy();
    upstream.destroy();
    done(error);
  };
  for (const socket of [client, upstream]) {
    socket.setTimeout(idleMs);
    socket.on('timeout', () => close('idle-timeout'));
    socket.on('error', (error: NodeJS.ErrnoException) => close(error.code ?? error.message));
    socket.on('close', () => close());
  }
  client.on('data', (chunk: Buffer) => (counts.up += chunk.length));
  upstream.on('data', (chunk: Buffer) => (counts.down += chunk.length));
  client.pipe(upstream);
  upstream.pipe(client);
}

export async function handleConnect(context: EgressContext, req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
  const { config, log } = context;
  const access = startAccess(log, 'CONNECT');
  const { entry } = access;
  // Node stops watching a socket it hands over: its errors are ours from here (the dial below
  // is bounded by the connect timeout, and the tunnel by the idle timeout).
  client.on('error', () => client.destroy());
  const refuse = (refusal: Refusal) => {
    entry.rule = refusal.rule;
    access.finish(refusal.status);
    if (client.writable) client.end(rawRefusal(refusal));
    // Unread bytes (a TLS hello) must not turn our answer into a reset: destroy a little later.
    setTimeout(() => client.destroy(), 1000).unref();
  };

  const target = parseConnectTarget(req.url ?? '');
  if (isRefusal(target)) return refuse(target);
  entry.host = hostText(target.host);
  entry.port = target.port;
  const decision = matchHost(config.allowlist, target.host, target.port);
  if (!decision.allowed) return refuse({ status: 403, ...decision });
  entry.rule = decision.rule;
  const dialed = await context.dial(target, decision.privateAllowed, 'tunnel');
  if (isRefusal(dialed)) return refuse(dialed);
  entry.address = dialed.address;
  if (dialed.via) entry.via = dialed.via;
  if (client.destroyed) {
    dialed.socket.destroy();
    return access.finish(499, 'client closed before the tunnel was open');
  }
  entry.decision = 'allow';
  client.write(TUNNEL_ESTABLISHED);
  // Bytes the client sent after its CONNECT line (a TLS hello, eagerly) go first.
  if (head.length > 0) {
    entry.up += head.length;
    dialed.socket.write(head);
  }
  splice(client, dialed.socket, config.idleTimeoutMs, entry, (error) => access.finish(200, error));
}
