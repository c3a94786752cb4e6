/**
 * The names the devsec plugin shares with the proxy, defined once. The plugin loads this module
 * at graph time (`@org/devsec-socket-proxy/vocabulary`), so it imports nothing.
 *
 * The switch names are Tecnativa docker-socket-proxy's, so an existing compose file keeps its
 * meaning.
 */

/** Read switches and the proxy's own defaults (Tecnativa's: PING, VERSION, EVENTS on; the rest off). */
export const READ_SWITCHES = Object.freeze({
  PING: true,
  VERSION: true,
  EVENTS: true,
  CONTAINERS: false,
  IMAGES: false,
  INFO: false,
  NETWORKS: false,
  VOLUMES: false,
});
export type ReadSwitch = keyof typeof READ_SWITCHES;

/**
 * Write switches are recognised so that a compose file written for Tecnativa fails loudly
 * instead of silently doing less: this version grants no write access at all.
 */
export const WRITE_SWITCHES = Object.freeze([
  'POST',
  'BUILD',
  'COMMIT',
  'EXEC',
  'SWARM',
  'AUTH',
  'SECRETS',
  'CONFIGS',
  'PLUGINS',
  'NODES',
  'SERVICES',
  'TASKS',
  'SESSION',
  'GRPC',
  'DISTRIBUTION',
  'SYSTEM',
  'ALLOW_START',
  'ALLOW_STOP',
  'ALLOW_RESTARTS',
] as const);
export type WriteSwitch = (typeof WRITE_SWITCHES)[number];

/** The label the write policy (--testContainers) stamps on what the agent creates: its stack's compose project. */
export const OWNER_LABEL = 'org.devsec.owner';

/** The label key the proxy scopes by when SCOPE_LABEL is not set. */
export const DEFAULT_SCOPE_LABEL = 'org.devsec.scope';

/** The port the proxy listens on (Docker's plain-TCP port). */
export const PROXY_PORT = 2375;

/** The environment variables that configure the proxy (it takes no arguments). */
export const PROXY_ENV = Object.freeze({
  SOCKET_PATH: 'SOCKET_PATH',
  LISTEN: 'LISTEN',
  SCOPE_LABEL: 'SCOPE_LABEL',
  LOG_LEVEL: 'LOG_LEVEL',
  FORWARD: 'FORWARD',
  FORWARD_BIND: 'FORWARD_BIND',
} as const);
export type ProxyEnvName = keyof typeof PROXY_ENV;

/**
 * The write policy (the generator's --testContainers): the agent's own containers, networks and
 * volumes. WRITE_POLICY=1 turns it on; the rest configure it (defaults in the proxy's config).
 */
export const WRITE_POLICY_ENV = Object.freeze({
  WRITE_POLICY: 'WRITE_POLICY',
  WRITE_OWNER: 'WRITE_OWNER',
  CHILDREN_NETWORK: 'CHILDREN_NETWORK',
  CHILD_MEMORY: 'CHILD_MEMORY',
  CHILD_PIDS: 'CHILD_PIDS',
  CHILD_CPUS: 'CHILD_CPUS',
  CHILD_RUNTIME: 'CHILD_RUNTIME',
  MAX_CHILDREN: 'MAX_CHILDREN',
  ALLOW_REGISTRIES: 'ALLOW_REGISTRIES',
} as const);
export type WritePolicyEnvName = keyof typeof WRITE_POLICY_ENV;

/** The egress proxy's port: Squid's, which proxy-aware tools and people expect. */
export const EGRESS_PORT = 3128;

/** Ports an EGRESS_ALLOW entry without its own `:port` may be reached on. */
export const EGRESS_DEFAULT_PORTS = Object.freeze([443, 80] as const);

/**
 * The environment of the egress mode (EGRESS=1): the dev container's only way out. The plugin
 * writes EGRESS_ALLOW (and EGRESS_ALLOW_PRIVATE for stand-ins on a private address) from the
 * generator's --allowHosts.
 */
export const EGRESS_ENV = Object.freeze({
  EGRESS: 'EGRESS',
  EGRESS_LISTEN: 'EGRESS_LISTEN',
  EGRESS_ALLOW: 'EGRESS_ALLOW',
  EGRESS_ALLOW_PRIVATE: 'EGRESS_ALLOW_PRIVATE',
  EGRESS_PORTS: 'EGRESS_PORTS',
  EGRESS_MAX_CONNECTIONS: 'EGRESS_MAX_CONNECTIONS',
  EGRESS_HEADER_TIMEOUT: 'EGRESS_HEADER_TIMEOUT',
  EGRESS_IDLE_TIMEOUT: 'EGRESS_IDLE_TIMEOUT',
  EGRESS_CONNECT_TIMEOUT: 'EGRESS_CONNECT_TIMEOUT',
  /** http://[user:password@]host:port of the company's proxy: what is let through leaves by it. */
  EGRESS_UPSTREAM_PROXY: 'EGRESS_UPSTREAM_PROXY',
  /** What goes direct instead (NO_PROXY's syntax). */
  EGRESS_NO_PROXY: 'EGRESS_NO_PROXY',
} as const);
export type EgressEnvName = keyof typeof EGRESS_ENV;

/**
 * The egress mode is EGRESS=1; any EGRESS_* variable also selects it, so that an egress
 * configuration missing its switch fails loudly instead of starting a Docker socket proxy.
 */
export function isEgressMode(env: NodeJS.ProcessEnv): boolean {
  return Object.keys(env).some((name) => name === EGRESS_ENV.EGRESS || name.startsWith(`${EGRESS_ENV.EGRESS}_`));
}
