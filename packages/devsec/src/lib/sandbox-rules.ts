/**
 * Rules of our own for what the Compose and Dev Container schemas do not catch. Pure
 * functions over parsed files; the generator's tests, the policy gate and `audit` share them.
 */

export interface Finding {
  rule: string;
  severity: 'high' | 'medium';
  file: string;
  service?: string;
  key: string;
  message: string;
  fix: string;
}

export interface SandboxFiles {
  composeFile: string;
  /** The compose model: parsed YAML, or `docker compose config --format json`. */
  compose: ComposeModel;
  devcontainerFile?: string;
  devcontainer?: Record<string, unknown>;
  /** The service allowed to see the Docker socket. */
  proxyService?: string;
}

export interface ComposeModel {
  services?: Record<string, ComposeService | null>;
  networks?: Record<string, { external?: boolean | { name?: string }; name?: string } | null>;
}

export interface ComposeService {
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
  depends_on?: string[] | Record<string, unknown>;
  privileged?: boolean;
  pid?: string;
  ipc?: string;
  userns_mode?: string;
  uts?: string;
  cap_add?: string[];
  environment?: string[] | Record<string, string | null>;
  [key: string]: unknown;
}

/** Capabilities that turn a container into a way out (or into the host's network). */
export const DANGEROUS_CAPABILITIES = [
  'ALL', 'SYS_ADMIN', 'NET_ADMIN', 'SYS_PTRACE', 'SYS_MODULE', 'SYS_RAWIO', 'DAC_READ_SEARCH', 'DAC_OVERRIDE',
  'SYS_BOOT', 'BPF', 'PERFMON', 'MAC_ADMIN', 'MAC_OVERRIDE', 'SYSLOG', 'SYS_TIME', 'MKNOD', 'SETFCAP',
];

const SOCKET_PATH = /(^|\/)docker\.sock$|^\/(var\/)?run\/?$|^\/$/;
const SSH_PATH = /(^|\/)\.ssh(\/|$)|ssh-auth\.sock|ssh-agent|SSH_AUTH_SOCK/;

function volumeSource(volume: string | { source?: string }): string {
  if (typeof volume !== 'string') return volume.source ?? '';
  // Short syntax SOURCE:TARGET[:MODE]; a lone TARGET is an anonymous volume.
  const parts = volume.split(':');
  return parts.length > 1 ? parts[0] : '';
}

function volumeTarget(volume: string | { target?: string }): string {
  if (typeof volume !== 'string') return volume.target ?? '';
  const parts = volume.split(':');
  return parts.length > 1 ? parts[1] : parts[0];
}

function listOf(value: string[] | Record<string, unknown> | undefined): string[] {
  if (!value) return [];
  return Array.isArray(value) ? value : Object.keys(value);
}

function envNames(environment: ComposeService['environment']): string[] {
  if (!environment) return [];
  return Array.isArray(environment) ? environment.map((entry) => entry.split('=')[0]) : Object.keys(environment);
}

