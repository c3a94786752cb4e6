import * as net from 'node:net';
import { childAddress, portsToServe, PortServer } from './ports';
import { OWNER_LABEL, PUBLISH_LABEL } from './write-policy';

const options = { owner: 'stack-a', childrenNetwork: 'stack-a_children' };

function child(overrides: { labels?: Record<string, string>; running?: boolean; address?: string; exposed?: string[] } = {}) {
  return {
    Id: 'c'.repeat(64),
    Config: {
      Labels: overrides.labels ?? { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: '5432/tcp' },
      ExposedPorts: Object.fromEntries((overrides.exposed ?? ['5432/tcp']).map((key) => [key, {}])),
    },
    State: { Running: overrides.running ?? true },
    NetworkSettings: { Ports: { '5432/tcp': null }, Networks: { 'stack-a_children': { IPAddress: overrides.address ?? '127.0.0.1' } } },
  };
}

describe('portsToServe', () => {
  it.each([
    ['the ports the create asked for', { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: '5432/tcp' }, ['5432/tcp']],
    ['every exposed TCP port for PublishAllPorts', { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: 'all' }, ['5432/tcp', '80/tcp']],
    ['nothing when the create asked for none', { [OWNER_LABEL]: 'stack-a' }, []],
    ["nothing for another stack's child", { [OWNER_LABEL]: 'stack-b', [PUBLISH_LABEL]: '5432/tcp' }, []],
    ['nothing for a sibling (no owner label)', { [PUBLISH_LABEL]: '5432/tcp' }, []],
    ['TCP only', { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: '53/udp,5432/tcp' }, ['5432/tcp']],
  ])('%s', (_name, labels, expected) => {
    expect(portsToServe(child({ labels, exposed: ['5432/tcp', '80', '53/udp'] }), options)).toEqual(expected);
  });

  it("forwards to the child's IPv4 address on the children network only", () => {
    expect(childAddress(child({ address: '10.9.0.3' }), 'stack-a_children')).toBe('10.9.0.3');
    expect(childAddress(child({ address: '10.9.0.3' }), 'other')).toBeUndefined();
    expect(childAddress(child({ address: 'evil.example' }), 'stack-a_children')).toBeUndefined();
  });
});

