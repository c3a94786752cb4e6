/**
 * The stack's vocabulary, defined once: package names, labels, file names, service and network
 * names, ports, reserved names and credential paths. No other module spells these as literals.
 * What the proxy must agree on (switch names, scope label, port) comes from the proxy package's
 * own vocabulary, so the two cannot drift. Imports nothing else: the plugin loads it on every
 * graph computation.
 */
import {
  DEFAULT_SCOPE_LABEL,
  EGRESS_PORT,
  OWNER_LABEL,
  PROXY_PORT,
  READ_SWITCHES,
  ReadSwitch,
  WRITE_SWITCHES,
  WriteSwitch,
} from '@org/devsec-socket-proxy/vocabulary';

/** npm names. */
export const PLUGIN_PACKAGE = '@org/devsec';
export const PROXY_PACKAGE = '@org/devsec-socket-proxy';
/** The workspace's own devkit, the plugin's peer. */
export const DEVKIT_PACKAGE = '@nx/devkit';
/** The plugin's sync generator, registered in nx.json by init. */
export const SYNC_GENERATOR = `${PLUGIN_PACKAGE}:sync`;

/** Marks every container of a devsec stack (the dev container, its proxy, shared services). */
export const MANAGED_LABEL = 'org.devsec.managed';
/** The Nx project a stack belongs to. */
export const PROJECT_LABEL = 'org.devsec.project';
/**
 * Carried by the shared services (value: the shared network's name). A stack's proxy shows the
 * containers with this label and those of its own compose project, never a stack container:
 * one labelled with it would be in every other stack's scope.
 */
export const SCOPE_LABEL = DEFAULT_SCOPE_LABEL;
/** Compose's own labels, which the executors filter on. */
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
/** The label the socket proxy's write policy (--testContainers) stamps on what the agent creates: its stack's compose project. */
export { OWNER_LABEL };
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';

/** Files of a project's sandbox, in `<project>/.devcontainer`. */
export const DEVCONTAINER_DIR = '.devcontainer';
export const COMPOSE_FILE = 'docker-compose.yml';
export const DEVCONTAINER_JSON = 'devcontainer.json';
/**
 * The dev container's image. Not `Dockerfile`: @nx/docker infers a project from every file of
 * that name, and one inside `.devcontainer` has no name, which fails every nx command.
 */
export const DOCKERFILE = 'sandbox.Dockerfile';
/** What DOCKERFILE was called before 0.2.0; the rename-sandbox-image migration moves it. */
export const LEGACY_DOCKERFILE = 'Dockerfile';
/** The stack's services that the user owns (written once). */
export const SERVICES_COMPOSE_FILE = 'docker-compose.services.yml';
/** Per machine and worktree, written by up-worktree and initializeCommand; git-ignored. */
export const ENV_FILE = '.env';
export const WORKTREE_COMPOSE_FILE = 'docker-compose.worktree.yml';
/** The shared services of every worktree, at the workspace root. */
export const SHARED_COMPOSE_FILE = 'docker-compose.shared.yml';

/** The services of a generated stack. */
export const APP_SERVICE = 'app';
export const PROXY_SERVICE = 'docker-proxy';
export const LOCALHOST_PROXY_SERVICE = 'localhost-proxy';
/** The stack's networks, as its compose file names them. */
export const SANDBOX_NETWORK = 'sandbox';
export const SHARED_NETWORK = 'shared';
/** The dev container's only way out: the egress proxy, on the stack's private network and on this one. */
export const EGRESS_SERVICE = 'egress-proxy';
export const EGRESS_NETWORK = 'egress';
/** The shared services that publish a port on 127.0.0.1 (Docker publishes nothing from an internal network). */
export const PUBLISHED_NETWORK = 'published';
/** Names the dev container stacks use themselves: a user's service may not take them. */
export const RESERVED_NAMES: readonly string[] = [
  APP_SERVICE,
  PROXY_SERVICE,
  LOCALHOST_PROXY_SERVICE,
  EGRESS_SERVICE,
  SANDBOX_NETWORK,
  SHARED_NETWORK,
  EGRESS_NETWORK,
  PUBLISHED_NETWORK,
];

