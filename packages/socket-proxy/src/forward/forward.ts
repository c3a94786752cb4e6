/**
 * Forward mode (FORWARD=...): plain TCP forwarding for the localhost-proxy sidecar, so that a
 * stack needs no second image. It shares the dev container's network namespace and listens on
 * its loopback addresses: `localhost:3000` inside reaches the target service.
 */
import * as net from 'node:net';
import { pipeline } from 'node:stream';
import { ConnectionCap } from '../common/admission';
import { DEFAULT_LIMITS } from '../common/limits';

export class ForwardConfigError extends Error {}

export interface ForwardRule {
  listenPort: number;
  host: string;
  port: number;
}

/** `3000:web:3000,3001:web:3001` → rules. Hosts are names or IPv4 addresses. */
export function parseForward(spec: string): ForwardRule[] {
  const rules = spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^([0-9]{1,5}):([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]{1,5})$/.exec(part);
      const listenPort = match ? Number(match[1]) : NaN;
      const port = match ? Number(match[3]) : NaN;
      if (!match || listenPort < 1 || listenPort > 65535 || port < 1 || port > 65535) {
        throw new ForwardConfigError(`FORWARD=${spec}: "${part}" is not LISTEN_PORT:HOST:PORT (e.g. FORWARD=3000:web:3000).`);
      }
      return { listenPort, host: match[2], port };
    });
  if (rules.length === 0) throw new ForwardConfigError('FORWARD is empty: give LISTEN_PORT:HOST:PORT (e.g. FORWARD=3000:web:3000).');
  return rules;
}

export function parseBind(spec: string | undefined): string[] {
  const addresses = (spec ?? '127.0.0.1,::1')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  for (const address of addresses) {
    if (net.isIP(address) === 0) throw new ForwardConfigError(`FORWARD_BIND=${spec}: "${address}" is not an IP address.`);
  }
  return addresses;
}

/**
 * Starts one listener per rule and address. Resolves when all listen. Connections over
 * `maxConnections` (all listeners together) are closed at once: the bytes forwarded are not
 * ours to answer in.
 */
export async function startForwarding(
  rules: ForwardRule[],
  addresses: string[],
  log: (entry: object) => void,
  maxConnections = DEFAULT_LIMITS.maxConnections,
): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  const cap = new ConnectionCap(maxConnections);
  for (const rule of rules) {
    for (const address of addresses) {
      const server = net.createServer((client) => {
        if (!cap.admit(client)) {
          log({ level: 'warn', msg: 'refused: too many connections', listen: `${address}:${rule.listenPort}`, limit: `MAX_CONNECTIONS=${maxConnections}` });
          client.destroy();
          return;
        }
        const upstream = net.connect(rule.port, rule.host);
        const done = (error: Error | null | undefined) => {
          if (error) log({ msg: 'forward failed', listen: `${address}:${rule.listenPort}`, target: `${rule.host}:${rule.port}`, error: error.message });
          client.destroy();
          upstream.destroy();
        };
        pipeline(client, upstream, done);
        pipeline(upstream, client, done);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(rule.listenPort, address, () => resolve());
      });
      servers.push(server);
      log({ msg: 'forwarding', listen: `${address.includes(':') ? `[${address}]` : address}:${rule.listenPort}`, target: `${rule.host}:${rule.port}` });
    }
  }
  return servers;
}
