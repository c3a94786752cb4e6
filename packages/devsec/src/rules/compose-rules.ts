/**
 * Rules of our own for what the Compose and Dev Container schemas do not catch. Pure
 * functions over parsed files; the generator's tests, the policy gate and `audit` share them.
 */
import { ComposeModel, envNames, namesOf, volumeSource, volumeTarget } from '../sandbox/compose-model';
import { PROXY_PORT, PROXY_SERVICE } from '../sandbox/vocabulary';
import { finding, Finding } from './registry';

export type { Finding } from './registry';
export type { ComposeModel, ComposeService } from '../sandbox/compose-model';

export interface SandboxFiles {
  composeFile: string;
  /** The compose model: parsed YAML, or `docker compose config --format json`. */
  compose: ComposeModel;
  devcontainerFile?: string;
  devcontainer?: Record<string, unknown>;
  /** The service allowed to see the Docker socket. */
  proxyService?: string;
}

/** Capabilities that turn a container into a way out (or into the host's network). */
export const DANGEROUS_CAPABILITIES = [
  'ALL',
  'SYS_ADMIN',
  'NET_ADMIN',
  'SYS_PTRACE',
  'SYS_MODULE',
  'SYS_RAWIO',
  'DAC_READ_SEARCH',
  'DAC_OVERRIDE',
  'SYS_BOOT',
  'BPF',
  'PERFMON',
  'MAC_ADMIN',
  'MAC_OVERRIDE',
  'SYSLOG',
  'SYS_TIME',
  'MKNOD',
  'SETFCAP',
];

const SOCKET_PATH = /(^|\/)docker\.sock$|^\/(var\/)?run\/?$|^\/$/;
const SSH_PATH = /(^|\/)\.ssh(\/|$)|ssh-auth\.sock|ssh-agent|SSH_AUTH_SOCK/;
const HOST_NAMESPACES = ['pid', 'ipc', 'network_mode', 'userns_mode', 'uts'] as const;

export function checkSandbox(files: SandboxFiles): Finding[] {
  const findings: Finding[] = [];
  const file = files.composeFile;
  const proxy = files.proxyService ?? PROXY_SERVICE;
  const services = files.compose.services ?? {};
  const networks = files.compose.networks ?? {};
  const add = (...found: Finding[]) => findings.push(...found);

  for (const [name, service] of Object.entries(services)) {
    if (!service) continue;
    const key = (k: string) => `services.${name}.${k}`;
    const at = (k: string) => ({ file, service: name, key: key(k) });

    if (service.network_mode !== undefined && service.networks !== undefined) {
      add(
        finding('network-mode-with-networks', {
          ...at('network_mode'),
          message: `${name} sets both network_mode and networks; Compose rejects the pair at run time.`,
          fix: "Keep network_mode (to share another service's namespace) or networks, not both.",
        }),
      );
    }
    for (const dependency of namesOf(service.depends_on)) {
      if (!(dependency in services)) {
        add(
          finding('depends-on-missing', {
            ...at('depends_on'),
            message: `${name} depends on "${dependency}", which this file does not define.`,
            fix: `Define ${dependency} or remove it from depends_on.`,
          }),
        );
      }
    }
    for (const volume of service.volumes ?? []) {
      const source = volumeSource(volume);
      const target = volumeTarget(volume);
      if (name !== proxy && (SOCKET_PATH.test(source) || /(^|\/)docker\.sock$/.test(target))) {
        add(
          finding('socket-mount', {
            ...at('volumes'),
            message: `${name} mounts ${source || target}: the Docker socket is a one-line escape to the host.`,
            fix: `Remove the mount; ${name} reaches Docker through the read-only proxy (DOCKER_HOST=tcp://${proxy}:${PROXY_PORT}).`,
          }),
        );
      }
      if (SSH_PATH.test(source) || SSH_PATH.test(target)) {
        add(
          finding('ssh-mount', {
            ...at('volumes'),
            message: `${name} mounts ${source || target}: SSH keys or an SSH agent let the agent push, or log in elsewhere as you.`,
          }),
        );
      }
    }
    if (envNames(service.environment).includes('SSH_AUTH_SOCK')) {
      add(
        finding('ssh-mount', {
          ...at('environment.SSH_AUTH_SOCK'),
          message: `${name} sets SSH_AUTH_SOCK: an SSH agent forwarded into the sandbox signs for the agent.`,
          fix: 'Remove SSH_AUTH_SOCK and the agent socket mount.',
        }),
      );
    }
    if (service.privileged === true) {
      add(finding('privileged', { ...at('privileged'), message: `${name} is privileged: it can mount the host's disks and load kernel modules.` }));
    }
    for (const field of HOST_NAMESPACES) {
      if (service[field] === 'host') {
        add(
          finding('host-namespace', {
            ...at(field),
            message: `${name} uses the host's ${field.replace('_mode', '')} namespace.`,
            fix: `Remove ${field}: host.`,
          }),
        );
      }
    }
    for (const capability of service.cap_add ?? []) {
      const bare = capability.toUpperCase().replace(/^CAP_/, '');
      if (DANGEROUS_CAPABILITIES.includes(bare)) {
        add(
          finding('dangerous-capability', {
            ...at('cap_add'),
            message: `${name} adds ${bare}, a capability that opens a way out of the container.`,
            fix: `Remove ${capability} from cap_add.`,
          }),
        );
      }
    }
  }

  // The proxy must sit on private networks only: on the shared one, every worktree's agent reaches it.
  const proxyService = services[proxy];
  if (proxyService) {
    for (const network of namesOf(proxyService.networks)) {
      const definition = networks[network];
      const external = definition?.external;
      if (external === true || (typeof external === 'object' && external !== null)) {
        add(
          finding('proxy-on-shared-network', {
            file,
            service: proxy,
            key: `services.${proxy}.networks`,
            message: `${proxy} is on the shared network "${definition?.name ?? network}", where other worktrees' containers can reach it.`,
            fix: `Keep ${proxy} on this stack's private network only.`,
          }),
        );
      }
    }
  }

  const devcontainerFile = files.devcontainerFile;
  if (files.devcontainer && devcontainerFile && files.devcontainer.dockerComposeFile !== undefined) {
    for (const field of ['runArgs', 'appPort', 'workspaceMount'] as const) {
      if (files.devcontainer[field] !== undefined) {
        add(
          finding('devcontainer-ignored-with-compose', {
            file: devcontainerFile,
            key: field,
            message: `${field} is ignored when dockerComposeFile is set: it looks like a control but does nothing.`,
            fix: `Remove ${field} and set the equivalent in ${file}.`,
          }),
        );
      }
    }
    if (files.devcontainer.privileged === true) {
      add(
        finding('privileged', {
          file: devcontainerFile,
          key: 'privileged',
          message: 'devcontainer.json asks for a privileged container.',
          fix: 'Remove "privileged": true.',
        }),
      );
    }
  }
  return findings;
}
