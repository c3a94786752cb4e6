import type { Agent, EgressMode, ReadSwitch, WorkspaceMode, WriteSwitch } from '../../sandbox/vocabulary';
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
  /** mount (default): the host's checkout, bind-mounted; clone: a volume holding a clone of the repository. Kept across re-runs when left out. */
  workspace?: WorkspaceMode;
  /** Replace generated files even when they were edited. */
  force?: boolean;
  skipFormat?: boolean;
  /** Programmatic only (the localhost-proxy generator sets it). */
  localhostProxy?: LocalhostProxyOptions;
} & Partial<Record<ReadSwitch, boolean>> &
  Partial<Record<WriteSwitch, boolean>>;
