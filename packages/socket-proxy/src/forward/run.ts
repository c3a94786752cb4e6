/** Forward mode's entry: the localhost-proxy sidecar's TCP forwarding; no Docker access at all. */
import * as net from 'node:net';
import { parseLimits } from '../common/limits';
import { ForwardConfigError, parseBind, parseForward, startForwarding } from './forward';

/** Forward mode: TCP forwarding for the localhost-proxy sidecar, until SIGTERM or SIGINT. */
export async function runForward(env: NodeJS.ProcessEnv): Promise<number> {
  let rules;
  let addresses;
  const { limits, problems } = parseLimits(env, ['MAX_CONNECTIONS']);
  try {
    rules = parseForward(env.FORWARD as string);
    addresses = parseBind(env.FORWARD_BIND);
    if (problems.length > 0) throw new ForwardConfigError(problems.join('\n  - '));
  } catch (error) {
    if (error instanceof ForwardConfigError) {
      process.stderr.write(`devsec-socket-proxy will not start:\n  - ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const log = (entry: object) => process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', ...entry })}\n`);
  let servers;
  try {
    servers = await startForwarding(rules, addresses, log, limits.maxConnections);
  } catch (error) {
    process.stderr.write(`devsec-socket-proxy: cannot listen: ${(error as Error).message}\n`);
    return 1;
  }
  await new Promise((resolve) => {
    const stop = () => resolve(undefined);
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  for (const server of servers) server.close();
  return 0;
}

/** Forward mode's healthcheck (`--check`): the first listener accepts a connection. */
export function checkForward(env: NodeJS.ProcessEnv): Promise<number> {
  let port: number;
  let address: string;
  try {
    port = parseForward(env.FORWARD as string)[0].listenPort;
    address = parseBind(env.FORWARD_BIND)[0];
  } catch {
    return Promise.resolve(1);
  }
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: address, timeout: 3000 }, () => {
      socket.destroy();
      resolve(0);
    });
    socket.on('timeout', () => socket.destroy(new Error('timeout')));
    socket.on('error', () => resolve(1));
  });
}