/**
 * Networks the dev container joins are internal (no route out) and leave the bridge without an
 * IPv4 address, so that the gateway address is not the host (Docker 20.10 and later; an internal
 * network's bridge otherwise has one, and a host service listening on all addresses answers there).
 */
export const NO_GATEWAY_OPTION = 'com.docker.network.bridge.inhibit_ipv4';
/** How the dev container reaches the outside (secure-devcontainer --egress). */
export const EGRESS_MODES = ['allowlist', 'open'] as const;
export type EgressMode = (typeof EGRESS_MODES)[number];
/**
 * Where the dev container's workspace comes from (secure-devcontainer --workspace): mount (the
 * host's checkout, bind-mounted) or clone (a volume of the stack, filled on the first start with a
 * clone of the repository at the host's HEAD; nothing of the host's workspace or its .git is mounted).
 */
export const WORKSPACE_MODES = ['mount', 'clone'] as const;
export type WorkspaceMode = (typeof WORKSPACE_MODES)[number];

/**
 * The dev container's OCI runtime (--runtime): auto puts it on gVisor (runsc, a kernel of its own
 * between the agent and the host's) when the engine lists runsc, runsc requires it, runc opts out.
 */
export const RUNTIME_CHOICES = ['auto', 'runsc', 'runc'] as const;
export type RuntimeChoice = (typeof RUNTIME_CHOICES)[number];
/** gVisor's runtime, as engines register it (`docker info` → Runtimes). */
export const GVISOR_RUNTIME = 'runsc';
/** On the dev container of a clone-mode stack (value: clone): what up-worktree, the gate and the audit read. */
export const WORKSPACE_LABEL = 'org.devsec.workspace';
/** The stack's volume that holds a clone-mode workspace (Compose names it `<compose project>_workspace`). */
export const WORKSPACE_VOLUME = 'workspace';
/** On the dev container: its egress mode, which the gate and the audit read from the effective model. */
export const EGRESS_LABEL = 'org.devsec.egress';
/** Every sandbox may reach these (npm install); --allowHosts adds to them, and so does the repository's https remote. */
export const DEFAULT_EGRESS_HOSTS: readonly string[] = ['registry.npmjs.org'];
/** The variables that send a client through a proxy (curl and git read the lower-case ones), and that exempt names from it. */
export const PROXY_ENV_NAMES: readonly string[] = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'];
export const NO_PROXY_ENV_NAMES: readonly string[] = ['NO_PROXY', 'no_proxy'];
/** Names a sandbox reaches directly, never through the egress proxy. */
export const NO_PROXY_ALWAYS: readonly string[] = ['localhost', '127.0.0.1', '::1', PROXY_SERVICE];

/** Where the socket proxy and the egress proxy listen, inside their stack. */
export { EGRESS_PORT, PROXY_PORT };
/** Where a Docker engine listens on TCP: plain, and TLS. */
export const ENGINE_PORTS: readonly number[] = [2375, 2376];

/** The inferred targets, and the project that owns the shared services by default. */
export const TARGETS = {
  up: 'up-worktree',
  down: 'down-worktree',
  /** The sandbox's branches into the repository (devsec fetch). */
  fetch: 'fetch',
  /** This worktree's tenant data in the shared services made again. */
  resetData: 'reset-data',
  /** The static audit: cacheable. */
  audit: 'audit',
  /** The audit with --live: never cached, since it looks at running containers. */
  auditLive: 'audit-live',
  upShared: 'up-shared',
  downShared: 'down-shared',
} as const;
/** The group our targets are shown in (`nx show project`, Nx Console). */
export const TARGET_GROUP = 'devsec';
export const DEFAULT_INFRA_PROJECT = 'shared-infra';

