/**
 * The rules of a whole stack — a worktree's sandbox or the shared services — over its Compose
 * model: parsed YAML (the static audit) or `docker compose config --format json` (the gate).
 * Every way out of a container that Compose can ask for is a finding here, named by service
 * and key; what each rule means and how severe it is lives in registry.ts.
 */
import { ComposeModel, ComposeService, envNames, namesOf, volumeTarget } from '../sandbox/compose-model';
import { APP_SERVICE, EGRESS_SERVICE, LOCALHOST_PROXY_SERVICE, PROXY_PORT, PROXY_SERVICE } from '../sandbox/vocabulary';
import type { StackContext } from './host-paths';
import { finding, Finding, RuleId } from './registry';
import { egressFindings } from './egress-rules';
import { hostPathFindings } from './stack-paths';
import { workspaceMountFindings } from './workspace-mounts';

/** A user the engine reads as root: root, 0, 00, +0, with or without a group. */
const ROOT_USER = /^(root|\+?0+)(:|$)/;

export type { StackContext, StackKind } from './host-paths';

/** The one sysctl a stack of ours sets: ::1 inside app, for the localhost forwarder. */
const OUR_SYSCTL = ['net.ipv6.conf.lo.disable_ipv6', '0'];
const NAMESPACES = ['pid', 'ipc', 'network_mode', 'userns_mode', 'uts', 'cgroup'] as const;
const JOINABLE = ['network_mode', 'pid', 'ipc'] as const;

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]);
/** `KEY=VALUE` lists and maps alike. */
const pairs = (value: unknown): Array<[string, string]> =>
  Array.isArray(value)
    ? value.map((item) => String(item).split(/=(.*)/s).slice(0, 2) as [string, string])
    : isRecord(value)
      ? Object.entries(value).map(([key, item]) => [key, String(item ?? '')])
      : [];

/** What a security_opt entry turns off, if anything (`key=value` and `key:value` alike). */
function unconfinedBy(option: string): string | undefined {
  const [key, value = ''] = option.split(/[=:](.*)/s);
  const name = key.trim().toLowerCase();
  if (name === 'seccomp' && value === 'unconfined') return 'turns seccomp off';
  if (name === 'seccomp' && !['default', 'builtin'].includes(value)) return `swaps in the seccomp profile ${value}, which may allow any system call`;
  if (name === 'apparmor' && value === 'unconfined') return 'turns AppArmor off';
  if (name === 'label' && value === 'disable') return 'turns SELinux labelling off';
  if (name === 'label' && /^type:(spc_t|unconfined_t)$/.test(value)) return `runs as the unconfined SELinux type ${value.slice(5)}`;
  if (name === 'systempaths' && value === 'unconfined') return 'unmasks /proc and /sys paths';
  if (name === 'no-new-privileges' && value === 'false') return 'lets setuid programs raise privileges again';
  return undefined;
}

/** A published port's host address, or undefined when Compose binds every interface. */
function hostAddress(port: unknown): string | undefined {
  if (isRecord(port)) return port.host_ip === undefined || port.host_ip === null ? undefined : String(port.host_ip);
  const text = String(port).replace(/\/(tcp|udp|sctp)$/, '');
  if (text.startsWith('[')) return text.slice(1, text.indexOf(']'));
  const parts = text.split(':');
  return parts.length >= 3 ? parts[0] : undefined;
}
const isLoopback = (address: string | undefined) => address !== undefined && /^(127\.\d+\.\d+\.\d+|::1)$/.test(address);

