/**
 * What differs per container engine, in one table: where its API socket is as containers see
 * it (the bind source of the socket proxy), who owns it there, the name containers reach the
 * host by, and what its internal networks, loopback IPv6 and Compose do. The executors take the
 * socket and the kind from here (host/engine-discovery.ts), the audit takes every socket path
 * and host name, and README's "Requirements and engines" table is this table (a spec compares).
 * `proven` says which rows this repository's tests run on a real engine; the others are from
 * the engines' documentation.
 */

/** Where the socket proxy finds the engine's API inside its container, whatever the engine. */
export const PROXY_SOCKET_TARGET = '/var/run/docker.sock';

/** The socket of Docker Engine and of the engines that run one in a VM, as containers see it. */
export const DOCKER_SOCKET = '/var/run/docker.sock';

/** Rootful Podman's socket (podman.socket, or `podman system service`). */
export const PODMAN_SOCKET = '/run/podman/podman.sock';

/** Set in your shell (never in a workspace `.env`): the engine's socket as its containers see it, when discovery cannot tell. */
export const ENGINE_SOCKET_OVERRIDE = 'DEVSEC_ENGINE_SOCKET';

export type EngineKind = 'docker' | 'docker-rootless' | 'podman' | 'podman-rootless' | 'docker-desktop' | 'colima' | 'orbstack' | 'rancher-desktop';

export interface EngineFacts {
  /** How the README names it. */
  name: string;
  /** Where the docker CLI on the host usually reaches it (`~` is your home, `$XDG_RUNTIME_DIR` your runtime dir). */
  endpoint: string;
  /**
   * The bind source that reaches its API from inside a container: `endpoint` when host and
   * engine share one filesystem (the engine resolves the path where the CLI found it), else a
   * path in the engine's VM.
   */
  socketInContainers: 'endpoint' | string;
  /** Who owns that socket as containers see it, and what the proxy is given for it. */
  ownership: string;
  /** The name a container reaches the host by. */
  hostGateway: string;
  /** Does an `internal` network created with the no-gateway option leave the host unreachable. */
  internalNetworks: string;
  /** Its networks honour the no-gateway option (NO_GATEWAY_OPTION): else an internal network's gateway is the host, and the gate refuses it. */
  noGateway: boolean;
  /** IPv6 on a container's loopback (the localhost forwarder needs ::1). */
  ipv6Loopback: string;
  compose: string;
  /** What `docker compose` needs in its environment on this engine (up-worktree sets it). */
  composeEnv?: Readonly<Record<string, string>>;
  /** Are mem_limit, pids_limit and cpus enforced. */
  limits: string;
  /** gVisor (runsc) for the dev container: what is proven here, what is from documentation. */
  gvisor: string;
  /** Your uid is root inside a user namespace: the dev container's user (node, uid 1000) is a subordinate uid, a stranger to your files. */
  userNamespace: boolean;
  /** What the agent (node, uid 1000) can do with your workspace inside. */
  yourFiles: string;
  /** Run by this repository's real-engine tests (see the closing line of the README section). */
  proven: boolean;
}