/** Node LTS on Debian 13 (trixie), whose apt has `docker-cli` (Debian 12's has not). */
export const DEFAULT_BASE_IMAGE = 'node:24-trixie-slim';
export const DEFAULT_NETWORK = 'dev';
/** The non-root user of the Node images (uid 1000). */
export const CONTAINER_USER = 'node';
export const CONTAINER_HOME = '/home/node';
export const CONTAINER_WORKSPACE = '/workspace';

/**
 * VS Code's Dev Containers extension forwards channels to the host into the container: the SSH
 * agent, git's askpass and credential helper (they ask VS Code on the host), its IPC sockets.
 * The generated devcontainer.json blanks what it can (remoteEnv) and turns off the git
 * extension's askpass; git and docker inside read config files of ours (CONTAINER_GIT_CONFIG, CONTAINER_DOCKER_CONFIG).
 */
export const VSCODE_CHANNEL_ENV: readonly string[] = [
  'SSH_AUTH_SOCK',
  'GIT_ASKPASS',
  'VSCODE_GIT_ASKPASS_MAIN',
  'VSCODE_GIT_ASKPASS_NODE',
  'VSCODE_GIT_ASKPASS_EXTRA_ARGS',
  'VSCODE_GIT_IPC_HANDLE',
];
export const VSCODE_SETTINGS = { 'git.terminalAuthentication': false, 'github.gitAuthentication': false, 'git.useIntegratedAskPass': false } as const;
/** What the user sets in their own VS Code settings (devcontainer.json cannot). */
export const VSCODE_USER_SETTINGS = {
  'dev.containers.copyGitConfig': false,
  'dev.containers.gitCredentialHelperConfigLocation': 'none',
  'dev.containers.dockerCredentialHelper': false,
  'dev.containers.githubCLILoginWithToken': false,
} as const;
export const CONTAINER_GIT_CONFIG = `${CONTAINER_HOME}/.config/devsec/gitconfig`;
export const CONTAINER_DOCKER_CONFIG = `${CONTAINER_HOME}/.config/devsec/docker`;

/**
 * Credentials under a home directory: never mounted into a sandbox (audit), and looked for
 * from inside by the live probe.
 */
export const HOME_CREDENTIALS: readonly string[] = [
  '.ssh',
  '.gnupg',
  '.aws',
  '.azure',
  '.kube',
  '.config/gcloud',
  '.config/gh',
  '.docker/config.json',
  '.git-credentials',
  '.netrc',
  '.npmrc',
];

/**
 * The generated stack's read switches: all on (the proxy's own defaults, Tecnativa's, leave most
 * off). Typed by the proxy's switch names: a switch added there does not compile here until it
 * is listed.
 */
export const READ_SWITCH_DEFAULTS: Record<ReadSwitch, boolean> = {
  CONTAINERS: true,
  IMAGES: true,
  INFO: true,
  NETWORKS: true,
  VOLUMES: true,
  EVENTS: true,
  PING: true,
  VERSION: true,
} satisfies Record<keyof typeof READ_SWITCHES, true>;
export { WRITE_SWITCHES };
export type { ReadSwitch, WriteSwitch };

/**
 * Each agent gets its own config directory on a named volume of the stack — never the host's
 * `~/.claude` or `~/.codex`, whose hooks and settings the host's own agent would later run.
 */
export const AGENTS = {
  claude: {
    configDir: `${CONTAINER_HOME}/.claude`,
    env: { CLAUDE_CONFIG_DIR: `${CONTAINER_HOME}/.claude` },
    npmPackage: '@anthropic-ai/claude-code',
    // The API, and the telemetry and error reports the CLI sends (as Anthropic's own dev container allows).
    apiHosts: ['api.anthropic.com', 'statsig.anthropic.com', 'statsig.com', 'sentry.io'],
  },
  codex: {
    configDir: `${CONTAINER_HOME}/.codex`,
    env: { CODEX_HOME: `${CONTAINER_HOME}/.codex` },
    npmPackage: '@openai/codex',
    apiHosts: ['api.openai.com', 'auth.openai.com', 'chatgpt.com'],
  },
  none: undefined,
} as const;
export type Agent = keyof typeof AGENTS;