function serviceFindings(name: string, service: ComposeService, model: ComposeModel, context: StackContext): Finding[] {
  const findings: Finding[] = [];
  const worktree = context.kind === 'worktree';
  const isProxy = worktree && name === PROXY_SERVICE;
  /** `place`: a list index, or a map key that belongs in the finding's key (a sysctl's name). */
  const add = (rule: RuleId, field: string, message: string, fix?: string, place?: number | string) =>
    findings.push(
      finding(rule, {
        file: context.composeFile,
        service: name,
        key: `services.${name}.${field}${typeof place === 'string' ? `.${place}` : ''}`,
        at: ['services', name, ...field.split('.'), ...(place === undefined ? [] : [place])],
        message,
        fix,
      }),
    );
  const build = isRecord(service.build) ? service.build : {};

  if (service.network_mode !== undefined && service.networks !== undefined) {
    add(
      'network-mode-with-networks',
      'network_mode',
      `${name} sets both network_mode and networks; Compose rejects the pair at run time.`,
      "Keep network_mode (to share another service's namespace) or networks, not both.",
    );
  }
  for (const dependency of namesOf(service.depends_on)) {
    if (!(dependency in (model.services ?? {}))) {
      add(
        'depends-on-missing',
        'depends_on',
        `${name} depends on "${dependency}", which this file does not define.`,
        `Define ${dependency} or remove it from depends_on.`,
      );
    }
  }
  if (envNames(service.environment).includes('SSH_AUTH_SOCK')) {
    add(
      'ssh-mount',
      'environment.SSH_AUTH_SOCK',
      `${name} sets SSH_AUTH_SOCK: an SSH agent forwarded into the sandbox signs for the agent.`,
      'Remove SSH_AUTH_SOCK and the agent socket mount.',
    );
  }
  if (build.ssh !== undefined)
    add(
      'ssh-mount',
      'build.ssh',
      `${name} forwards SSH (${JSON.stringify(build.ssh)}) into its build: a Dockerfile in reach of the agent signs as you.`,
      'Remove build.ssh.',
    );

  // The engine itself: its API, and the socket's group.
  if (service.use_api_socket === true)
    add(
      'socket-mount',
      'use_api_socket',
      `${name} sets use_api_socket: Compose mounts the Docker socket (and your registry credentials) into it.`,
      'Remove use_api_socket; reach Docker through the read-only proxy.',
    );
  list(service.group_add).forEach((group, index) => {
    const text = String(group);
    // As the engine reads it: "0998" and "+998" are group 998.
    const sameGroup =
      context.dockerGid !== undefined && (text === String(context.dockerGid) || (/^\+?\d+$/.test(text) && Number(text) === Number(context.dockerGid)));
    const engine = text === 'docker' || /\$\{?DEVSEC_DOCKER_GID/.test(text) || sameGroup;
    if (engine && !isProxy)
      add(
        'socket-mount',
        'group_add',
        `${name} joins the Docker socket's group (group_add: ${text}): with any way to the socket, it is root on the host.`,
        `Remove ${text} from group_add; only ${PROXY_SERVICE} has it.`,
        index,
      );
  });

  if (service.privileged === true) add('privileged', 'privileged', `${name} is privileged: it can mount the host's disks and load kernel modules.`);
  if (build.privileged === true)
    add('privileged', 'build.privileged', `${name} builds privileged: a RUN line of its Dockerfile is root on the host.`, 'Remove build.privileged.');
  list(build.entitlements).forEach((entitlement, index) =>
    add(
      String(entitlement).startsWith('network.host') ? 'host-namespace' : 'privileged',
      'build.entitlements',
      `${name} builds with the entitlement ${entitlement}.`,
      'Remove build.entitlements.',
      index,
    ),
  );
  for (const field of NAMESPACES) {
    if (service[field] === 'host') add('host-namespace', field, `${name} uses the host's ${field.replace('_mode', '')} namespace.`, `Remove ${field}: host.`);
  }
  if (build.network === 'host') add('host-namespace', 'build.network', `${name} builds in the host's network namespace.`, 'Remove build.network: host.');
  for (const network of namesOf(service.networks as string[] | Record<string, unknown>)) {
    const definition = model.networks?.[network];
    if ((definition?.name ?? network) === 'host' && definition?.external) {
      add(
        'host-namespace',
        'networks',
        `${name} joins the network "host", which is the host's network namespace.`,
        `Remove ${network} from ${name}'s networks.`,
      );
    }
  }
  for (const field of JOINABLE) {
    const value = service[field];
    if (typeof value !== 'string' || !/^(container|service):/.test(value)) continue;
    if (worktree && field === 'network_mode' && name === LOCALHOST_PROXY_SERVICE && value === `service:${APP_SERVICE}`) continue;
    add(
      'joined-namespace',
      field,
      `${name} sets ${field}: ${value}, entering the namespace of ${value.slice(value.indexOf(':') + 1)}.`,
      `Remove ${field}: ${value}.`,
    );
  }

  const capabilities = list(service.cap_add).map(String);
  if (capabilities.length > 0)
    add(
      'dangerous-capability',
      'cap_add',
      `${name} adds ${capabilities.join(', ')}: each capability widens what a way out can do.`,
      `Remove cap_add from ${name}.`,
      0,
    );
  list(service.security_opt).forEach((option, index) => {
    const off = unconfinedBy(String(option));
    if (off) add('unconfined', 'security_opt', `${name} sets security_opt ${option}: it ${off}.`, `Remove ${option}; keep no-new-privileges:true.`, index);
  });
  for (const field of ['devices', 'device_cgroup_rules', 'gpus'] as const) {
    const items = list(service[field]);
    if (items.length > 0)
      add(
        'host-device',
        field,
        `${name} is given host devices (${field}: ${items.map((item) => (isRecord(item) ? (item.source ?? JSON.stringify(item)) : item)).join(', ')}).`,
        `Remove ${field}.`,
        0,
      );
  }
  const deploy = service.deploy as { resources?: { reservations?: { devices?: unknown[] } } } | undefined;
  if (list(deploy?.resources?.reservations?.devices).length > 0) {
    add(
      'host-device',
      'deploy.resources.reservations.devices',
      `${name} reserves host devices (deploy.resources.reservations.devices).`,
      'Remove the device reservation.',
    );
  }
  if (service.cgroup_parent !== undefined) add('cgroup-parent', 'cgroup_parent', `${name} sets cgroup_parent: ${service.cgroup_parent}.`);
  if (list(service.volumes_from).length > 0)
    add('volumes-from', 'volumes_from', `${name} takes the mounts of ${list(service.volumes_from).join(', ')} (volumes_from).`, undefined, 0);
  pairs(service.sysctls).forEach(([key, value], index) => {
    const ours = worktree && name === APP_SERVICE && key === OUR_SYSCTL[0] && value === OUR_SYSCTL[1];
    // The key names the sysctl; a list form is placed by its index.
    if (!ours)
      add(
        'sysctl',
        'sysctls',
        `${name} sets the kernel setting ${key}=${value}.`,
        `Remove ${key} from ${name}'s sysctls.`,
        Array.isArray(service.sysctls) ? index : key,
      );
  });
  if (worktree && name === APP_SERVICE) {
    const user = service.user === undefined || service.user === null ? '' : String(service.user);
    if (user === '' || ROOT_USER.test(user)) {
      add(
        'runs-as-root',
        'user',
        user ? `${name} (the dev container) runs as ${user}.` : `${name} (the dev container) sets no user: it runs as whatever its image ends with.`,
        'Set user: node (the generator does).',
      );
    }
  }
  // On an engine whose socket only its owner may use, the proxy runs as that owner, root in the engine's eyes: never with a capability.
  if (worktree && name === PROXY_SERVICE && ROOT_USER.test(String(service.user ?? ''))) {
    const dropsAll = list(service.cap_drop).some((cap) => String(cap).toUpperCase() === 'ALL');
    const noNewPrivileges = list(service.security_opt).some((option) => /^no-new-privileges(:true|=true)?$/.test(String(option)));
    if (!dropsAll || !noNewPrivileges)
      add(
        'runs-as-root',
        'user',
        `${name} runs as ${service.user} (the socket's owner) ${dropsAll ? '' : 'keeping its capabilities'}${!dropsAll && !noNewPrivileges ? ' and ' : ''}${noNewPrivileges ? '' : 'without no-new-privileges'}.`,
        `Give ${name} cap_drop: [ALL] and security_opt: [no-new-privileges:true] (the generator does).`,
      );
  }
  list(service.ports).forEach((port, index) => {
    const address = hostAddress(port);
    if (isLoopback(address)) return;
    const text = isRecord(port) ? `${address ?? ''}:${port.published ?? '(any)'}:${port.target}` : String(port);
    add(
      'published-on-all-interfaces',
      'ports',
      `${name} publishes ${text} on every interface of the host: anyone on your network reaches it.`,
      `Publish on 127.0.0.1 only (e.g. 127.0.0.1:${(isRecord(port) ? port.target : String(port).split(':').pop()) ?? 'PORT'}).`,
      index,
    );
  });
  return findings;
}

/** A volume mounted at a docker.sock path, whatever its source, where no socket finding names the service's volumes yet. */
function socketTargetFindings(model: ComposeModel, context: StackContext, found: Finding[]): Finding[] {
  return Object.entries(model.services ?? {}).flatMap(([name, service]) => {
    if ((context.kind === 'worktree' && name === PROXY_SERVICE) || found.some((f) => f.rule === 'socket-mount' && f.key === `services.${name}.volumes`))
      return [];
    const index = (service?.volumes ?? []).findIndex((volume) => /(^|\/)docker\.sock$/.test(volumeTarget(volume)));
    if (index === -1) return [];
    return [
      finding('socket-mount', {
        file: context.composeFile,
        service: name,
        key: `services.${name}.volumes`,
        at: ['services', name, 'volumes', index],
        message: `${name} mounts something at ${volumeTarget(service!.volumes![index])}: the Docker socket is a one-line escape to the host.`,
        fix: `Remove the mount; ${name} reaches Docker through the read-only proxy (DOCKER_HOST=tcp://${PROXY_SERVICE}:${PROXY_PORT}).`,
      }),
    ];
  });
}

/** The proxy must sit on private networks only: on the shared one, every worktree's agent reaches it. */
function proxyNetworkFindings(model: ComposeModel, context: StackContext): Finding[] {
  if (context.kind !== 'worktree') return [];
  return [PROXY_SERVICE, EGRESS_SERVICE].flatMap((service) => proxyOnSharedNetwork(model, context, service));
}

/** The socket proxy and the egress proxy answer whoever reaches them: their stack's dev container only. */
function proxyOnSharedNetwork(model: ComposeModel, context: StackContext, proxyService: string): Finding[] {
  const proxy = model.services?.[proxyService];
  if (!proxy) return [];
  return namesOf(proxy.networks as string[] | Record<string, unknown>).flatMap((network) => {
    const definition = model.networks?.[network];
    const external = definition?.external;
    if (!(external === true || (typeof external === 'object' && external !== null))) return [];
    return [
      finding('proxy-on-shared-network', {
        file: context.composeFile,
        service: proxyService,
        key: `services.${proxyService}.networks`,
        message: `${proxyService} is on the shared network "${definition?.name ?? network}", where other worktrees' containers can reach it.`,
        fix: `Keep ${proxyService} on this stack's private network (and the egress proxy on its outside network) only.`,
      }),
    ];
  });
}

/**
 * Every rule over a stack's model. `context.kind` says which stack: a worktree's (where the
 * proxy may mount the Docker socket, app must not run as root, and the localhost forwarder may
 * join app's network) or the shared services' (no exceptions; root inside is fine there).
 */
export function checkStack(model: ComposeModel, context: StackContext): Finding[] {
  const services = Object.entries(model.services ?? {}).filter((entry): entry is [string, ComposeService] => isRecord(entry[1]));
  // Paths first: a service's mounts, then its other keys, in the order a reviewer reads a service.
  const findings = [
    ...hostPathFindings(model, context),
    ...workspaceMountFindings(model, context),
    ...services.flatMap(([name, service]) => serviceFindings(name, service, model, context)),
  ];
  return [...findings, ...socketTargetFindings(model, context, findings), ...proxyNetworkFindings(model, context), ...egressFindings(model, context)];
}
