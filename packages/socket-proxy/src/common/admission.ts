/**
 * A cap on connections open at once, shared by every listener of a mode. Over the cap a
 * connection is refused at once instead of queued: what one client holds stays bounded.
 */
import type { Socket } from 'node:net';

/** How long a refused connection is kept to read what its client sends after our answer. */
const LINGER_MS = 1000;

export class ConnectionCap {
  private open = 0;

  constructor(readonly max: number) {}

  /** Counts `socket` until it closes, or returns false when the cap is reached. */
  admit(socket: Socket): boolean {
    if (this.open >= this.max) return false;
    this.open++;
    socket.once('close', () => this.open--);
    return true;
  }
}

/**
 * Answers a connection that will not be served, once its client has spoken (or after `waitMs`):
 * an answer written before the request, or a close with the request unread, can reach the
 * client as a reset instead of our message. Then reads and drops what follows for a moment,
 * and closes.
 */
export function answerAndClose(socket: Socket, answer: string, waitMs: number): void {
  let answered = false;
  const reply = () => {
    if (answered) return;
    answered = true;
    clearTimeout(wait);
    socket.end(answer);
    // Not socket.setTimeout: a client trickling bytes would keep resetting it.
    const linger = setTimeout(() => socket.destroy(), LINGER_MS);
    socket.once('close', () => clearTimeout(linger));
  };
  const wait = setTimeout(reply, waitMs);
  socket.on('data', reply);
  socket.on('end', reply);
  socket.on('error', () => socket.destroy());
  socket.on('close', () => clearTimeout(wait));
}