export const ENGINES: Readonly<Record<EngineKind, EngineFacts>> = {
  docker: {
    name: 'Docker Engine on Linux (rootful)',
    endpoint: 'unix:///var/run/docker.sock',
    socketInContainers: 'endpoint',
    ownership: 'root:docker 0660: the proxy joins that group (group_add)',
    hostGateway: 'none by default; `host-gateway` in extra_hosts (the sandbox adds none)',
    internalNetworks: 'no route out, and no address on the bridge, so no gateway to the host',
    noGateway: true,
    ipv6Loopback: 'off unless the daemon enables IPv6; the dev container sets net.ipv6.conf.lo.disable_ipv6=0',
    compose: 'the docker-compose-plugin (v2)',
    limits: 'enforced',
    gvisor:
      "**yes**, every suite in CI: Debian trixie's runsc (2024-07; bookworm's 2022-12 build answers EINVAL to coreutils' statx, so `ls` fails inside) registered by `.ci/setup-engine.sh` with `runtimeArgs: [\"--network=host\", \"--directfs=false\"]` (its own netstack fails here; directfs let a read-only mount's file be emptied from inside), reloaded by SIGHUP; the dev container (and with `--testContainers` the agent's children) on runsc by default, the proxies on runc; the e2e journey passes there; ::1 on the loopback stays off (runsc skips the sysctl), so the localhost forwarder answers on 127.0.0.1 only (up says so)",
    userNamespace: false,
    yourFiles: 'as on this machine: node is uid 1000, so it writes them when yours is 1000',
    proven: true,
  },
  'docker-rootless': {
    name: 'Docker Engine, rootless',
    endpoint: 'unix://$XDG_RUNTIME_DIR/docker.sock',
    socketInContainers: 'endpoint',
    ownership:
      "your user, root inside its user namespace, with the root engine's docker group mapped in (here the host's stat says 1990:100104, containers see 0:105): learned from inside, the proxy joins that group",
    hostGateway: 'none; the host loopback is closed by default (rootlesskit --disable-host-loopback)',
    internalNetworks: "as rootful: the bridge lives in rootlesskit's namespace",
    noGateway: true,
    ipv6Loopback: 'as rootful',
    compose: 'the docker-compose-plugin (v2)',
    limits: 'enforced with cgroup v2 and delegation; on cgroup v1 accepted and ignored (up warns)',
    gvisor: 'documented (gVisor supports rootless Docker with --ignore-cgroups); not verified here',
    userNamespace: true,
    yourFiles: 'your uid is root inside and node a subordinate uid: the agent reads only what others may read and writes nothing (not solved yet; up warns)',
    proven: true,
  },
  podman: {
    name: 'Podman (rootful), Docker API service',
    endpoint: `unix://${PODMAN_SOCKET}`,
    socketInContainers: 'endpoint',
    ownership: "root's, 0600, as `podman system service` makes it (podman.socket units may add a group): the proxy runs as root with every capability dropped",
    hostGateway: 'host.containers.internal',
    internalNetworks:
      'Podman 4.3 ignores the no-gateway option: the gateway of an internal network is the host, so the gate refuses the stack (egress-unfiltered) unless you allow it; netavark with dockerd beside it also needs a FORWARD rule for traffic within a bridge',
    noGateway: false,
    ipv6Loopback: 'on',
    compose: 'the docker-compose-plugin (v2) against the Docker API service, building without BuildKit (up sets DOCKER_BUILDKIT=0)',
    // Its Docker API has no BuildKit: Compose would run moby/buildkit, which no registry here (or offline) serves.
    composeEnv: { DOCKER_BUILDKIT: '0' },
    limits: 'enforced',
    gvisor: 'documented (Podman takes `--runtime=runsc`, listed under engine.runtimes in containers.conf); not verified here',
    userNamespace: false,
    yourFiles: 'as on this machine, as rootful Docker',
    proven: true,
  },
  'podman-rootless': {
    name: 'Podman, rootless, Docker API service',
    endpoint: 'unix://$XDG_RUNTIME_DIR/podman/podman.sock',
    socketInContainers: 'endpoint',
    ownership: 'your user, seen as root inside its user namespace, 0600: the proxy runs as that uid, every capability dropped',
    hostGateway: 'host.containers.internal',
    internalNetworks: 'as rootful Podman: the no-gateway option is ignored, and the gate refuses the stack',
    noGateway: false,
    ipv6Loopback: 'on',
    compose: 'the docker-compose-plugin (v2) against the Docker API service, building without BuildKit (up sets DOCKER_BUILDKIT=0)',
    // Its Docker API has no BuildKit: Compose would run moby/buildkit, which no registry here (or offline) serves.
    composeEnv: { DOCKER_BUILDKIT: '0' },
    limits: 'enforced with cgroup v2 and delegation; on cgroup v1 dropped without a word (its info says cgroupfs; up warns)',
    gvisor: 'documented (runsc rootless with --ignore-cgroups); not verified here',
    userNamespace: true,
    yourFiles: 'as rootless Docker, unless the dev container runs with userns keep-id (not generated yet; up warns)',
    proven: true,
  },
  'docker-desktop': {
    name: 'Docker Desktop (macOS, Windows with WSL 2, Linux)',
    endpoint: 'unix://~/.docker/run/docker.sock (macOS, Linux); unix:///var/run/docker.sock in WSL 2',
    socketInContainers: DOCKER_SOCKET,
    ownership: "the VM's socket, root-owned: learned from inside; the proxy runs as its owner with every capability dropped when only the owner may use it",
    hostGateway: 'host.docker.internal',
    internalNetworks: 'not verified here: audit --live reports a route out or a reachable gateway',
    noGateway: true,
    ipv6Loopback: 'not verified here',
    compose: 'bundled (v2)',
    limits: "enforced (the VM's cgroup v2)",
    gvisor: "no: Docker Desktop has no runsc and cannot register one; the kernel is its VM's, shared by every container",
    userNamespace: false,
    yourFiles: 'the file sharing of the VM decides: not verified here',
    proven: false,
  },
  colima: {
    name: 'Colima (Docker runtime)',
    endpoint: 'unix://~/.colima/<profile>/docker.sock',
    socketInContainers: DOCKER_SOCKET,
    ownership: 'root:docker in the VM, a group the host does not have: learned from inside',
    hostGateway: 'host.lima.internal',
    internalNetworks: 'the Linux bridge driver in the VM: as rootful Docker, not verified here',
    noGateway: true,
    ipv6Loopback: 'as rootful Docker, not verified here',
    compose: 'the docker-compose plugin you install (v2)',
    limits: "enforced (the VM's cgroup v2)",
    gvisor: "documented: runsc installed and registered in the VM's dockerd; not verified here",
    userNamespace: false,
    yourFiles: "the VM's mount (virtiofs or sshfs) decides: not verified here",
    proven: false,
  },
  orbstack: {
    name: 'OrbStack',
    endpoint: 'unix://~/.orbstack/run/docker.sock',
    socketInContainers: DOCKER_SOCKET,
    ownership: "the VM's socket: learned from inside",
    hostGateway: 'host.docker.internal, host.orb.internal',
    internalNetworks: 'not verified here: audit --live reports a route out or a reachable gateway',
    noGateway: true,
    ipv6Loopback: 'not verified here',
    compose: 'bundled (v2)',
    limits: 'enforced',
    gvisor: 'no runsc that we know of: not verified here',
    userNamespace: false,
    yourFiles: "OrbStack's file sharing decides: not verified here",
    proven: false,
  },
  'rancher-desktop': {
    name: 'Rancher Desktop (dockerd/moby)',
    endpoint: 'unix://~/.rd/docker.sock',
    socketInContainers: DOCKER_SOCKET,
    ownership: "the VM's socket: learned from inside",
    hostGateway: 'host.docker.internal, host.lima.internal',
    internalNetworks: 'the Linux bridge driver in the VM, not verified here',
    noGateway: true,
    ipv6Loopback: 'not verified here',
    compose: 'bundled (v2)',
    limits: "enforced (the VM's cgroups)",
    gvisor: "documented: runsc installed and registered in the VM's dockerd (provisioning scripts); not verified here",
    userNamespace: false,
    yourFiles: "the VM's mount decides: not verified here",
    proven: false,
  },
};

