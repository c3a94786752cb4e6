/** The command line: argv picks help or --check; env picks the mode (egress, forward, socket proxy) and configures it. */
import type { AddressInfo } from 'node:net';
import { isEgressMode } from './common/vocabulary';
import { LIMITS_USAGE } from './common/limits';

export const USAGE = `devsec-socket-proxy — a read-only Docker socket proxy

Configured by environment variables only:
  SOCKET_PATH   upstream Docker socket (default /var/run/docker.sock)
  LISTEN        tcp://HOST:PORT or unix:///path (default tcp://127.0.0.1:2375;
                tcp://0.0.0.0:2375 in the image)
  SCOPE_LABEL   only containers matching one of these selectors are visible:
                KEY or KEY=VALUE, several separated by commas (default org.devsec.scope)
  LOG_LEVEL     debug | info | warn | error | silent (default info)
  PING VERSION EVENTS (on by default), CONTAINERS IMAGES INFO NETWORKS VOLUMES
  (off by default): Tecnativa-compatible read switches, 1 = on, 0 = off.
  Write switches (POST, EXEC, BUILD, ...) are refused in this version.

${LIMITS_USAGE}
  --check       exit 0 when the proxy on LISTEN answers /_ping (for healthchecks)

Forward mode (the localhost-proxy sidecar; no Docker access):
  FORWARD       LISTEN_PORT:HOST:PORT[,...], e.g. 3000:web:3000
  FORWARD_BIND  addresses to listen on (default 127.0.0.1,::1)

Egress mode (the sandbox's only way out: CONNECT and plain HTTP to listed hosts; no Docker access):
  EGRESS        1 selects this mode (any EGRESS_* variable without it is an error)
  EGRESS_LISTEN tcp://ADDRESS:PORT (default tcp://127.0.0.1:3128; tcp://0.0.0.0:3128 in compose)
  EGRESS_ALLOW  hosts, separated by commas or spaces: name, *.domain (subdomains at any depth,
                not domain itself), 192.0.2.1 or [2001:db8::1] (addresses only when listed
                exactly), each with an optional :PORT (default: EGRESS_PORTS). Case-insensitive.
  EGRESS_ALLOW_PRIVATE  exact names (or addresses) of EGRESS_ALLOW that may resolve to a private,
                loopback or link-local address (default none: such names are refused)
  EGRESS_PORTS  ports of entries without their own (default 443,80)
  EGRESS_MAX_CONNECTIONS  client connections at once, and upstream ones (default 256)
  EGRESS_HEADER_TIMEOUT   to receive a request's headers (default 10s)
  EGRESS_IDLE_TIMEOUT     a tunnel or request with no byte moving is closed (default 5m)
  EGRESS_CONNECT_TIMEOUT  to resolve a name and to connect upstream (default 10s)
  --check       exit 0 when the egress proxy on EGRESS_LISTEN answers
`;

export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  // Each mode loads its own modules only: the forwarder never loads the proxy's HTTP side
  // (bench/README.md, figure 6).
  if (argv.includes('--check')) return isEgressMode(env) ? (await import('./egress/run')).checkEgress(env) : (await import('./docker/run')).check(env);
  if (argv.length > 0) {
    process.stderr.write(`devsec-socket-proxy takes no arguments (got ${argv.join(' ')}); it is configured by environment.\n\n${USAGE}`);
    return 2;
  }
  if (isEgressMode(env)) return (await import('./egress/run')).runEgress(env);
  if (env.FORWARD !== undefined) return (await import('./forward/forward')).runForward(env);
  return runProxy(env);
}

/** The socket proxy, until SIGTERM or SIGINT. */
async function runProxy(env: NodeJS.ProcessEnv): Promise<number> {
  const { loadConfig, loadOrReport } = await import('./docker/config');
  const { createLogger } = await import('./common/logger');
  const { createProxyServer, listenOn } = await import('./docker/server');
  const config = loadOrReport(() => loadConfig(env));
  if (!config) return 2;
  const log = createLogger(config.logLevel);
  const server = createProxyServer(config, log);
  const listen = config.listen;
  await listenOn(server, listen);
  const enabled = Object.entries(config.switches)
    .filter(([, on]) => on)
    .map(([name]) => name);
  log.startup({
    msg: 'listening',
    listen: listen.kind === 'unix' ? `unix://${listen.path}` : `tcp://${listen.host}:${(server.address() as AddressInfo).port}`,
    upstream: config.socketPath,
    sections: enabled,
    scope: config.scope.selector,
  });

  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await new Promise((resolve) => server.once('close', resolve));
  return 0;
}
