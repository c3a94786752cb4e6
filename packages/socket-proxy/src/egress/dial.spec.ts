import * as net from 'node:net';
import { dial, Dialed, Network, systemNetwork } from './dial';
import type { Refusal, Target } from './request';

const named = (name: string, port: number): Target => ({ host: { kind: 'name', name }, port });
/** A network whose names resolve as `answers` says; connections go to the loopback for real. */
function fakeNetwork(answers: Record<string, string[] | Error>, connect = systemNetwork.connect): Network & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    connect,
    lookup: async (name) => {
      asked.push(name);
      const answer = answers[name];
      if (answer instanceof Error) throw answer;
      return (answer ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    },
  };
}

describe('egress dial', () => {
  let server: net.Server;
  let port: number;
  const accepted: net.Socket[] = [];
  beforeAll(async () => {
    server = net.createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => {
    for (const socket of accepted) socket.destroy();
    server.close();
  });
  const close = (result: Dialed | Refusal) => {
    if ('socket' in result) result.socket.destroy();
    return result;
  };

  it('refuses a name that resolves to a non-public address, saying which and why', async () => {
    const result = await dial(named('metadata.example', 80), false, fakeNetwork({ 'metadata.example': ['169.254.169.254'] }), 1000);
    expect(result).toMatchObject({ status: 403, rule: 'private-address' });
    expect((result as Refusal).message).toMatch(
      /^metadata.example resolves to 169.254.169.254, which is not a public address \(link-local.*EGRESS_ALLOW_PRIVATE/,
    );
  });

  it('refuses a name with one private address among public ones', async () => {
    const network = fakeNetwork({ 'mixed.example': ['93.184.216.34', '10.0.0.8'] });
    expect(await dial(named('mixed.example', 443), false, network, 1000)).toMatchObject({ rule: 'private-address' });
  });

  it('refuses a listed private address unless it may reach one', async () => {
    const literal: Target = { host: { kind: 'ip', address: '127.0.0.1' }, port };
    expect(await dial(literal, false, systemNetwork, 1000)).toMatchObject({
      rule: 'private-address',
      message: expect.stringMatching(/^127.0.0.1 is not a public/),
    });
    expect(close(await dial(literal, true, systemNetwork, 1000))).toMatchObject({ address: '127.0.0.1' });
  });

  it('resolves once and connects to the address it judged (no second lookup to rebind)', async () => {
    let calls = 0;
    const network: Network = {
      connect: systemNetwork.connect,
      // The first answer is judged; a rebinding resolver would answer differently next time.
      lookup: async () => (calls++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '192.0.2.1', family: 4 }]),
    };
    const result = close(await dial(named('stand-in', port), true, network, 1000));
    expect(result).toMatchObject({ address: '127.0.0.1' });
    expect(calls).toBe(1);
  });

  it('tries the next address when one cannot be reached', async () => {
    const network = fakeNetwork({ 'stand-in': ['::1', '127.0.0.1'] });
    // Nothing listens on ::1 at this port (or IPv6 is off): refused, then IPv4 answers.
    const result = close(await dial(named('stand-in', port), true, network, 1000));
    expect(result).toMatchObject({ address: '127.0.0.1' });
  });

  it('answers 502 when a name does not resolve or nothing listens', async () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    expect(await dial(named('nowhere.example', 443), false, fakeNetwork({ 'nowhere.example': notFound }), 1000)).toMatchObject({
      status: 502,
      rule: 'resolve-failed',
      message: 'nowhere.example could not be resolved (ENOTFOUND).',
    });
    expect(await dial(named('empty.example', 443), false, fakeNetwork({}), 1000)).toMatchObject({ status: 502, rule: 'resolve-failed' });
    const closed = await new Promise<number>((resolve) => {
      const probe = net.createServer();
      probe.listen(0, '127.0.0.1', () => {
        const free = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(free));
      });
    });
    expect(await dial(named('stand-in', closed), true, fakeNetwork({ 'stand-in': ['127.0.0.1'] }), 1000)).toMatchObject({
      status: 502,
      rule: 'connect-failed',
      message: expect.stringContaining('ECONNREFUSED'),
    });
  });

  it('answers 504 when resolving or connecting takes longer than the connect timeout', async () => {
    const stalledLookup: Network = { connect: systemNetwork.connect, lookup: () => new Promise(() => undefined) };
    const started = Date.now();
    expect(await dial(named('slow.example', 443), false, stalledLookup, 200)).toMatchObject({ status: 504, rule: 'resolve-timeout' });
    expect(Date.now() - started).toBeLessThan(1000);
    // A socket that never connects, as behind a firewall that drops packets.
    let stalled: net.Socket | undefined;
    const network = fakeNetwork({ 'slow.example': ['93.184.216.34'] }, () => (stalled = new net.Socket()));
    expect(await dial(named('slow.example', 443), false, network, 200)).toMatchObject({ status: 504, rule: 'connect-timeout' });
    expect(stalled?.destroyed).toBe(true);
  });
});
