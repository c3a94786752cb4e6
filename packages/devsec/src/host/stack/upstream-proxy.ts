/**
 * The company's HTTP proxy, for the egress proxy to leave through: `up-worktree --upstreamProxy=URL`,
 * else HTTPS_PROXY / HTTP_PROXY of the shell that starts the sandbox (never of a workspace `.env`
 * file: workspace-env.ts refuses those). The URL, credentials and all, reaches the egress proxy
 * only through the environment Compose runs with (interpolated into the egress proxy's
 * EGRESS_UPSTREAM_PROXY): never a file of the workspace (`.env` and the override file sit in the
 * sandbox definition, which the dev container reads), never the dev container's environment, and
 * the socket proxy redacts every container's environment from the agent's `docker inspect`.
 */
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

/** The variable Compose interpolates; set in the compose process's environment only. */
export const UPSTREAM_PROXY_VARIABLE = 'DEVSEC_EGRESS_UPSTREAM_PROXY';
/** What the override file gives the egress proxy: a reference, never the value. */
export const UPSTREAM_PROXY_REFERENCE = `\${${UPSTREAM_PROXY_VARIABLE}:-}`;

export interface UpstreamProxyPlan {
  /** The URL with its credentials: for the compose process's environment only. */
  url: string;
  /** The URL without credentials, for what is printed. */
  shown: string;
  /** NO_PROXY of the shell, as the egress proxy reads it. */
  noProxy: string;
  /** Where it came from, for the message. */
  from: string;
}

/** A NO_PROXY entry the egress proxy reads: `*`, a name or `.domain`/`*.domain`, an address or CIDR, each with an optional :port. */
const NO_PROXY_ENTRY =
  /^(\*|(\*?\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*|[0-9.]+(\/[0-9]{1,2})?|\[[0-9a-f:.]+\](\/[0-9]{1,3})?|[0-9a-f:.]*:[0-9a-f:.]*(\/[0-9]{1,3})?)(:[0-9]{1,5})?$/i;

/** The upstream proxy this start uses, or undefined (direct). */
export function upstreamProxyPlan(given: string | undefined, env: NodeJS.ProcessEnv, say: (line: string) => void): UpstreamProxyPlan | undefined {
  const names = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'];
  const fromEnv = names.find((name) => env[name]);
  const raw = given || (fromEnv ? env[fromEnv] : undefined);
  if (!raw) return undefined;
  const from = given ? '--upstreamProxy' : `${fromEnv} of your shell`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new SandboxError(`Refusing to start: ${from} is not a URL. Give the company proxy as http://[user:password@]host:port.`);
  }
  const shown = `${url.protocol}//${url.host}`;
  if (url.protocol !== 'http:' || (url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) {
    throw new SandboxError(
      `Refusing to start: ${from} (${visible(shown)}) is not http://host:port: the egress proxy speaks plain HTTP to the company proxy (the tunnels inside stay TLS).`,
    );
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || /^127\./.test(host) || host === '::1') {
    throw new SandboxError(
      `Refusing to start: ${from} is ${visible(shown)}, this machine's loopback, which the egress proxy's container cannot reach. ` +
        "Give an address of this machine the containers reach (its LAN address, or the docker bridge's gateway) with --upstreamProxy.",
    );
  }
  const entries = (env.NO_PROXY ?? env.no_proxy ?? '').split(/[\s,]+/).filter(Boolean);
  const kept = entries.filter((entry) => NO_PROXY_ENTRY.test(entry));
  const dropped = entries.filter((entry) => !kept.includes(entry));
  if (dropped.length)
    say(`NO_PROXY: left out ${dropped.map((entry) => visible(entry)).join(', ')} (not a host, domain, address or CIDR the egress proxy reads).`);
  say(
    `The egress proxy leaves through ${visible(shown)} (${from})${kept.length ? `, except for ${kept.join(',')}` : ''}; credentials, if any, stay on this side.`,
  );
  return { url: url.href.replace(/\/$/, ''), shown, noProxy: kept.join(','), from };
}