export function checkSandbox(files: SandboxFiles): Finding[] {
  const findings: Finding[] = [];
  const file = files.composeFile;
  const proxy = files.proxyService ?? 'docker-proxy';
  const services = files.compose.services ?? {};
  const networks = files.compose.networks ?? {};
  const add = (finding: Omit<Finding, 'file'> & { file?: string }) => findings.push({ file, ...finding });

  for (const [name, service] of Object.entries(services)) {
    if (!service) continue;
    const key = (k: string) => `services.${name}.${k}`;

    if (service.network_mode !== undefined && service.networks !== undefined) {
      add({ rule: 'network-mode-with-networks', severity: 'medium', service: name, key: key('network_mode'),
        message: `${name} sets both network_mode and networks; Compose rejects the pair at run time.`,
        fix: 'Keep network_mode (to share another service\'s namespace) or networks, not both.' });
    }
    for (const dependency of listOf(service.depends_on)) {
      if (!(dependency in services)) {
        add({ rule: 'depends-on-missing', severity: 'medium', service: name, key: key('depends_on'),
          message: `${name} depends on "${dependency}", which this file does not define.`,
          fix: `Define ${dependency} or remove it from depends_on.` });
      }
    }
    for (const volume of service.volumes ?? []) {
      const source = volumeSource(volume);
      const target = volumeTarget(volume);
      if (name !== proxy && (SOCKET_PATH.test(source) || /(^|\/)docker\.sock$/.test(target))) {
        add({ rule: 'socket-mount', severity: 'high', service: name, key: key('volumes'),
          message: `${name} mounts ${source || target}: the Docker socket is a one-line escape to the host.`,
          fix: `Remove the mount; ${name} reaches Docker through the read-only proxy (DOCKER_HOST=tcp://${proxy}:2375).` });
      }
      if (SSH_PATH.test(source) || SSH_PATH.test(target)) {
        add({ rule: 'ssh-mount', severity: 'high', service: name, key: key('volumes'),
          message: `${name} mounts ${source || target}: SSH keys or an SSH agent let the agent push, or log in elsewhere as you.`,
          fix: 'Remove the mount; git commit works without keys, and pushing stays on the host.' });
      }
    }
    if (envNames(service.environment).includes('SSH_AUTH_SOCK')) {
      add({ rule: 'ssh-mount', severity: 'high', service: name, key: key('environment.SSH_AUTH_SOCK'),
        message: `${name} sets SSH_AUTH_SOCK: an SSH agent forwarded into the sandbox signs for the agent.`,
        fix: 'Remove SSH_AUTH_SOCK and the agent socket mount.' });
    }
    if (service.privileged === true) {
      add({ rule: 'privileged', severity: 'high', service: name, key: key('privileged'),
        message: `${name} is privileged: it can mount the host's disks and load kernel modules.`,
        fix: 'Remove privileged: true.' });
    }
    for (const [field, value] of [['pid', service.pid], ['ipc', service.ipc], ['network_mode', service.network_mode], ['userns_mode', service.userns_mode], ['uts', service.uts]] as const) {
      if (value === 'host') {
        add({ rule: 'host-namespace', severity: 'high', service: name, key: key(field),
          message: `${name} uses the host's ${field.replace('_mode', '')} namespace.`,
          fix: `Remove ${field}: host.` });
      }
    }
    for (const capability of service.cap_add ?? []) {
      const bare = capability.toUpperCase().replace(/^CAP_/, '');
      if (DANGEROUS_CAPABILITIES.includes(bare)) {
        add({ rule: 'dangerous-capability', severity: 'high', service: name, key: key('cap_add'),
          message: `${name} adds ${bare}, a capability that opens a way out of the container.`,
          fix: `Remove ${capability} from cap_add.` });
      }
    }
  }

  // The proxy must sit on private networks only: on the shared one, every worktree's agent reaches it.
  const proxyService = services[proxy];
  if (proxyService) {
    for (const network of listOf(proxyService.networks)) {
      const definition = networks[network];
      const external = definition?.external;
      if (external === true || (typeof external === 'object' && external !== null)) {
        add({ rule: 'proxy-on-shared-network', severity: 'high', service: proxy, key: `services.${proxy}.networks`,
          message: `${proxy} is on the shared network "${definition?.name ?? network}", where other worktrees' containers can reach it.`,
          fix: `Keep ${proxy} on this stack's private network only.` });
      }
    }
  }

  if (files.devcontainer && files.devcontainerFile && files.devcontainer.dockerComposeFile !== undefined) {
    for (const field of ['runArgs', 'appPort', 'workspaceMount'] as const) {
      if (files.devcontainer[field] !== undefined) {
        add({ file: files.devcontainerFile, rule: 'devcontainer-ignored-with-compose', severity: 'medium', key: field,
          message: `${field} is ignored when dockerComposeFile is set: it looks like a control but does nothing.`,
          fix: `Remove ${field} and set the equivalent in ${file}.` });
      }
    }
    if (files.devcontainer.privileged === true) {
      add({ file: files.devcontainerFile, rule: 'privileged', severity: 'high', key: 'privileged',
        message: 'devcontainer.json asks for a privileged container.', fix: 'Remove "privileged": true.' });
    }
  }
  return findings;
}
