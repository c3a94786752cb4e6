/** The command line: argv picks help or --check; env picks the mode (egress, forward, socket proxy) and configures it. */
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
  EGRESS_UPSTREAM_PROXY  http://[user:password@]host:port of a company proxy: what is let through
                    leaves by it (CONNECT chaining, absolute-form for plain http); its address may be
                    private (it is the way out, not a destination); the log shows it without credentials
  EGRESS_NO_PROXY  what goes direct instead, as NO_PROXY says it (.domain, host, address, CIDR, :port)
  --check       exit 0 when the egress proxy on EGRESS_LISTEN answers
`;

/** What main runs in a mode: the mode itself, or its healthcheck (`--check`). */
interface ModeEntry {
  run(env: NodeJS.ProcessEnv): Promise<number>;
  check(env: NodeJS.ProcessEnv): Promise<number>;
}

type Mode = 'docker' | 'egress' | 'forward';

/**
 * Each mode's entry, from its own folder, loaded only when that mode runs: the forwarder never
 * loads the proxy's HTTP side (bench/README.md, figure 6).
 */
const MODES: Record<Mode, () => Promise<ModeEntry>> = {
  docker: async () => {
    const { runDocker, checkDocker } = await import('./docker/run');
    return { run: runDocker, check: checkDocker };
  },
  egress: async () => {
    const { runEgress, checkEgress } = await import('./egress/run');
    return { run: runEgress, check: checkEgress };
  },
  forward: async () => {
    const { runForward, checkForward } = await import('./forward/run');
    return { run: runForward, check: checkForward };
  },
};

/** EGRESS (or any EGRESS_* variable) picks egress mode, FORWARD forward mode; else the Docker socket proxy. */
function modeOf(env: NodeJS.ProcessEnv): Mode {
  if (isEgressMode(env)) return 'egress';
  if (env.FORWARD !== undefined) return 'forward';
  return 'docker';
}

export async function main(argv: string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (argv.includes('--check')) return (await MODES[modeOf(env)]()).check(env);
  if (argv.length > 0) {
    process.stderr.write(`devsec-socket-proxy takes no arguments (got ${argv.join(' ')}); it is configured by environment.\n\n${USAGE}`);
    return 2;
  }
  return (await MODES[modeOf(env)]()).run(env);
}
