import type { Agent, EgressMode, ReadSwitch, RuntimeChoice, WorkspaceMode, WriteSwitch } from '../../sandbox/vocabulary';
import type { LocalhostProxyOptions } from '../../sandbox/spec';

export type SecureDevcontainerGeneratorSchema = {
  project: string;
  network?: string;
  baseImage?: string;
  aptPackages?: string[];
  agent?: Agent;
  /** allowlist (default): the egress proxy is the only way out; open: any host, unfiltered. */
  egress?: EgressMode;
  /** Hosts the egress proxy allows beyond the defaults (added to what the compose file lists). */
  allowHosts?: string[];
  /** Exact names of allowHosts that may resolve to a private address (a mirror, an internal registry or Git server). */
  allowPrivateHosts?: string[];
  /** A PEM file of the workspace whose CA certificates the sandbox trusts (checked and copied by the host at every start). */
  caCerts?: string;
  /** mount (default): the host's checkout, bind-mounted; clone: a volume holding a clone of the repository. Kept across re-runs when left out. */
  workspace?: WorkspaceMode;
  /**
   * The agent may run its own containers (Testcontainers, docker run) through the stack's socket
   * proxy, under its write policy: no privilege, no host path, no host port, no route out.
   */
  testContainers?: boolean;
  /** With --testContainers: the registries images may be pulled from (default: docker.io). */
  allowRegistries?: string[];
  /** auto (default): the dev container on gVisor (runsc) when the engine has it; runsc: required; runc: the host's kernel. Kept across re-runs when left out. */
  runtime?: RuntimeChoice;
  /** Replace generated files even when they were edited. */
  force?: boolean;
  skipFormat?: boolean;
  /** Programmatic only (the localhost-proxy generator sets it). */
  localhostProxy?: LocalhostProxyOptions;
} & Partial<Record<ReadSwitch, boolean>> &
  Partial<Record<WriteSwitch, boolean>>;
