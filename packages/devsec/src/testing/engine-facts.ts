/**
 * What each engine's docker CLI endpoint, `docker version`, `docker info` and a container's
 * stat of the bound socket say, for the discovery's unit tests. `recorded` rows were read off
 * engines on this repository's CI machine (the real-engine suites run them too); the others are
 * put together from the engines' documentation and published `docker info` output, and say so.
 */
import type { EngineKind } from '../sandbox/engines';
import type { Endpoint, EngineProfile, EngineReport, SocketStat } from '../host/engine/engine-discovery';

export interface EngineFactSet {
  kind: EngineKind;
  recorded: boolean;
  endpoint: Endpoint;
  report: EngineReport;
  /** The bind source the discovery must choose. */
  socket: string;
  /** The socket as a container on that engine sees it. */
  stat: SocketStat;
  /** What the proxy must run as. */
  access: { user: string; group: number };
}

const engine = (name = 'Engine') => ({ Components: [{ Name: name }, { Name: 'containerd' }, { Name: 'runc' }, { Name: 'docker-init' }] });

export const ENGINE_FACTS: Record<string, EngineFactSet> = {
  'Linux, rootful Docker (Debian docker.io 20.10)': {
    kind: 'docker',
    recorded: true,
    endpoint: { host: 'unix:///var/run/docker.sock', from: 'the default context' },
    report: {
      version: { Server: { Platform: { Name: '' }, ...engine(), Os: 'linux', KernelVersion: '6.18.44-fc-v669' } },
      info: {
        ID: 'LKK6:ZU43:ZOO3:7DLR:A53B:3ZKV:COSE:DFON:6VSD:MTFU:XLHP:KEXX',
        Name: 'vm',
        OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
        SecurityOptions: ['name=seccomp,profile=default'],
      },
    },
    socket: '/var/run/docker.sock',
    stat: { uid: 0, gid: 105, mode: 0o660 },
    access: { user: 'node', group: 105 },
  },
  'Linux, rootless Docker (Debian docker.io 20.10, rootlesskit 1.1)': {
    kind: 'docker-rootless',
    recorded: true,
    endpoint: { host: 'unix:///run/user/1990/docker.sock', from: 'DOCKER_HOST=unix:///run/user/1990/docker.sock' },
    report: {
      version: { Server: { Platform: { Name: '' }, ...engine(), Os: 'linux', KernelVersion: '6.18.44-fc-v669' } },
      info: {
        ID: 'J5WH:FULF:M432:KFEC:PTHO:KNRP:3ENC:3KGK:PQKN:HO3K:ZXJI:4CVR',
        Name: 'vm',
        OperatingSystem: 'Debian GNU/Linux 12 (bookworm)',
        SecurityOptions: ['name=seccomp,profile=default', 'name=rootless'],
        KernelVersion: '6.18.44-fc-v669',
        CgroupDriver: 'none',
      },
    },
    socket: '/run/user/1990/docker.sock',
    // The host's stat says 1990:100104 (a subordinate group); containers see root and the docker group.
    stat: { uid: 0, gid: 105, mode: 0o1660 },
    access: { user: 'node', group: 105 },
  },
  'Linux, rootful Podman 4.3 (Docker API service)': {
    kind: 'podman',
    recorded: true,
    endpoint: { host: 'unix:///run/podman/podman.sock', from: 'DOCKER_HOST=unix:///run/podman/podman.sock' },
    report: {
      version: { Server: { Components: [{ Name: 'Podman Engine' }, { Name: 'Conmon' }, { Name: 'OCI Runtime (runc)' }, { Name: 'Engine' }], Os: 'linux' } },
      // Its ID is a new UUID at every call: nothing is keyed by it.
      info: { ID: '', Name: 'vm', OperatingSystem: 'debian', SecurityOptions: ['name=seccomp,profile=default'] },
    },
    socket: '/run/podman/podman.sock',
    // As `podman system service` makes it: only the owner may use it.
    stat: { uid: 0, gid: 0, mode: 0o600 },
    access: { user: '0:0', group: 0 },
  },
  'Linux, rootless Podman 4.3 (Docker API service)': {
    kind: 'podman-rootless',
    recorded: true,
    endpoint: { host: 'unix:///run/user/1991/podman/podman.sock', from: 'DOCKER_HOST=unix:///run/user/1991/podman/podman.sock' },
    report: {
      version: { Server: { Components: [{ Name: 'Podman Engine' }, { Name: 'Conmon' }, { Name: 'OCI Runtime (runc)' }, { Name: 'Engine' }], Os: 'linux' } },
      // Not rootless by its info: the runtime directory tells.
      info: { ID: '', Name: 'vm', OperatingSystem: 'debian', SecurityOptions: ['name=seccomp,profile=default'], CgroupDriver: 'cgroupfs', CgroupVersion: '1' },
    },
    socket: '/run/user/1991/podman/podman.sock',
    // The host's stat says 1991:1991 0600; containers see root, 0600: the owner it is (you, in the namespace).
    stat: { uid: 0, gid: 0, mode: 0o600 },
    access: { user: '0:0', group: 0 },
  },
  'macOS, Docker Desktop (documented)': {
    kind: 'docker-desktop',
    recorded: false,
    endpoint: { host: 'unix:///Users/ada/.docker/run/docker.sock', from: 'the docker context "desktop-linux"' },
    report: {
      version: { Server: { Platform: { Name: 'Docker Desktop 4.37.1 (178610)' }, ...engine(), Os: 'linux', KernelVersion: '6.10.14-linuxkit' } },
      info: {
        ID: 'a6f4c1e2-docker-desktop',
        Name: 'docker-desktop',
        OperatingSystem: 'Docker Desktop',
        KernelVersion: '6.10.14-linuxkit',
        SecurityOptions: ['name=seccomp,profile=unconfined', 'name=cgroupns'],
      },
    },
    socket: '/var/run/docker.sock',
    // The VM's socket, root-owned and not group-writable as containers see it.
    stat: { uid: 0, gid: 0, mode: 0o755 },
    access: { user: '0:0', group: 0 },
  },
  'Windows, Docker Desktop from WSL 2 (documented)': {
    kind: 'docker-desktop',
    recorded: false,
    endpoint: { host: 'unix:///var/run/docker.sock', from: 'the default context' },
    report: {
      version: {
        Server: { Platform: { Name: 'Docker Desktop 4.37.1 (178610)' }, ...engine(), Os: 'linux', KernelVersion: '5.15.167.4-microsoft-standard-WSL2' },
      },
      info: { ID: 'c0ffee-docker-desktop', Name: 'docker-desktop', OperatingSystem: 'Docker Desktop', KernelVersion: '5.15.167.4-microsoft-standard-WSL2' },
    },
    socket: '/var/run/docker.sock',
    stat: { uid: 0, gid: 0, mode: 0o660 },
    access: { user: 'node', group: 0 },
  },
  'macOS, Colima (documented)': {
    kind: 'colima',
    recorded: false,
    endpoint: { host: 'unix:///Users/ada/.colima/default/docker.sock', from: 'the docker context "colima"' },
    report: {
      version: { Server: { Platform: { Name: 'Docker Engine - Community' }, ...engine(), Os: 'linux', KernelVersion: '6.8.0-50-generic' } },
      info: {
        ID: 'colima-id',
        Name: 'colima',
        OperatingSystem: 'Ubuntu 24.04.1 LTS',
        KernelVersion: '6.8.0-50-generic',
        SecurityOptions: ['name=apparmor', 'name=seccomp,profile=builtin', 'name=cgroupns'],
      },
    },
    socket: '/var/run/docker.sock',
    // The VM's docker group, which the Mac does not have (there the socket is yours, group staff).
    stat: { uid: 0, gid: 988, mode: 0o660 },
    access: { user: 'node', group: 988 },
  },
  'macOS, OrbStack (documented)': {
    kind: 'orbstack',
    recorded: false,
    endpoint: { host: 'unix:///Users/ada/.orbstack/run/docker.sock', from: 'the docker context "orbstack"' },
    report: {
      version: { Server: { Platform: { Name: 'Docker Engine - Community' }, ...engine(), Os: 'linux', KernelVersion: '6.12.5-orbstack-00287-gf8da5d508983' } },
      info: { ID: 'orb-id', Name: 'orbstack', OperatingSystem: 'OrbStack', KernelVersion: '6.12.5-orbstack-00287-gf8da5d508983' },
    },
    socket: '/var/run/docker.sock',
    stat: { uid: 0, gid: 0, mode: 0o660 },
    access: { user: 'node', group: 0 },
  },
  'macOS, Rancher Desktop with dockerd (documented)': {
    kind: 'rancher-desktop',
    recorded: false,
    endpoint: { host: 'unix:///Users/ada/.rd/docker.sock', from: 'the docker context "rancher-desktop"' },
    report: {
      version: { Server: { Platform: { Name: '' }, ...engine(), Os: 'linux', KernelVersion: '6.6.14-0-virt' } },
      info: { ID: 'rd-id', Name: 'lima-rancher-desktop', OperatingSystem: 'Alpine Linux v3.19', KernelVersion: '6.6.14-0-virt' },
    },
    socket: '/var/run/docker.sock',
    stat: { uid: 0, gid: 102, mode: 0o660 },
    access: { user: 'node', group: 102 },
  },
};

/** The recorded rootless Docker engine, as discovery makes it: its socket seen as 0:105 inside, where the host says 1990:100104. */
export const ROOTLESS_DOCKER = 'Linux, rootless Docker (Debian docker.io 20.10, rootlesskit 1.1)';

/** What discovery makes of a fact set. */
export function profileOf(name: string): EngineProfile {
  const facts = ENGINE_FACTS[name];
  return {
    kind: facts.kind,
    endpoint: facts.endpoint,
    id: facts.report.info.ID ?? '',
    socket: facts.socket,
    stat: facts.stat,
    access: facts.access,
    enforcesLimits: facts.report.info.CgroupDriver !== 'none',
  };
}
