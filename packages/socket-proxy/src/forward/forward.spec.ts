import { createServer, connect, Server, Socket } from 'node:net';
import { ChildProcess, spawn } from 'node:child_process';
import { parseBind, parseForward } from './forward';
import { compiledProxyBin } from '../../test/proxy-process';

describe('forward mode', () => {
  it('parses LISTEN_PORT:HOST:PORT lists', () => {
    expect(parseForward('3000:web:3000, 3001:10.0.0.2:8080')).toEqual([
      { listenPort: 3000, host: 'web', port: 3000 },
      { listenPort: 3001, host: '10.0.0.2', port: 8080 },
    ]);
    expect(parseBind(undefined)).toEqual(['127.0.0.1', '::1']);
  });

  it.each(['', '3000', '3000:web', '70000:web:1', '3000:web:0', '3000:we b:1', '3000:-web:1'])('refuses FORWARD=%p', (spec) => {
    expect(() => parseForward(spec)).toThrow(/FORWARD/);
  });

  it('refuses a bind address that is not an IP', () => {
    expect(() => parseBind('localhost')).toThrow(/FORWARD_BIND=localhost: "localhost" is not an IP address/);
  });

  it('forwards bytes both ways through the real binary', async () => {
    const target: Server = createServer((socket) => socket.on('data', (data) => socket.end(`echo:${data}`)));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as { port: number }).port;
    const listenPort = targetPort + 1 < 65535 ? targetPort + 1 : targetPort - 1;
    const child = spawn(process.execPath, [compiledProxyBin()], {
      env: { PATH: process.env.PATH, FORWARD: `${listenPort}:127.0.0.1:${targetPort}`, FORWARD_BIND: '127.0.0.1' },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk) => {
          out += chunk;
          if (out.includes('"msg":"forwarding"')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const answer = await new Promise<string>((resolve, reject) => {
        let text = '';
        const client = connect(listenPort, '127.0.0.1', () => client.write('ping'));
        client.on('data', (data) => (text += data));
        client.on('end', () => resolve(text));
        client.on('error', reject);
      });
      expect(answer).toBe('echo:ping');
      // The image's healthcheck (--check) holds in forward mode too.
      const check = spawn(process.execPath, [compiledProxyBin(), '--check'], {
        env: { PATH: process.env.PATH, FORWARD: `${listenPort}:127.0.0.1:${targetPort}`, FORWARD_BIND: '127.0.0.1' },
      });
      expect(await new Promise((resolve) => check.once('exit', resolve))).toBe(0);
    } finally {
      child.kill('SIGTERM');
      target.close();
    }
  });

  it('closes a connection over MAX_CONNECTIONS at once, across every listener, and serves again once one closes', async () => {
    const held: Socket[] = [];
    const target: Server = createServer((socket) => held.push(socket.on('error', () => undefined)));
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve));
    const targetPort = (target.address() as { port: number }).port;
    const [first, second] = [targetPort + 1, targetPort + 2].map((port) => (port < 65535 ? port : port - 4));
    const child: ChildProcess = spawn(process.execPath, [compiledProxyBin()], {
      env: {
        PATH: process.env.PATH,
        FORWARD: `${first}:127.0.0.1:${targetPort},${second}:127.0.0.1:${targetPort}`,
        FORWARD_BIND: '127.0.0.1',
        MAX_CONNECTIONS: '2',
      },
    });
    let out = '';
    child.stdout?.on('data', (chunk) => (out += chunk));
    const connectTo = (port: number) =>
      new Promise<{ socket: Socket; closed: Promise<void> }>((resolve, reject) => {
        const socket = connect(port, '127.0.0.1', () => resolve({ socket, closed: new Promise((done) => socket.once('close', () => done())) }));
        socket.on('error', () => undefined);
        socket.once('close', () => reject(new Error('closed before connecting')));
      });
    try {
      await new Promise<void>((resolve, reject) => {
        const poll = setInterval(() => (out.match(/"msg":"forwarding"/g) ?? []).length === 2 && (clearInterval(poll), resolve()), 20);
        child.once('exit', (code) => reject(new Error(`exited ${code}`)));
      });
      const a = await connectTo(first);
      const b = await connectTo(second);
      // Admitted once forwarded: the kernel completes a connect before the forwarder accepts it.
      while (held.length < 2) await new Promise((resolve) => setTimeout(resolve, 20));
      const over = await connectTo(first);
      const started = Date.now();
      await over.closed;
      expect(Date.now() - started).toBeLessThan(500);
      expect(out).toMatch(/"level":"warn","msg":"refused: too many connections".*"limit":"MAX_CONNECTIONS=2"/);
      // The two under the cap are untouched, and a closed one frees its slot.
      expect(a.socket.destroyed || b.socket.destroyed).toBe(false);
      a.socket.destroy();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await connectTo(second);
      again.socket.write('hello');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(again.socket.destroyed).toBe(false);
      b.socket.destroy();
      again.socket.destroy();
    } finally {
      child.kill('SIGTERM');
      for (const socket of held) socket.destroy();
      target.close();
    }
  });

  it('refuses a MAX_CONNECTIONS that is not a count', async () => {
    const child = spawn(process.execPath, [compiledProxyBin()], { env: { PATH: process.env.PATH, FORWARD: '3000:web:3000', MAX_CONNECTIONS: 'many' } });
    let err = '';
    child.stderr.on('data', (chunk) => (err += chunk));
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(2);
    expect(err).toMatch(/MAX_CONNECTIONS=many is not a count/);
  });
});
