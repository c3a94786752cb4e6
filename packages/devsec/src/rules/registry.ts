/**
 * Every rule the gate, `audit` and `audit --live` apply, in one table: its severity, whether the
 * policy gate of up-worktree refuses a stack that breaks it, what it is about and the usual fix;
 * for a rule judged service by service on a stack's model, its predicate too, which yields each
 * offending key with its message (stack-rules.ts reads the rows, in this order). The gate's
 * list, the `--unsafe-allow` choices and the README's rule list derive from it.
 */
import { envNames, namesOf } from '../sandbox/compose-model';
import { APP_SERVICE, GVISOR_RUNTIME, LOCALHOST_PROXY_SERVICE, PROXY_SERVICE } from '../sandbox/vocabulary';
import {
  hostAddress,
  isEngineGroup,
  isLoopback,
  isRecord,
  JOINABLE,
  list,
  NAMESPACES,
  OUR_SYSCTL,
  pairs,
  ROOT_USER,
  ServiceCheck,
  unconfinedBy,
  when,
} from './service-view';

/** info: said, never failing anything (what holds depends on the engine, not on the files). */
export type Severity = 'high' | 'medium' | 'info';

interface Rule {
  severity: Severity;
  /** The policy gate refuses to start a stack that breaks it (unless `--unsafe-allow`). */
  gate: boolean;
  what: string;
  fix: string;
  /** Judged on each service of a stack's model: what of it breaks the rule (other findings of the rule may come from elsewhere: paths, the model whole). */
  service?: ServiceCheck;
}

const rule = (severity: Severity, gate: boolean, what: string, fix: string, service?: ServiceCheck): Rule => ({ severity, gate, what, fix, service });
/** A build entitlement that is the host's network namespace (host-namespace) rather than a privilege (privileged). */
const hostNetworkEntitlement = (entitlement: unknown) => String(entitlement).startsWith('network.host');
/** build.entitlements of one kind, placed by their index among all. */
const entitlements = (name: string, build: Record<string, unknown>, hostNetwork: boolean) =>
  list(build.entitlements).flatMap((entitlement, index) =>
    when(hostNetworkEntitlement(entitlement) === hostNetwork, () => ({
      field: 'build.entitlements',
      place: index,
      message: `${name} builds with the entitlement ${entitlement}.`,
      fix: 'Remove build.entitlements.',
    })),
  );