describe('PortServer', () => {
  let echo: net.Server;
  let echoPort: number;
  let ports: PortServer;

  beforeEach(async () => {
    echo = net.createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as net.AddressInfo).port;
    ports = new PortServer(options, () => undefined, 8);
  });
  afterEach(async () => {
    ports.closeAll();
    await new Promise((resolve) => echo.close(resolve));
  });

  const roundTrip = (port: number) =>
    new Promise<string>((resolve, reject) => {
      // As a database client talks: it writes, reads the answer, then closes (no half-close).
      const socket = net.connect(port, '127.0.0.1', () => socket.write('ping'));
      socket.once('data', (chunk) => {
        resolve(chunk.toString());
        socket.end();
      });
      socket.on('error', reject);
    });

  it("rewrites an own running child's inspect to the proxy's address and a port that forwards to the child", async () => {
    const container = child({ labels: { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: `${echoPort}/tcp` }, exposed: [`${echoPort}/tcp`] });
    const rewritten = await ports.rewriteInspect(container, '127.0.0.1');
    const binding = rewritten.NetworkSettings.Ports[`${echoPort}/tcp`];
    expect(binding).toEqual([{ HostIp: '127.0.0.1', HostPort: expect.stringMatching(/^[0-9]+$/) }]);
    expect(Number(binding[0].HostPort)).not.toBe(echoPort);
    expect(await roundTrip(Number(binding[0].HostPort))).toBe('ping');
    // The same port on the next inspect: one listener per child port.
    const again = await ports.rewriteInspect(container, '127.0.0.1');
    expect(again.NetworkSettings.Ports[`${echoPort}/tcp`]).toEqual(binding);
    expect(ports.keys()).toHaveLength(1);
  });

  it('closes the listeners of a child that stopped (inspect) or is gone (keepOnly)', async () => {
    const labels = { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: `${echoPort}/tcp` };
    const container = child({ labels, exposed: [`${echoPort}/tcp`] });
    const port = Number((await ports.rewriteInspect(container, '127.0.0.1')).NetworkSettings.Ports[`${echoPort}/tcp`][0].HostPort);
    const stopped = await ports.rewriteInspect(child({ labels, running: false, exposed: [`${echoPort}/tcp`] }), '127.0.0.1');
    expect(stopped.NetworkSettings.Ports).toEqual({ '5432/tcp': null });
    expect(ports.keys()).toEqual([]);
    await expect(roundTrip(port)).rejects.toThrow(/ECONNREFUSED/);
    await ports.rewriteInspect(container, '127.0.0.1');
    ports.keepOnly(new Set(['other']));
    expect(ports.keys()).toEqual([]);
  });

  it("leaves a sibling's and another stack's inspect alone and opens nothing", async () => {
    for (const labels of [{ [PUBLISH_LABEL]: '5432/tcp' }, { [OWNER_LABEL]: 'stack-b', [PUBLISH_LABEL]: '5432/tcp' }] as Array<Record<string, string>>) {
      const container = child({ labels });
      expect(await ports.rewriteInspect(container, '127.0.0.1')).toBe(container);
    }
    expect(ports.keys()).toEqual([]);
  });

  it("shows a served port in the list's Ports", async () => {
    const labels = { [OWNER_LABEL]: 'stack-a', [PUBLISH_LABEL]: `${echoPort}/tcp` };
    const container = child({ labels, exposed: [`${echoPort}/tcp`] });
    const port = Number((await ports.rewriteInspect(container, '127.0.0.1')).NetworkSettings.Ports[`${echoPort}/tcp`][0].HostPort);
    const entry = { Id: container.Id, Labels: labels, Ports: [{ PrivatePort: echoPort, Type: 'tcp' }] };
    expect(ports.rewriteListEntry(entry, '127.0.0.1').Ports).toEqual([{ PrivatePort: echoPort, Type: 'tcp', IP: '127.0.0.1', PublicPort: port }]);
  });
});

describe('the proxy on the children network', () => {
  // A fake engine whose only own child has the address 127.0.0.1: a TCP client from there is a child.
  const withProxy = async (childAddress: string, run: (port: number) => Promise<void>) => {
    const { createServer } = await import('node:http');
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { loadConfig } = await import('./config');
    const { createProxyServer } = await import('./server');
    const dir = mkdtempSync(join(tmpdir(), 'devsec-ports-'));
    const engine = createServer((req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      if ((req.url ?? '').startsWith('/containers/json')) {
        return res.end(JSON.stringify([{ Id: 'c1', State: 'running', NetworkSettings: { Networks: { 'stack-a_children': { IPAddress: childAddress } } } }]));
      }
      res.end('OK');
    });
    await new Promise<void>((resolve) => engine.listen(join(dir, 'engine.sock'), resolve));
    const env = {
      CONTAINERS: '1',
      SCOPE_LABEL: 'com.docker.compose.project=stack-a',
      WRITE_POLICY: '1',
      WRITE_OWNER: 'stack-a',
      CHILDREN_NETWORK: 'stack-a_children',
      LOG_LEVEL: 'silent',
      SOCKET_PATH: join(dir, 'engine.sock'),
    };
    const proxy = createProxyServer(
      { ...loadConfig(env), listen: { kind: 'tcp', host: '127.0.0.1', port: 0 } },
      { access: () => undefined, error: () => undefined },
    );
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      await run((proxy.address() as net.AddressInfo).port);
    } finally {
      proxy.closeAllConnections();
      engine.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      await new Promise((resolve) => engine.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  };
  const ping = (port: number) =>
    new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n'));
      let data = '';
      socket.on('data', (chunk) => (data += chunk));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });

  it("refuses the API to a connection from a child's address, and serves the dev container's", async () => {
    await withProxy('127.0.0.1', async (port) => expect(await ping(port)).toBe(''));
    await withProxy('10.9.0.3', async (port) => expect(await ping(port)).toMatch(/^HTTP\/1\.1 200/));
  });
});
