import type { Agent, ReadSwitch, WriteSwitch } from '../../sandbox/vocabulary';
import type { LocalhostProxyOptions } from '../../sandbox/spec';

export type SecureDevcontainerGeneratorSchema = {
  project: string;
  network?: string;
  baseImage?: string;
  aptPackages?: string[];
  agent?: Agent;
  /** Replace generated files even when they were edited. */
  force?: boolean;
  skipFormat?: boolean;
  /** Programmatic only (the localhost-proxy generator sets it). */
  localhostProxy?: LocalhostProxyOptions;
} & Partial<Record<ReadSwitch, boolean>> &
  Partial<Record<WriteSwitch, boolean>>;
