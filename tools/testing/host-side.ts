import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { dockerOk } from './docker';

export interface HostService {
  port: number;
  close: () => void;
}

/** A service of this host listening on every address, answering `host service`: what nothing in a sandbox may reach. */
export async function startHostService(): Promise<HostService> {
  const server = createServer((_request, response) => response.end('host service'));
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

/** This host's own IPv4 addresses, loopback aside. */
export function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry && entry.family === 'IPv4' && !entry.internal)
    .map((entry) => entry!.address);
}

/** The gateway of the engine's default bridge: an address of this host. */
export function bridgeGateway(): string {
  return dockerOk(['network', 'inspect', 'bridge', '--format', '{{range .IPAM.Config}}{{.Gateway}}{{end}}']).trim();
}
