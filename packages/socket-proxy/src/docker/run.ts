/** The image's healthcheck (`--check`), in either mode. */
import * as http from 'node:http';
import * as net from 'node:net';
import { DEFAULT_LISTEN, parseListen } from './config';
import { parseBind, parseForward } from '../forward/forward';

/** Healthcheck: asks the running proxy, through its own listener, for /_ping. */
export function check(env: NodeJS.ProcessEnv): Promise<number> {
  if (env.FORWARD !== undefined) return checkForward(env);
  const listen = parseListen(env.LISTEN ?? DEFAULT_LISTEN);
  const target =
    listen.kind === 'unix'
      ? { socketPath: listen.path }
      : { host: listen.host === '0.0.0.0' || listen.host === '::' ? '127.0.0.1' : listen.host, port: listen.port };
  return new Promise((resolve) => {
    const request = http.request({ ...target, path: '/_ping', method: 'GET', timeout: 3000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200 ? 0 : 1);
    });
    request.on('timeout', () => request.destroy(new Error('timeout')));
    request.on('error', () => resolve(1));
    request.end();
  });
}

/** Forward mode's healthcheck: the first listener accepts a connection. */
function checkForward(env: NodeJS.ProcessEnv): Promise<number> {
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
