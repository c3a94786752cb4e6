/**
 * What a rule judged service by service sees (the `service` predicate of its row in
 * registry.ts), what it yields, and the small readers the predicates share: Compose's short and
 * long forms alike, as `docker compose config --format json` or a parsed file has them.
 */
import type { ComposeModel, ComposeService } from '../sandbox/compose-model';

/** One service of a stack's model, and where it stands. */
export interface ServiceView {
  name: string;
  service: ComposeService;
  /** `service.build` when it is a map (a string is only a context path), else empty. */
  build: Record<string, unknown>;
  model: ComposeModel;
  /** A worktree's stack (its proxy, app and localhost forwarder have their exceptions), not the shared services'. */
  worktree: boolean;
  /** The Docker socket's group on the host, if known. */
  dockerGid?: number | string;
}

/**
 * One offending value of a service: the key under `services.<name>` it sits at, and `place`, a
 * list index, or a map key that the finding's key names too (a sysctl's name); the message, and a
 * fix more precise than the rule's (the rule's when absent).
 */
export interface ServiceHit {
  field: string;
  place?: number | string;
  message: string;
  fix?: string;
}

export type ServiceCheck = (view: ServiceView) => ServiceHit[];

export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
export const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]);
/** `KEY=VALUE` lists and maps alike. */
export const pairs = (value: unknown): Array<[string, string]> =>
  Array.isArray(value)
    ? value.map((item) => String(item).split(/=(.*)/s).slice(0, 2) as [string, string])
    : isRecord(value)
      ? Object.entries(value).map(([key, item]) => [key, String(item ?? '')])
      : [];

/** A user the engine reads as root: root, 0, 00, +0, with or without a group. */
export const ROOT_USER = /^(root|\+?0+)(:|$)/;
/** The one sysctl a stack of ours sets: ::1 inside app, for the localhost forwarder. */
export const OUR_SYSCTL = ['net.ipv6.conf.lo.disable_ipv6', '0'];
export const NAMESPACES = ['pid', 'ipc', 'network_mode', 'userns_mode', 'uts', 'cgroup'] as const;
export const JOINABLE = ['network_mode', 'pid', 'ipc'] as const;

/** A group_add entry that is the Docker socket's group: by name, by our variable, or by number as the engine reads it ("0998" and "+998" are group 998). */
export function isEngineGroup(text: string, dockerGid: number | string | undefined): boolean {
  const sameGroup = dockerGid !== undefined && (text === String(dockerGid) || (/^\+?\d+$/.test(text) && Number(text) === Number(dockerGid)));
  return text === 'docker' || /\$\{?DEVSEC_DOCKER_GID/.test(text) || sameGroup;
}

/** What a security_opt entry turns off, if anything (`key=value` and `key:value` alike). */
export function unconfinedBy(option: string): string | undefined {
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
export function hostAddress(port: unknown): string | undefined {
  if (isRecord(port)) return port.host_ip === undefined || port.host_ip === null ? undefined : String(port.host_ip);
  const text = String(port).replace(/\/(tcp|udp|sctp)$/, '');
  if (text.startsWith('[')) return text.slice(1, text.indexOf(']'));
  const parts = text.split(':');
  return parts.length >= 3 ? parts[0] : undefined;
}
export const isLoopback = (address: string | undefined) => address !== undefined && /^(127\.\d+\.\d+\.\d+|::1)$/.test(address);

/** One hit when `condition` holds (built only then). */
export const when = (condition: boolean, hit: () => ServiceHit): ServiceHit[] => (condition ? [hit()] : []);
