import { connect, Socket } from 'node:net';

/** A raw client connection that records what comes back, and when the proxy closed it. */
export interface RawConnection {
  socket: Socket;
  /** Everything received so far, as latin1 text. */
  received: () => string;
  /** The first status code received, once one has arrived. */
  status: () => number | undefined;
  /** Milliseconds from connect to close; resolves when the connection closes. */
  closed: Promise<number>;
}

export function openRaw(socketPath: string, payload?: string): RawConnection {
  const started = Date.now();
  const socket = connect(socketPath);
  const chunks: Buffer[] = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  // A reset after the answer is a close like any other here.
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)));
  if (payload !== undefined) socket.write(payload);
  const received = () => Buffer.concat(chunks).toString('latin1');
  return {
    socket,
    received,
    status: () => {
      const match = /^HTTP\/1\.[01] (\d{3}) /.exec(received());
      return match ? Number(match[1]) : undefined;
    },
    closed,
  };
}

/** Writes `text` one byte every `everyMs` until the connection closes. */
export function trickle(connection: RawConnection, text: string, everyMs: number): void {
  let next = 0;
  const timer = setInterval(() => {
    if (next >= text.length || connection.socket.destroyed) return clearInterval(timer);
    connection.socket.write(text[next++]);
  }, everyMs);
  connection.closed.then(() => clearInterval(timer));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}
