/**
 * The proxy binary, with its default limits, in front of the real engine, under what issue #15
 * tried: 3,000 concurrent `GET /events` (once 168 MB and 3,000 engine streams), and a refused
 * request whose 100 MB body trickles in one byte a second (once held for more than 70 s).
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect, Socket } from 'node:net';
import { describeWithDocker } from '../../../tools/testing/docker';
import { DEFAULT_LIMITS } from '../src/common/limits';
import { RunningProxy, startProxy } from './proxy-process';
import { openRaw, sleep, trickle } from './raw-client';

jest.setTimeout(120_000);

const FLOOD = 3000;
const MB = 1024 * 1024;

/** Resident memory of a process, now and at its peak, from /proc. */
function memoryOf(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number((new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status) as RegExpExecArray)[1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** Opens a raw connection that sends `GET /events` and resolves with the first status (or how it ended). */
function floodOne(socketPath: string, open: Set<Socket>): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let settled = false;
    const settle = (outcome: string) => {
      if (!settled) resolve(outcome);
      settled = true;
    };
    socket.on('data', (chunk) => settle(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 'data'));
    socket.on('error', (error: Error & { code?: string }) => {
      // A full accept queue on a unix socket: knock again, as a client would.
      if (error.code === 'EAGAIN' && !settled) {
        settled = true;
        setTimeout(() => floodOne(socketPath, open).then(resolve), 5);
        return;
      }
      settle(error.code ?? 'error');
    });
    socket.on('close', () => {
      open.delete(socket);
      settle('closed');
    });
    open.add(socket);
    socket.write('GET /events HTTP/1.1\r\nHost: docker\r\n\r\n');
  });
}

/** Sockets a process holds open, from /proc. */
function socketsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:');
    } catch {
      return false; // closed while we looked
    }
  }).length;
}

function timedDockerPs(host: string): Promise<{ status: number | null; ms: number; stderr: string }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host };
    delete env.DOCKER_CONTEXT;
    const child = spawn('docker', ['ps'], { env });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, ms: Date.now() - started, stderr }));
  });
}

describeWithDocker('the proxy binary under a flood and a trickle, on the real engine, with its default limits', () => {
  let proxy: RunningProxy;

  beforeAll(async () => {
    proxy = await startProxy({ SOCKET_PATH: '/var/run/docker.sock', CONTAINERS: '1', LOG_LEVEL: 'info' });
  });
  afterAll(async () => {
    await proxy?.stop();
  });

  it(`holds ${FLOOD} concurrent GET /events under 100 MB, at most MAX_STREAMS streams at the engine, and docker ps answers within a second`, async () => {
    const pid = proxy.child.pid as number;
    const open = new Set<Socket>();
    let peakSampled = 0;
    const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, memoryOf(pid).rss)), 25);
    const outcomes = await Promise.all(Array.from({ length: FLOOD }, () => floodOne(proxy.socketPath, open)));
    await sleep(500);
    const counts: Record<string, number> = {};
    for (const outcome of outcomes) counts[outcome] = (counts[outcome] ?? 0) + 1;
    // The streams the cap lets through stay open; every other request got the 503 at once.
    expect(counts).toEqual({ 200: DEFAULT_LIMITS.maxStreams, 503: FLOOD - DEFAULT_LIMITS.maxStreams });
    expect(open.size).toBe(DEFAULT_LIMITS.maxStreams);

    const ps = await timedDockerPs(proxy.host);
    const memory = memoryOf(pid);
    const sockets = socketsOf(pid);
    clearInterval(sampler);
    for (const socket of open) socket.destroy();
    process.stdout.write(
      `flood: ${JSON.stringify(counts)}, peak RSS ${(Math.max(memory.peak, peakSampled) / MB).toFixed(1)} MB, ` +
        `${sockets} sockets held, docker ps ${ps.ms} ms\n`,
    );
    expect(ps.stderr).toBe('');
    expect(ps.status).toBe(0);
    expect(ps.ms).toBeLessThan(1000);
    expect(Math.max(memory.peak, peakSampled)).toBeLessThan(100 * MB);
    // One client socket and one engine socket per stream, and the listener: nothing queued.
    expect(sockets).toBeLessThanOrEqual(2 * DEFAULT_LIMITS.maxStreams + 4);
    expect(proxy.output()).toMatch(/"rule":"max-streams","status":503/);
  });

  it('closes a refused request whose 100 MB body trickles in one byte a second within a few seconds, with its answer', async () => {
    const head = 'POST /containers/create HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{';
    const trickling = openRaw(proxy.socketPath, head);
    trickle(trickling, 'x'.repeat(100), 1000);
    const closedAfter = await trickling.closed;
    process.stdout.write(`trickle: closed after ${closedAfter} ms\n`);
    expect(closedAfter).toBeLessThan(DEFAULT_LIMITS.bodyTimeoutMs + 2000);
    expect(trickling.status()).toBe(403);
  });

  it('closes a client that sends its headers one byte a second within a few seconds, with a 408', async () => {
    const slow = openRaw(proxy.socketPath, 'G');
    trickle(slow, 'ET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n', 1000);
    const closedAfter = await slow.closed;
    process.stdout.write(`slow headers: closed after ${closedAfter} ms\n`);
    expect(closedAfter).toBeLessThan(DEFAULT_LIMITS.headersTimeoutMs + 2500);
    expect(slow.status()).toBe(408);
  });
});
