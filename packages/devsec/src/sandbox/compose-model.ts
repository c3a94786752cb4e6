/**
 * The shape of a Compose model as we read it: parsed YAML, or `docker compose config --format
 * json`. Only the fields our rules and executors look at are typed.
 */

export interface ComposeModel {
  name?: string;
  services?: Record<string, ComposeService | null>;
  networks?: Record<string, { external?: boolean | { name?: string }; name?: string; internal?: boolean; driver_opts?: Record<string, unknown> } | null>;
  volumes?: Record<string, unknown>;
}

export type ComposeVolume = string | { type?: string; source?: string; target?: string; read_only?: boolean };

export interface ComposeService {
  volumes?: ComposeVolume[];
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

/** Short syntax SOURCE:TARGET[:MODE]; a lone TARGET is an anonymous volume. */
export function volumeSource(volume: ComposeVolume): string {
  if (typeof volume !== 'string') return volume.source ?? '';
  const parts = volume.split(':');
  return parts.length > 1 ? parts[0] : '';
}

export function volumeTarget(volume: ComposeVolume): string {
  if (typeof volume !== 'string') return volume.target ?? '';
  const parts = volume.split(':');
  return parts.length > 1 ? parts[1] : parts[0];
}

/** `networks` and `depends_on` come as a list or as a map keyed by name. */
export function namesOf(value: string[] | Record<string, unknown> | undefined): string[] {
  if (!value) return [];
  return Array.isArray(value) ? value : Object.keys(value);
}

export function envNames(environment: ComposeService['environment']): string[] {
  if (!environment) return [];
  return Array.isArray(environment) ? environment.map((entry) => entry.split('=')[0]) : Object.keys(environment);
}