export const RULES = {
  // The gate: each of these is a way out of the sandbox, or onto the host's network.
  'socket-mount': rule(
    'high',
    true,
    "A container runtime's socket (Docker, containerd, Podman, CRI-O), a directory that holds one, or the Docker socket's group, given to a service other than the proxy.",
    'Remove it; reach Docker through the read-only proxy.',
    ({ name, service, worktree, dockerGid }) => [
      ...when(service.use_api_socket === true, () => ({
        field: 'use_api_socket',
        message: `${name} sets use_api_socket: Compose mounts the Docker socket (and your registry credentials) into it.`,
        fix: 'Remove use_api_socket; reach Docker through the read-only proxy.',
      })),
      // Only the socket proxy of a worktree's stack holds the group.
      ...list(worktree && name === PROXY_SERVICE ? [] : service.group_add).flatMap((group, index) =>
        when(isEngineGroup(String(group), dockerGid), () => ({
          field: 'group_add',
          place: index,
          message: `${name} joins the Docker socket's group (group_add: ${group}): with any way to the socket, it is root on the host.`,
          fix: `Remove ${group} from group_add; only ${PROXY_SERVICE} has it.`,
        })),
      ),
    ],
  ),
  'system-path-mount': rule(
    'high',
    true,
    'A system directory (/, /etc, /proc, /sys, /dev, /usr, …) or a home directory of the host mounted, bound through a named volume, or read by Compose for a service.',
    'Remove it; mount only paths inside the workspace, or use a named volume.',
  ),
  'host-path-mount': rule(
    'high',
    true,
    'A host path outside what the stack may reach (the workspace, the git paths it mounts, its own state directory): a bind, a bind-driver volume, a secret, config or env file.',
    'Move what the service needs into the workspace, or use a named volume.',
  ),
  'workspace-mount': rule(
    'high',
    true,
    "The workspace, anything in it, the worktree's .git or the repository's git dir mounted into a service other than the dev container, even read-only (in the shared stack, whose file no sandbox can write: what holds or lies in a .git): it sees them without the dev container's guards.",
    'Remove the mount: build what the service needs into its image (COPY in a Dockerfile inside the workspace), or give it a named volume; only app mounts the workspace.',
  ),
  'git-hooks-writable': rule(
    'high',
    true,
    "git's own files writable from inside (the repository's git dir, its config, hooks, objects and refs, the worktree's .git): a planted hook or core.fsmonitor runs on the host's next git command, a replaced object is checked out as the agent wrote it, a moved ref moves the host's branch.",
    'Mount the git common dir read-only (the generator does; up-worktree then gives the sandbox a git dir of its own).',
  ),
  'node-modules-shared': rule(
    'high',
    true,
    "The host's node_modules or .nx writable from inside: a package's install script, a patched binary or a poisoned Nx cache entry runs on the host later.",
    'Mount a named volume at <workspace>/node_modules and <workspace>/.nx (the generator does).',
  ),
  'build-outside-workspace': rule(
    'high',
    true,
    'A build context, extra context, Dockerfile or local build cache outside the workspace: its files end up in an image the stack runs.',
    'Build from inside the workspace (copy what the image needs there), or pull a published image.',
  ),
  'ssh-mount': rule(
    'high',
    true,
    'SSH keys or an SSH agent mounted or forwarded (to a service or a build).',
    'Remove the mount; git commit works without keys, and pushing stays on the host.',
    ({ name, service, build }) => [
      ...when(envNames(service.environment).includes('SSH_AUTH_SOCK'), () => ({
        field: 'environment.SSH_AUTH_SOCK',
        message: `${name} sets SSH_AUTH_SOCK: an SSH agent forwarded into the sandbox signs for the agent.`,
        fix: 'Remove SSH_AUTH_SOCK and the agent socket mount.',
      })),
      ...when(build.ssh !== undefined, () => ({
        field: 'build.ssh',
        message: `${name} forwards SSH (${JSON.stringify(build.ssh)}) into its build: a Dockerfile in reach of the agent signs as you.`,
        fix: 'Remove build.ssh.',
      })),
    ],
  ),
  'nested-git': rule(
    'high',
    true,
    "A .git below the workspace root that is not a registered submodule, or a gitlink of the index or a local branch leading into one: the host's git and VS Code would run git there, on the agent's terms.",
    'Remove it (or, for a repository of your own, make it a submodule: git submodule add), then start again.',
  ),
  'credential-mount': rule(
    'high',
    true,
    'Credentials of yours (cloud, registry, gh, netrc) mounted.',
    'Remove the mount: the sandbox holds no credentials of yours.',
  ),
  privileged: rule(
    'high',
    true,
    'A privileged service, or a privileged build.',
    'Remove privileged: true (and the build entitlements).',
    ({ name, service, build }) => [
      ...when(service.privileged === true, () => ({
        field: 'privileged',
        message: `${name} is privileged: it can mount the host's disks and load kernel modules.`,
      })),
      ...when(build.privileged === true, () => ({
        field: 'build.privileged',
        message: `${name} builds privileged: a RUN line of its Dockerfile is root on the host.`,
        fix: 'Remove build.privileged.',
      })),
      ...entitlements(name, build, false),
    ],
  ),
  'host-namespace': rule(
    'high',
    true,
    "A service (or a build) in the host's pid, ipc, network, user, uts or cgroup namespace.",
    'Remove the `host` namespace setting.',
    ({ name, service, build, model }) => [
      ...entitlements(name, build, true),
      ...NAMESPACES.filter((field) => service[field] === 'host').map((field) => ({
        field,
        message: `${name} uses the host's ${field.replace('_mode', '')} namespace.`,
        fix: `Remove ${field}: host.`,
      })),
      ...when(build.network === 'host', () => ({
        field: 'build.network',
        message: `${name} builds in the host's network namespace.`,
        fix: 'Remove build.network: host.',
      })),
      ...namesOf(service.networks as string[] | Record<string, unknown>)
        .filter((network) => (model.networks?.[network]?.name ?? network) === 'host' && model.networks?.[network]?.external)
        .map((network) => ({
          field: 'networks',
          message: `${name} joins the network "host", which is the host's network namespace.`,
          fix: `Remove ${network} from ${name}'s networks.`,
        })),
    ],
  ),
  'joined-namespace': rule(
    'high',
    true,
    "A service in another container's or service's namespace (network_mode, pid or ipc: container:… or service:…), other than the localhost forwarder in app's network.",
    'Remove the setting; services of a stack talk over its networks.',
    ({ name, service, worktree }) =>
      JOINABLE.flatMap((field) => {
        const value = service[field];
        if (typeof value !== 'string' || !/^(container|service):/.test(value)) return [];
        // The localhost forwarder lives in app's network namespace.
        if (worktree && field === 'network_mode' && name === LOCALHOST_PROXY_SERVICE && value === `service:${APP_SERVICE}`) return [];
        return [
          {
            field,
            message: `${name} sets ${field}: ${value}, entering the namespace of ${value.slice(value.indexOf(':') + 1)}.`,
            fix: `Remove ${field}: ${value}.`,
          },
        ];
      }),
  ),
  runtime: rule(
    'high',
    true,
    "A service's OCI runtime (runtime:) other than gVisor's runsc: up-worktree alone chooses the dev container's (runsc when the engine has it), and another runtime is the engine's to run with powers no file of the stack shows.",
    'Remove runtime:; generate the sandbox with --runtime=auto (or runsc, runc) instead.',
    ({ name, service }) =>
      when(service.runtime !== undefined && service.runtime !== GVISOR_RUNTIME, () => ({
        field: 'runtime',
        message: `${name} sets runtime: ${String(service.runtime)}; only runsc (gVisor), as up-worktree sets it, is allowed.`,
      })),
  ),
  'dangerous-capability': rule('high', true, 'A capability added (cap_add): each one widens what a way out can do.', 'Remove cap_add.', ({ name, service }) => {
    const capabilities = list(service.cap_add).map(String);
    return when(capabilities.length > 0, () => ({
      field: 'cap_add',
      place: 0,
      message: `${name} adds ${capabilities.join(', ')}: each capability widens what a way out can do.`,
      fix: `Remove cap_add from ${name}.`,
    }));
  }),
  unconfined: rule(
    'high',
    true,
    'security_opt that turns off seccomp, AppArmor, SELinux labelling or the masked system paths, or swaps in a seccomp profile the gate cannot read.',
    'Remove it; keep no-new-privileges:true.',
    ({ name, service }) =>
      list(service.security_opt).flatMap((option, index) => {
        const off = unconfinedBy(String(option));
        return when(off !== undefined, () => ({
          field: 'security_opt',
          place: index,
          message: `${name} sets security_opt ${option}: it ${off}.`,
          fix: `Remove ${option}; keep no-new-privileges:true.`,
        }));
      }),
  ),
  'host-device': rule(
    'high',
    true,
    'A host device given to a service (devices, device_cgroup_rules, gpus, device reservations).',
    'Remove it.',
    ({ name, service }) => {
      const deploy = service.deploy as { resources?: { reservations?: { devices?: unknown[] } } } | undefined;
      return [
        ...(['devices', 'device_cgroup_rules', 'gpus'] as const).flatMap((field) => {
          const items = list(service[field]).map((item) => (isRecord(item) ? (item.source ?? JSON.stringify(item)) : item));
          return when(items.length > 0, () => ({
            field,
            place: 0,
            message: `${name} is given host devices (${field}: ${items.join(', ')}).`,
            fix: `Remove ${field}.`,
          }));
        }),
        ...when(list(deploy?.resources?.reservations?.devices).length > 0, () => ({
          field: 'deploy.resources.reservations.devices',
          message: `${name} reserves host devices (deploy.resources.reservations.devices).`,
          fix: 'Remove the device reservation.',
        })),
      ];
    },
  ),
  'cgroup-parent': rule('high', true, "A service placed in a cgroup of the host's choosing (cgroup_parent).", 'Remove cgroup_parent.', ({ name, service }) =>
    when(service.cgroup_parent !== undefined, () => ({ field: 'cgroup_parent', message: `${name} sets cgroup_parent: ${service.cgroup_parent}.` })),
  ),
  'volumes-from': rule(
    'high',
    true,
    "A service that takes another container's or service's mounts (volumes_from).",
    'Remove volumes_from; mount what it needs itself.',
    ({ name, service }) =>
      when(list(service.volumes_from).length > 0, () => ({
        field: 'volumes_from',
        place: 0,
        message: `${name} takes the mounts of ${list(service.volumes_from).join(', ')} (volumes_from).`,
      })),
  ),
  sysctl: rule(
    'high',
    true,
    "A kernel setting (sysctls) other than the localhost forwarder's net.ipv6.conf.lo.disable_ipv6=0 on app.",
    'Remove the sysctl.',
    ({ name, service, worktree }) =>
      pairs(service.sysctls).flatMap(([key, value], index) =>
        when(!(worktree && name === APP_SERVICE && key === OUR_SYSCTL[0] && value === OUR_SYSCTL[1]), () => ({
          field: 'sysctls',
          // The key names the sysctl; a list form is placed by its index.
          place: Array.isArray(service.sysctls) ? index : key,
          message: `${name} sets the kernel setting ${key}=${value}.`,
          fix: `Remove ${key} from ${name}'s sysctls.`,
        })),
      ),
  ),
  'runs-as-root': rule(
    'high',
    true,
    'The dev container (app) runs as root, or sets no user; or its image ends as root; or the socket proxy runs as root (an owner-only socket) keeping a capability.',
    'Use user: node.',
    ({ name, service, worktree }) => {
      if (worktree && name === APP_SERVICE) {
        const user = service.user === undefined || service.user === null ? '' : String(service.user);
        if (user !== '' && !ROOT_USER.test(user)) return [];
        const message = user
          ? `${name} (the dev container) runs as ${user}.`
          : `${name} (the dev container) sets no user: it runs as whatever its image ends with.`;
        return [{ field: 'user', message, fix: 'Set user: node (the generator does).' }];
      }
      // On an engine whose socket only its owner may use, the proxy runs as that owner, root in the engine's eyes: never with a capability.
      if (!(worktree && name === PROXY_SERVICE && ROOT_USER.test(String(service.user ?? '')))) return [];
      const dropsAll = list(service.cap_drop).some((cap) => String(cap).toUpperCase() === 'ALL');
      const noNewPrivileges = list(service.security_opt).some((option) => /^no-new-privileges(:true|=true)?$/.test(String(option)));
      if (dropsAll && noNewPrivileges) return [];
      return [
        {
          field: 'user',
          message: `${name} runs as ${service.user} (the socket's owner) ${dropsAll ? '' : 'keeping its capabilities'}${!dropsAll && !noNewPrivileges ? ' and ' : ''}${noNewPrivileges ? '' : 'without no-new-privileges'}.`,
          fix: `Give ${name} cap_drop: [ALL] and security_opt: [no-new-privileges:true] (the generator does).`,
        },
      ];
    },
  ),
  'proxy-on-shared-network': rule(
    'high',
    true,
    "The socket proxy or the egress proxy reachable from the shared network, where other worktrees' containers are.",
    "Keep the proxy on its stack's private network only.",
  ),
  'proxy-write-policy': rule(
    'high',
    true,
    "The socket proxy's write policy (WRITE_POLICY) on, or set otherwise than --testContainers renders it.",
    "Turn it on with the generator's --testContainers only; remove WRITE_POLICY and its variables from the proxy otherwise.",
  ),
  'published-on-all-interfaces': rule(
    'high',
    true,
    'A port published on every interface of the host (no host IP, 0.0.0.0 or ::): anyone on your network reaches the service.',
    'Publish on 127.0.0.1 only (e.g. 127.0.0.1:5432:5432).',
    ({ name, service }) =>
      list(service.ports).flatMap((port, index) => {
        const address = hostAddress(port);
        if (isLoopback(address)) return [];
        const text = isRecord(port) ? `${address ?? ''}:${port.published ?? '(any)'}:${port.target}` : String(port);
        return [
          {
            field: 'ports',
            place: index,
            message: `${name} publishes ${text} on every interface of the host: anyone on your network reaches it.`,
            fix: `Publish on 127.0.0.1 only (e.g. 127.0.0.1:${(isRecord(port) ? port.target : String(port).split(':').pop()) ?? 'PORT'}).`,
          },
        ];
      }),
  ),
  'egress-unfiltered': rule(
    'high',
    true,
    "The dev container has a way out the egress proxy does not filter: a network with a route out, or an internal one whose gateway address is the host's.",
    'Keep the dev container on internal networks without a gateway (as generated); to reach a host, add it to EGRESS_ALLOW in the compose file.',
  ),
  // Static audit.
  'egress-open': rule(
    'medium',
    false,
    'The dev container reaches any host, unfiltered (--egress=open): the agent can send what it reads anywhere, and fetch anything.',
    'Generate the sandbox without --egress=open: the egress proxy then lets out only the hosts listed in the compose file.',
  ),
  'test-containers': rule(
    'medium',
    false,
    "The agent may run containers of its own (--testContainers) through the socket proxy's write policy: images from the allowed registries, no privilege, no host path, no host port, no route out, limits forced; siblings stay read-only.",
    'Generate the sandbox without --testContainers if the agent need not run Docker-based tests.',
  ),
  'shared-kernel': rule(
    'medium',
    false,
    "The dev container shares the host's kernel (runc): one kernel bug reachable from inside is a way out that no proxy or gate sees. Info when the engine has no gVisor at all.",
    'Generate the sandbox without --runtime=runc, on an engine with gVisor registered (runsc): up-worktree then runs the dev container on it.',
  ),
  'sandbox-writable': rule(
    'high',
    false,
    "The sandbox's own definition (.devcontainer) writable from inside.",
    'Mount ./ at the .devcontainer path with :ro (the generator does).',
  ),
  'proxy-write-switch': rule('high', false, 'The proxy asked for write access.', 'Remove the write switch.'),
  sudo: rule('high', false, 'sudo in the image.', 'Remove sudo; install the tools the agent needs at build time.'),
  'devcontainer-escape': rule('high', false, 'devcontainer.json runArgs that ask for a way out.', 'Remove those runArgs.'),
  'no-sandbox': rule('high', false, 'The project has no sandbox of ours.', 'Run nx g @org/devsec:secure-devcontainer --project=<project>.'),
  'unpinned-image': rule('medium', false, 'An image without a pinned tag.', 'Pin a tag (or a digest), e.g. postgres:17.'),
  'network-mode-with-networks': rule(
    'medium',
    false,
    'A service with both network_mode and networks, which Compose rejects.',
    'Keep network_mode or networks, not both.',
    ({ name, service }) =>
      when(service.network_mode !== undefined && service.networks !== undefined, () => ({
        field: 'network_mode',
        message: `${name} sets both network_mode and networks; Compose rejects the pair at run time.`,
        fix: "Keep network_mode (to share another service's namespace) or networks, not both.",
      })),
  ),
  'depends-on-missing': rule(
    'medium',
    false,
    'A dependency on a service the file does not define.',
    'Define it or remove it from depends_on.',
    ({ name, service, model }) =>
      namesOf(service.depends_on)
        .filter((dependency) => !(dependency in (model.services ?? {})))
        .map((dependency) => ({
          field: 'depends_on',
          message: `${name} depends on "${dependency}", which this file does not define.`,
          fix: `Define ${dependency} or remove it from depends_on.`,
        })),
  ),
  'devcontainer-ignored-with-compose': rule(
    'medium',
    false,
    'A devcontainer.json setting ignored when dockerComposeFile is set.',
    'Set the equivalent in the compose file.',
  ),
  // audit --live: what the probe saw from inside the running dev container.
  'live-root': rule('high', false, 'The dev container runs as root.', 'Use user: node (the generator does).'),
  'live-capabilities': rule('high', false, 'The process holds capabilities.', 'Run as a non-root user and add no capabilities.'),
  'live-new-privileges': rule(
    'medium',
    false,
    'Setuid programs can raise privileges (no-new-privileges is off).',
    'Add security_opt: [no-new-privileges:true] (the generator does).',
  ),
  'live-sudo': rule(
    'high',
    false,
    'sudo, doas or pkexec installed setuid root (whether it would let the agent in without a password is not tried: the probe runs as another uid).',
    'Remove it from the image; install what the agent needs at build time.',
  ),
  'live-ssh-agent': rule('high', false, 'An SSH agent forwarded into the dev container.', 'Do not forward the SSH agent.'),
  'live-ssh-keys': rule('high', false, 'SSH keys or config inside.', 'Remove the mount: the sandbox holds no credentials of yours.'),
  'live-credentials': rule('high', false, 'Credential files inside.', 'Remove the mount: the sandbox holds no credentials of yours.'),
  'live-credential-helper': rule('high', false, 'A git credential helper configured inside.', 'Remove it.'),
  'live-credential-env': rule('high', false, 'A token, or a way to ask for one, in the environment.', "Remove it from the dev container's environment."),
  'live-writable': rule('high', false, 'A path the host later reads or runs is writable from inside.', 'Mount it read-only (up-worktree does).'),
  'live-vscode-channel': rule(
    'high',
    false,
    "A channel of VS Code's to the host inside: its SSH agent, git askpass or IPC socket, a process environment naming one, a copied credential helper.",
    'Set the VS Code user settings in the README (dev.containers.copyGitConfig false, gitCredentialHelperConfigLocation none, dockerCredentialHelper false), start VS Code without SSH_AUTH_SOCK, and start the agent with devsec agent.',
  ),
  'live-host-folder': rule(
    'high',
    false,
    "node_modules or .nx inside is the host's own folder.",
    'Mount a volume of the stack there (the generator does: node_modules and nx-state).',
  ),
  'live-docker-api': rule(
    'high',
    false,
    'Forbidden Docker calls reached an engine.',
    'Give the dev container Docker only through its proxy, and mount no socket.',
  ),
  'live-env-readable': rule('high', false, 'Inspect shows env values in clear.', 'Use the devsec proxy, which redacts env values.'),
  'live-shared-kernel': rule(
    'high',
    false,
    "The dev container should run on gVisor (runsc: the engine has it, and the sandbox does not opt out) and runs on the host's kernel.",
    'Start it again with up-worktree (it sets the runtime); a stack started otherwise (docker compose up by hand) misses the override file that does.',
  ),
  'live-proxy-down': rule(
    'medium',
    false,
    'The Docker proxy does not answer: the agent cannot watch its siblings.',
    'Check the docker-proxy service and DOCKER_HOST.',
  ),
  'live-docker-socket': rule('high', false, 'A Docker socket inside.', 'Remove the socket mount: only the proxy sees the socket.'),
  'live-unknown-socket': rule('medium', false, 'A socket inside that is not Docker.', 'Remove the mount if the agent does not need it.'),
  'live-proxy-reachable': rule(
    'high',
    false,
    "A Docker proxy answers from another network (another sandbox's, or this one's off its private network).",
    "Keep every proxy on its own stack's private network only.",
  ),
  'live-shared-admin': rule(
    'high',
    false,
    "A shared service's connection variable in the dev container logs in as the service's administrator: the agent reaches every worktree's data, and can run programs in the service's container.",
    'Let up-worktree give it a tenant (Postgres, MySQL, MongoDB, Redis): generate the shared service with this version, then up-worktree again.',
  ),
  'live-engine-reachable': rule('high', false, 'A Docker engine answers on the network.', 'Do not expose an engine on TCP.'),
  'live-egress-route': rule(
    'high',
    false,
    'A direct connection out of the dev container was answered: a gateway, an address of the host, or a public address.',
    'Keep the dev container on internal networks without a gateway (as generated; a shared network of an older version: down-worktree everywhere, down-shared, then up-worktree).',
  ),
  'live-egress-dns': rule(
    'medium',
    false,
    'A name outside the stack resolves inside: DNS reaches the outside, a slow channel out.',
    'Keep the dev container on internal networks only (as generated).',
  ),
  'live-egress-proxy': rule(
    'high',
    false,
    'The egress proxy let a host through that no list allows, refused a listed one, or is not what HTTPS_PROXY names.',
    'Check the egress-proxy service (docker compose ps) and its EGRESS_ALLOW; run up-worktree again.',
  ),
  'live-tls-endpoint': rule(
    'medium',
    false,
    'A TLS endpoint answers on an engine port (a Docker engine with TLS?).',
    'Make sure the engine asks for client certificates, or do not listen on that address.',
  ),
} satisfies Record<string, Rule>;

