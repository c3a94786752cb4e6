/** npm names and the labels our generated files carry. */
export const PLUGIN_PACKAGE = '@org/devsec';
export const PROXY_PACKAGE = '@org/devsec-socket-proxy';

/** Marks every container of a devsec stack (the dev container, its proxy, shared services). */
export const MANAGED_LABEL = 'org.devsec.managed';
/** The Nx project a stack belongs to. */
export const PROJECT_LABEL = 'org.devsec.project';
/** The proxy shows only containers with this label (value: the shared network's name). */
export const SCOPE_LABEL = 'org.devsec.scope';

export const DEVCONTAINER_DIR = '.devcontainer';
export const COMPOSE_FILE = 'docker-compose.yml';
export const DEVCONTAINER_JSON = 'devcontainer.json';
export const DOCKERFILE = 'Dockerfile';
/** The shared services of every worktree, at the workspace root. */
export const SHARED_COMPOSE_FILE = 'docker-compose.shared.yml';
/** The stack's services that the user owns (written once). */
export const SERVICES_COMPOSE_FILE = 'docker-compose.services.yml';

/** Node LTS on Debian 13 (trixie), whose apt has `docker-cli` (Debian 12's has not). */
export const DEFAULT_BASE_IMAGE = 'node:24-trixie-slim';
export const DEFAULT_NETWORK = 'dev';
/** The non-root user of the Node images (uid 1000). */
export const CONTAINER_USER = 'node';
export const CONTAINER_WORKSPACE = '/workspace';
export const PROXY_PORT = 2375;

/** Tecnativa's read switches we expose, and their defaults in a generated stack. */
export const READ_SWITCH_DEFAULTS = {
  CONTAINERS: true,
  IMAGES: true,
  INFO: true,
  NETWORKS: true,
  VOLUMES: true,
  EVENTS: true,
  PING: true,
  VERSION: true,
} as const;
export type ReadSwitch = keyof typeof READ_SWITCH_DEFAULTS;

/** Tecnativa's write switches: recognised, and refused in this version. */
export const WRITE_SWITCHES = [
  'POST', 'BUILD', 'COMMIT', 'EXEC', 'SWARM', 'AUTH', 'SECRETS', 'CONFIGS', 'PLUGINS', 'NODES',
  'SERVICES', 'TASKS', 'SESSION', 'GRPC', 'DISTRIBUTION', 'SYSTEM', 'ALLOW_START', 'ALLOW_STOP', 'ALLOW_RESTARTS',
] as const;
export type WriteSwitch = (typeof WRITE_SWITCHES)[number];

/**
 * Each agent gets its own config directory on a named volume of the stack — never the host's
 * `~/.claude` or `~/.codex`, whose hooks and settings the host's own agent would later run.
 */
export const AGENTS = {
  claude: { configDir: '/home/node/.claude', env: { CLAUDE_CONFIG_DIR: '/home/node/.claude' }, npmPackage: '@anthropic-ai/claude-code' },
  codex: { configDir: '/home/node/.codex', env: { CODEX_HOME: '/home/node/.codex' }, npmPackage: '@openai/codex' },
  none: undefined,
} as const;
export type Agent = keyof typeof AGENTS;
