/**
 * Streaming behaviour of the proxy binary (logs -f, events) in front of a stand-in for dockerd
 * whose timing we control: no idle timeout, backpressure, upstream closed when the client goes.
 */
import { get, IncomingMessage } from 'node:http';
import { startFakeUpstream } from './fake-upstream';
import { RunningProxy, startProxy } from './proxy-process';

jest.setTimeout(60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('streams through the proxy', () => {
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let proxy: RunningProxy;
  const state = { upstreamClosed: false, bytesWritten: 0 };

  beforeAll(async () => {
    upstream = await startFakeUpstream({ 'org.devsec.scope': 'streams' }, (req, res) => {
      const url = req.url ?? '';
      if (url.includes('/logs') && url.includes('flood=1')) {
        // As fast as the consumer allows, and no faster.
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = () => {
          while (!res.destroyed) {
            state.bytesWritten += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
        return true;
      }
      if (url.includes('/logs')) {
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.raw-stream' });
        res.write('first\n');
        // Idle for longer than Node's keep-alive (5 s) before the next line.
        const timer = setTimeout(() => res.write('after-idle\n'), 6500);
        res.on('close', () => {
          clearTimeout(timer);
          state.upstreamClosed = true;
        });
        return true;
      }
      if (url.startsWith('/v1.41/events') || url.startsWith('/events')) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        const events = [
          { Type: 'container', Action: 'start', Actor: { ID: '1', Attributes: { name: 'mine', 'org.devsec.scope': 'streams' } } },
          { Type: 'container', Action: 'start', Actor: { ID: '2', Attributes: { name: 'theirs' } } },
          { Type: 'network', Action: 'connect', Actor: { ID: '3', Attributes: { name: 'net', 'org.devsec.scope': 'streams' } } },
          { Type: 'container', Action: 'die', Actor: { ID: '1', Attributes: { name: 'mine-é', 'org.devsec.scope': 'streams' } } },
        ];
        // Split the stream at awkward places, even inside a multi-byte character.
        const text = Buffer.from(events.map((event) => JSON.stringify(event) + '\n').join(''));
        let offset = 0;
        const step = () => {
          if (offset >= text.length) return void res.end();
          res.write(text.subarray(offset, offset + 37));
          offset += 37;
          setTimeout(step, 5);
        };
        step();
        return true;
      }
      return false;
    });
    proxy = await startProxy({ SOCKET_PATH: upstream.socketPath, CONTAINERS: '1', SCOPE_LABEL: 'org.devsec.scope=streams', LOG_LEVEL: 'error' });
  });

  afterAll(async () => {
    await proxy?.stop();
    await upstream?.close();
  });

  const open = (path: string) => new Promise<IncomingMessage>((resolve, reject) => get({ socketPath: proxy.socketPath, path }, resolve).on('error', reject));

  it('keeps a quiet logs -f open past every server timeout, and closes upstream when the client goes', async () => {
    const response = await open('/v1.41/containers/abc/logs?follow=1&stdout=1');
    expect(response.statusCode).toBe(200);
    let text = '';
    response.on('data', (chunk) => (text += chunk));
    await sleep(7500);
    expect(text).toBe('first\nafter-idle\n');
    expect(state.upstreamClosed).toBe(false);
    response.destroy();
    for (let i = 0; i < 40 && !state.upstreamClosed; i++) await sleep(50);
    expect(state.upstreamClosed).toBe(true);
  });

  it('applies backpressure: a client that stops reading stops the upstream', async () => {
    const response = await open('/v1.41/containers/abc/logs?follow=1&stdout=1&flood=1');
    response.pause();
    await sleep(1500);
    const stalledAt = state.bytesWritten;
    await sleep(500);
    // Socket buffers hold some megabytes at most; without backpressure this would be gigabytes.
    expect(stalledAt).toBeLessThan(32 * 1024 * 1024);
    expect(state.bytesWritten - stalledAt).toBeLessThan(1024 * 1024);
    // Reading again resumes the flow.
    let received = 0;
    response.on('data', (chunk) => (received += chunk.length));
    response.resume();
    await sleep(300);
    expect(received).toBeGreaterThan(stalledAt / 2);
    response.destroy();
  });

  it('passes only events of containers in scope, whole and in order', async () => {
    const response = await open('/v1.41/events');
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk) => (text += chunk));
    await new Promise((resolve) => response.on('end', resolve));
    const events = text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events.map((event) => `${event.Actor.Attributes.name} ${event.Action}`)).toEqual(['mine start', 'mine-é die']);
    // The engine was asked for container events only; the scope (any of its selectors) is the proxy's.
    const asked = upstream.received.filter((request) => request.url.startsWith('/v1.41/events'));
    expect(decodeURIComponent(asked[0].url)).toBe('/v1.41/events?filters={"type":["container"]}');
  });
});
