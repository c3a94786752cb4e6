/** A proxy client of raw sockets: Node 20's fetch has no proxy support without undici's ProxyAgent. */
import { connect, Socket } from 'node:net';
import { rawExchange } from './raw-http';

/** Sends raw bytes and returns everything that comes back before the proxy closes (or `timeoutMs`). */
export const rawTcp = (port: number, payload: string | Buffer, timeoutMs = 3000): Promise<string> => rawExchange(port, payload, timeoutMs);

/** Sends CONNECT and resolves once the proxy's answer head has arrived, with the socket still open. */
export function connectThrough(port: number, authority: string): Promise<{ status: number; head: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    let received = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      const head = received.subarray(0, end).toString('latin1');
      const rest = received.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve({ status: statusOf(head), head, socket });
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Everything a socket still receives until it closes, as text. */
export function readToEnd(socket: Socket): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', () => undefined);
  });
}

export const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
