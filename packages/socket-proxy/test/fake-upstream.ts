import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Received {
  method: string;
  url: string;
  userAgent: string | undefined;
  headers: IncomingMessage['headers'];
}

/**
 * A stand-in for dockerd on a unix socket that records every request that reaches it.
 * `handler` may answer; otherwise it answers like dockerd would for an in-scope container.
 */
export async function startFakeUpstream(
  scope: Record<string, string>,
  handler?: (req: IncomingMessage, res: ServerResponse) => boolean,
): Promise<{ socketPath: string; received: Received[]; server: Server; close: () => Promise<void> }> {
  const socketPath = join(mkdtempSync(join(tmpdir(), 'devsec-upstream-')), 'docker.sock');
  const received: Received[] = [];
  const server = createServer((req, res) => {
    received.push({ method: req.method ?? '', url: req.url ?? '', userAgent: req.headers['user-agent'], headers: req.headers });
    if (handler && handler(req, res)) return;
    const json = (value: unknown) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const path = (req.url ?? '').split('?')[0];
    if (/\/containers\/[^/]+\/json$/.test(path)) return json({ Id: 'abc', Config: { Env: ['A=b'], Labels: scope } });
    if (/\/containers\/json$/.test(path)) return json([]);
    if (/\/networks\/[^/]+$/.test(path)) return json({ Name: 'n', Containers: {} });
    if (/\/networks$/.test(path)) return json([{ Name: 'n', Containers: {} }]);
    if (/\/volumes$/.test(path)) return json({ Volumes: [], Warnings: null });
    if (/\/images\/.+\/json$/.test(path)) return json({ Id: 'i', Config: { Env: [] } });
    if (/\/_ping$/.test(path)) {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Api-Version': '1.41' });
      return res.end('OK');
    }
    return json({});
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    received,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dirname(socketPath), { recursive: true, force: true });
          resolve();
        });
      }),
  };
}
