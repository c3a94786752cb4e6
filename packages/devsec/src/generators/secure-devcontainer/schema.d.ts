import type { Agent, ReadSwitch, WriteSwitch } from '../../lib/constants';

export type SecureDevcontainerGeneratorSchema = {
  project: string;
  network?: string;
  baseImage?: string;
  aptPackages?: string[];
  agent?: Agent;
  /** Replace generated files even when they were edited. */
  force?: boolean;
  skipFormat?: boolean;
} & Partial<Record<ReadSwitch, boolean>> &
  Partial<Record<WriteSwitch, boolean>>;