export type RuleId = keyof typeof RULES;

/** The rules the policy gate enforces, in the table's order (each can be allowed by name with --unsafe-allow). */
export const GATE_RULES = (Object.keys(RULES) as RuleId[]).filter((id) => RULES[id].gate);
/** Gate rules judged on the host's files rather than on the compose model (lifecycle.ts, gateNestedGit). */
export const HOST_GATE_RULES: readonly RuleId[] = ['nested-git'];
/** Gate rules judged on the compose model (rules/stack-rules.ts). */
export const MODEL_GATE_RULES = GATE_RULES.filter((id) => !HOST_GATE_RULES.includes(id));

export interface Finding {
  rule: RuleId;
  severity: Severity;
  file: string;
  /** 1-based, where the file and the key could be placed. */
  line?: number;
  service?: string;
  key: string;
  /** Where in the compose model the offending value sits (list indexes too), to find its line; not reported. */
  at?: Array<string | number>;
  message: string;
  fix: string;
}

/** A finding of `rule`, its severity from the table (or lower, when the caller knows better), its fix the table's unless given. */
export function finding(rule: RuleId, fields: Omit<Finding, 'rule' | 'severity' | 'fix'> & { fix?: string; severity?: Severity }): Finding {
  return { rule, ...fields, severity: fields.severity ?? RULES[rule].severity, fix: fields.fix ?? RULES[rule].fix };
}

/** Every rule as a Markdown table (id, severity, gate, what, fix): README's rule list is this, kept equal by a test. */
export function rulesTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = (Object.keys(RULES) as RuleId[]).map((id) => {
    const { severity, gate, what, fix } = RULES[id];
    return `| \`${id}\` | ${severity} | ${gate ? 'gate' : ''} | ${cell(what)} | ${cell(fix)} |`;
  });
  return ['| rule | severity | gate | what | usual fix |', '|---|---|---|---|---|', ...rows].join('\n');
}
