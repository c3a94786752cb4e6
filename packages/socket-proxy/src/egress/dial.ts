/**
 * Reaching an allowed host: the proxy resolves the name itself, judges every address it got,
 * and connects to one of those addresses, never to the name again. What was checked is what is
 * connected to, so a DNS answer that changes between check and use (rebinding) changes nothing.
 */
import { promises as dns } from 'node:dns';
import * as net from 'node:net';
import { hostText } from './allowlist';
import { nonPublicRange } from './address';
import type { Refusal, Target } from './request';
import { bypassesUpstream, connectThrough, UpstreamProxy, UpstreamRefused } from './upstream';

export type Lookup = (name: string) => Promise<{ address: string; family: number }[]>;

/** How the proxy reaches the outside: injectable so that unit tests need no DNS and can stall a connect. */
export interface Network {
  /** Name → addresses, in the order to try them. */
  lookup: Lookup;
  /** A socket connecting to address:port. */
  connect: (address: string, port: number) => net.Socket;
}

export const systemNetwork: Network = {
  lookup: (name) => dns.lookup(name, { all: true, verbatim: true }),
  // Half-open: one side finishing its request must not cut the other's answer short.
  connect: (address, port) => net.connect({ host: address, port, allowHalfOpen: true, noDelay: true }),
};

export interface Dialed {
  socket: net.Socket;
  /** The address connected to: the destination's, or the upstream proxy's when `via` is set. */
  address: string;
  /** Set when the connection goes through the upstream proxy: its URL without credentials. */
  via?: string;
}

/**
 * `tunnel`: the socket returned carries bytes to the destination (through the upstream, a
 * CONNECT tunnel it opened). `http`: a plain request follows; through the upstream, the caller
 * sends it in absolute-form with the upstream's Proxy-Authorization.
 */
export type DialMode = 'tunnel' | 'http';

export interface DialOptions {
  upstream?: UpstreamProxy;
  mode?: DialMode;
}

const refuse = (status: number, rule: string, message: string): Refusal => ({ status, rule, message });

/** Rejects with a timeout error when `promise` takes longer than `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error(`${what} took longer than ${ms} ms`), { code: 'ETIMEDOUT' })), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function connectTo(network: Network, address: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = network.connect(address, port);
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connecting took longer than ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    const failed = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    socket.once('error', failed);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', failed);
      // Later errors are the tunnel's or the request's; this keeps one that arrives before
      // they listen from crashing the proxy.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/**
 * Resolves within `timeoutMs`, judges, then connects within `timeoutMs` more. Every address
 * the name resolves to must be public unless the name may reach private ones: a name with one
 * private address among public ones is refused, not half-served.
 */
export async function dial(target: Target, privateAllowed: boolean, network: Network, timeoutMs: number, options: DialOptions = {}): Promise<Dialed | Refusal> {
  const shown = hostText(target.host);
  const upstream = options.upstream && !bypassesUpstream(options.upstream, target.host, target.port) ? options.upstream : undefined;
  let addresses: string[];
  if (target.host.kind === 'ip') {
    addresses = [target.host.address];
  } else {
    try {
      addresses = (await within(network.lookup(target.host.name), timeoutMs, `resolving ${shown}`)).map((answer) => answer.address);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      // Behind a company proxy the name may resolve only there: the upstream resolves it (THREATS.md).
      if (upstream && code !== 'ETIMEDOUT') return viaUpstream(target, upstream, network, timeoutMs, options.mode ?? 'tunnel');
      if (code === 'ETIMEDOUT') return refuse(504, 'resolve-timeout', `resolving ${shown} took longer than ${timeoutMs} ms.`);
      return refuse(502, 'resolve-failed', `${shown} could not be resolved (${code}).`);
    }
    if (addresses.length === 0) {
      if (upstream) return viaUpstream(target, upstream, network, timeoutMs, options.mode ?? 'tunnel');
      return refuse(502, 'resolve-failed', `${shown} resolves to no address.`);
    }
  }
  if (!privateAllowed) {
    for (const address of addresses) {
      const range = nonPublicRange(address);
      if (!range) continue;
      const what = target.host.kind === 'ip' ? `${shown} is` : `${shown} resolves to ${address}, which is`;
      return refuse(
        403,
        'private-address',
        `${what} not a public address (${range}): the sandbox may not reach the host, the cloud metadata service or other containers ` +
          `through this proxy. A listed name may reach a private address only when it is also listed in EGRESS_ALLOW_PRIVATE.`,
      );
    }
  }
  if (upstream) return viaUpstream(target, upstream, network, timeoutMs, options.mode ?? 'tunnel');
  return connectFirst(addresses, target, network, timeoutMs);
}

/** The first of `addresses` that accepts, in the resolver's order, all within one connect timeout. */
async function connectFirst(addresses: string[], target: Target, network: Network, timeoutMs: number): Promise<Dialed | Refusal> {
  const shown = hostText(target.host);
  let lastError: NodeJS.ErrnoException | undefined;
  // In the resolver's order, one after the other (an unreachable IPv6 falls back to IPv4), all
  // within one connect timeout.
  const deadline = Date.now() + timeoutMs;
  for (const address of addresses) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      return { socket: await connectTo(network, address, target.port, remaining), address };
    } catch (error) {
      lastError = error as NodeJS.ErrnoException;
    }
  }
  const code = lastError?.code ?? lastError?.message ?? 'unknown error';
  if (code === 'ETIMEDOUT') return refuse(504, 'connect-timeout', `${shown}:${target.port} did not accept a connection within ${timeoutMs} ms.`);
  return refuse(502, 'connect-failed', `${shown}:${target.port} could not be reached (${code}).`);
}

/**
 * Through the upstream proxy: connected to its address (whatever range it is in: it is the way
 * out, not a destination), then, for a tunnel, CONNECT host:port by name, with its credentials.
 */
async function viaUpstream(target: Target, upstream: UpstreamProxy, network: Network, timeoutMs: number, mode: DialMode): Promise<Dialed | Refusal> {
  const proxyTarget: Target = { host: upstream.host, port: upstream.port };
  let addresses: string[];
  if (upstream.host.kind === 'ip') {
    addresses = [upstream.host.address];
  } else {
    try {
      addresses = (await within(network.lookup(upstream.host.name), timeoutMs, `resolving ${upstream.shown}`)).map((answer) => answer.address);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      return refuse(502, 'upstream-failed', `the upstream proxy ${upstream.shown} could not be resolved (${code}).`);
    }
  }
  const connected = await connectFirst(addresses, proxyTarget, network, timeoutMs);
  if ('rule' in connected) return { ...connected, rule: 'upstream-failed', message: `the upstream proxy: ${connected.message}` };
  if (mode === 'http') return { ...connected, via: upstream.shown };
  const authority = `${hostText(target.host)}:${target.port}`;
  try {
    const tunnel = await connectThrough(connected.socket, upstream, authority, timeoutMs);
    return { socket: tunnel, address: connected.address, via: upstream.shown };
  } catch (error) {
    connected.socket.destroy();
    if (error instanceof UpstreamRefused) return refuse(502, 'upstream-refused', error.message);
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return refuse(code === 'ETIMEDOUT' ? 504 : 502, 'upstream-failed', `the upstream proxy ${upstream.shown} failed on CONNECT ${authority} (${code}).`);
  }
}