/** Every name a container may reach its host by, on some engine: the live probe tries each. */
export const HOST_GATEWAY_NAMES: readonly string[] = ['host.docker.internal', 'host.containers.internal', 'host.lima.internal', 'host.orb.internal'];

/**
 * Where an engine's socket may sit inside a container or on a host, `~` for a home directory
 * and `$XDG_RUNTIME_DIR` for a runtime directory: the live probe looks at each from inside.
 */
export const ENGINE_SOCKET_PATHS: readonly string[] = [
  DOCKER_SOCKET,
  '/run/docker.sock',
  '/var/run/docker.sock.raw',
  PODMAN_SOCKET,
  '$XDG_RUNTIME_DIR/docker.sock',
  '$XDG_RUNTIME_DIR/podman/podman.sock',
  '~/.docker/run/docker.sock',
  '~/.docker/desktop/docker.sock',
  '~/.colima/default/docker.sock',
  '~/.orbstack/run/docker.sock',
  '~/.rd/docker.sock',
];

/** The table as README's "Requirements and engines" shows it (scripts/docs.ts writes it; a spec keeps it equal). */
export function enginesTable(): string {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  const rows = Object.values(ENGINES).map((engine) =>
    [
      engine.name,
      engine.proven ? '**yes**' : 'documented',
      `\`${engine.endpoint}\``,
      engine.socketInContainers === 'endpoint' ? 'the endpoint itself' : `\`${engine.socketInContainers}\` (in its VM)`,
      engine.ownership,
      engine.hostGateway,
      engine.internalNetworks,
      engine.ipv6Loopback,
      engine.compose,
      engine.limits,
      engine.gvisor,
      engine.yourFiles,
    ]
      .map(cell)
      .join(' | '),
  );
  return [
    '| Engine | Proven by the tests | The CLI reaches it at | The proxy mounts | Socket inside | The host, from a container | Internal networks | IPv6 on loopback | Compose | mem, pids, cpus limits | gVisor (runsc) | Your files, for the agent |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row} |`),
  ].join('\n');
}
