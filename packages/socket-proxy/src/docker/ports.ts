/**
 * Mapped ports of the agent's own containers (the write policy, `--testContainers`). The engine
 * never binds a host port for them (the create's port bindings are taken out); a create that asked
 * for ports is stamped PUBLISH_LABEL, and the proxy serves those ports itself: a listener on its
 * own address on the side the agent asked from (never the host's), forwarding to the child's
 * address on the stack's children network. Inspect and list of such a child show the proxy's
 * address and port, so that Testcontainers (host from DOCKER_HOST, port from inspect) connects to
 * the proxy with its defaults. Listeners go when the child stops or is removed.
 */
import * as net from 'node:net';
import { pipeline } from 'node:stream';
import { ConnectionCap } from '../common/admission';
import type { EngineJson } from './redact';
import { isOwn, PUBLISH_LABEL, WritePolicyOptions } from './write-policy';

/** A port key the proxy serves: TCP only (`5432/tcp`). */
const TCP_KEY = /^([0-9]{1,5})\/tcp$/;

interface Served {
  server: net.Server;
  port: number;
  target: string;
}

export interface PortLog {
  (entry: object): void;
}

/** Which of a child's exposed ports the proxy serves: those its create asked to publish, TCP only. */
export function portsToServe(container: EngineJson, options: Pick<WritePolicyOptions, 'owner'>): string[] {
  const labels = container?.Config?.Labels;
  if (!isOwn(labels, options)) return [];
  const asked = labels[PUBLISH_LABEL];
  if (typeof asked !== 'string' || asked === '') return [];
  const exposed = Object.keys(container?.Config?.ExposedPorts ?? {}).map((key) => (key.includes('/') ? key.toLowerCase() : `${key}/tcp`));
  const keys = asked === 'all' ? exposed : asked.split(',');
  return [...new Set(keys)].filter((key) => TCP_KEY.test(key)).sort();
}

/** The child's address on the children network: where the proxy forwards. */
export function childAddress(container: EngineJson, childrenNetwork: string): string | undefined {
  const address = container?.NetworkSettings?.Networks?.[childrenNetwork]?.IPAddress;
  return typeof address === 'string' && net.isIPv4(address) ? address : undefined;
}

export class PortServer {
  private readonly served = new Map<string, Served>();
  private readonly cap: ConnectionCap;

  constructor(
    private readonly options: Pick<WritePolicyOptions, 'owner' | 'childrenNetwork'>,
    private readonly log: PortLog,
    maxConnections: number,
  ) {
    this.cap = new ConnectionCap(maxConnections);
  }

  /** The listeners' keys: `<container id> <port key> <bind address>`. */
  keys(): string[] {
    return [...this.served.keys()];
  }

  /** Ensures a listener on `bind` for the child's port; resolves with its port. */
  async serve(containerId: string, key: string, target: string, bind: string): Promise<number> {
    const id = `${containerId} ${key} ${bind}`;
    const targetPort = Number((TCP_KEY.exec(key) as RegExpExecArray)[1]);
    const existing = this.served.get(id);
    if (existing && existing.target === `${target}:${targetPort}`) return existing.port;
    if (existing) this.close(id);
    const server = net.createServer((client) => {
      if (!this.cap.admit(client)) {
        this.log({ level: 'warn', msg: 'refused: too many connections to mapped ports', container: containerId.slice(0, 12), port: key });
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, target);
      const done = (error: Error | null | undefined) => {
        if (error) this.log({ msg: 'mapped port: forward failed', container: containerId.slice(0, 12), port: key, error: error.message });
        client.destroy();
        upstream.destroy();
      };
      pipeline(client, upstream, done);
      pipeline(upstream, client, done);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, bind, () => resolve());
    });
    const port = (server.address() as net.AddressInfo).port;
    this.served.set(id, { server, port, target: `${target}:${targetPort}` });
    this.log({ msg: 'mapped port', container: containerId.slice(0, 12), port: key, listen: `${bind}:${port}`, target: `${target}:${targetPort}` });
    return port;
  }

  private close(id: string): void {
    const served = this.served.get(id);
    if (!served) return;
    this.served.delete(id);
    served.server.close();
    this.log({ msg: 'mapped port closed', container: id.split(' ')[0].slice(0, 12), port: id.split(' ')[1] });
  }

  /** Closes the listeners of every container not in `running` (full ids). */
  keepOnly(running: ReadonlySet<string>): void {
    for (const id of [...this.served.keys()]) if (!running.has(id.split(' ')[0])) this.close(id);
  }

  closeAll(): void {
    for (const id of [...this.served.keys()]) this.close(id);
  }

  /**
   * An own child's inspect answer as the agent sees it: NetworkSettings.Ports shows the proxy's
   * address and port for each port served (a listener started on first sight), on `bind`, the
   * proxy's address the agent asked from. A stopped child's listeners are closed.
   */
  async rewriteInspect(container: EngineJson, bind: string): Promise<EngineJson> {
    const keys = portsToServe(container, this.options);
    if (keys.length === 0 || typeof container.Id !== 'string') return container;
    const target = childAddress(container, this.options.childrenNetwork);
    if (container?.State?.Running !== true || !target) {
      for (const id of this.keys()) if (id.startsWith(`${container.Id} `)) this.close(id);
      return container;
    }
    const ports: Record<string, unknown> = { ...(container.NetworkSettings?.Ports ?? {}) };
    for (const key of keys) {
      const port = await this.serve(container.Id, key, target, bind);
      ports[key] = [{ HostIp: bind, HostPort: String(port) }];
    }
    return { ...container, NetworkSettings: { ...(container.NetworkSettings ?? {}), Ports: ports } };
  }

  /**
   * A container list entry's Ports, for own children served here: the proxy's address and port
   * beside each served private port. Only listeners already started (by an inspect) are shown.
   */
  rewriteListEntry(entry: EngineJson, bind: string): EngineJson {
    if (!isOwn(entry?.Labels, this.options) || typeof entry.Id !== 'string' || !Array.isArray(entry.Ports)) return entry;
    const ports = entry.Ports.map((item: EngineJson) => {
      const served = item?.Type === 'tcp' ? this.served.get(`${entry.Id} ${item.PrivatePort}/tcp ${bind}`) : undefined;
      return served ? { ...item, IP: bind, PublicPort: served.port } : item;
    });
    return { ...entry, Ports: ports };
  }
}
