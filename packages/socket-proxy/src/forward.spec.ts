import { createServer, connect, Server } from 'node:net';
import { spawn } from 'node:child_process';
import { parseBind, parseForward } from './forward';
import { compiledProxyBin } from '../test/proxy-process';

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
});
