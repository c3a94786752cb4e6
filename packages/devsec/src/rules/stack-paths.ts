/**
 * Every way a Compose model reaches into the host's filesystem: bind mounts (short and long
 * syntax), named volumes whose driver options bind a host path or mount a device, secrets and
 * configs read from files, env files (Compose reads them on the host), and what a build reads
 * (context, extra contexts, Dockerfile, local cache). Each is judged by host-paths.ts.
 */
import { posix } from 'node:path';
import type { ComposeModel, ComposeService } from '../sandbox/compose-model';
import { PLUGIN_PACKAGE, PROXY_SERVICE } from '../sandbox/vocabulary';
import { isDockerSocket, judgeHostPath, placeHostPath, StackContext } from './host-paths';
import { finding, Finding } from './registry';

type ModelPath = Array<string | number>;

interface HostPathUse {
  at: ModelPath;
  /** Who uses it: a service, or a top-level volume, secret or config. */
  subject: string;
  service?: string;
  written: string;
  use: 'bind' | 'build';
  /** What the subject does with it, as a verb phrase: "mounts", "reads env_file". */
  what: string;
  /** Relative paths of this use resolve here (a build's Dockerfile: its context); undefined: against the engine's. */
  baseDir?: string | null;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isRemote = (source: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^git@|^github\.com\//.test(source);
/** A short-syntax volume source that is a host path rather than a volume name (Compose's own test, plus `$` left unresolved). */
const isPathSource = (source: string) => /^[/.~$]/.test(source);

/** `name=value` lists and maps alike. */
function entries(value: unknown): Array<[string, string]> {
  if (Array.isArray(value)) return value.map((item) => String(item).split(/=(.*)/s) as [string, string]);
  return isRecord(value) ? Object.entries(value).map(([key, item]) => [key, String(item ?? '')]) : [];
}

function volumeUses(name: string, service: ComposeService): HostPathUse[] {
  return (service.volumes ?? []).flatMap((volume, index) => {
    const at = ['services', name, 'volumes', index];
    if (typeof volume === 'string') {
      const source = volume.split(':')[0];
      return volume.includes(':') && isPathSource(source) ? [{ at, subject: name, service: name, written: source, use: 'bind' as const, what: 'mounts' }] : [];
    }
    const bind = volume.type === 'bind' || (volume.type === undefined && isPathSource(volume.source ?? ''));
    return bind && volume.source ? [{ at, subject: name, service: name, written: volume.source, use: 'bind' as const, what: 'mounts' }] : [];
  });
}

function envFileUses(name: string, service: ComposeService): HostPathUse[] {
  const list = [service.env_file ?? []].flat() as Array<string | { path?: string }>;
  return list.flatMap((item, index) => {
    const path = typeof item === 'string' ? item : item?.path;
    const at = ['services', name, 'env_file', ...(Array.isArray(service.env_file) ? [index] : [])];
    return path ? [{ at, subject: name, service: name, written: path, use: 'bind' as const, what: 'reads env_file (Compose reads it on the host)' }] : [];
  });
}

function buildUses(name: string, service: ComposeService, context: StackContext): HostPathUse[] {
  const build = typeof service.build === 'string' ? { context: service.build } : isRecord(service.build) ? service.build : undefined;
  if (!build) return [];
  const uses: HostPathUse[] = [];
  const base = ['services', name, 'build'];
  const add = (at: ModelPath, written: string, what: string, baseDir?: string | null) =>
    uses.push({ at: [...base, ...at], subject: name, service: name, written, use: 'build', what, baseDir });
  const contextPath = typeof build.context === 'string' ? build.context : '.';
  if (!isRemote(contextPath)) {
    add(typeof service.build === 'string' ? [] : ['context'], contextPath, 'builds from');
    const contextPlaced = placeHostPath(contextPath, context).path;
    // The Dockerfile is read from the host: judged on its own when it lies outside its context.
    const dockerfile = typeof build.dockerfile === 'string' ? build.dockerfile : undefined;
    if (dockerfile && contextPlaced && (dockerfile.startsWith('/') || posix.normalize(dockerfile).startsWith('..'))) {
      add(['dockerfile'], dockerfile, 'builds with the Dockerfile', contextPlaced);
    }
  }
  for (const [key, value] of entries(build.additional_contexts)) {
    if (/^(docker-image|service|target):/.test(value) || (isRemote(value) && !value.startsWith('oci-layout://'))) continue;
    add(['additional_contexts', key], value.replace(/^oci-layout:\/\//, ''), `builds with the extra context "${key}" from`);
  }
  for (const field of ['cache_from', 'cache_to'] as const) {
    [build[field] ?? []].flat().forEach((cache, index) => {
      const options = Object.fromEntries(entries(String(cache).split(',')));
      const path = options.type === 'local' ? (options.src ?? options.dest) : undefined;
      if (path) add([field, index], path, field === 'cache_to' ? 'writes its build cache to' : 'reads its build cache from');
    });
  }
  return uses;
}

/** Named volumes whose driver options bind a host path (`type: none, o: bind, device: /etc`) or mount a device. */
function namedVolumeUses(model: ComposeModel): HostPathUse[] {
  return Object.entries(model.volumes ?? {}).flatMap(([name, definition]) => {
    if (!isRecord(definition) || !isRecord(definition.driver_opts)) return [];
    const options = definition.driver_opts as Record<string, unknown>;
    const binds = /(^|,)r?bind(,|$)/.test(String(options.o ?? ''));
    return Object.entries(options).flatMap(([key, value]) => {
      const text = String(value ?? '');
      // A bind device, or any option that names an absolute path (a block device, a plugin's mountpoint).
      if (!((key === 'device' && binds) || text.startsWith('/'))) return [];
      return [{ at: ['volumes', name, 'driver_opts', key], subject: `volume "${name}"`, written: text, use: 'bind' as const, what: 'binds', baseDir: null }];
    });
  });
}

/** Secrets and configs from files: Compose bind-mounts the file into each service that uses it. */
function fileUses(model: ComposeModel): HostPathUse[] {
  return (['secrets', 'configs'] as const).flatMap((kind) =>
    Object.entries((model as Record<string, unknown>)[kind] ?? {}).flatMap(([name, definition]) =>
      isRecord(definition) && typeof definition.file === 'string'
        ? [{ at: [kind, name, 'file'], subject: `${kind.slice(0, -1)} "${name}"`, written: definition.file, use: 'bind' as const, what: 'is read from' }]
        : [],
    ),
  );
}

export function hostPathUses(model: ComposeModel, context: StackContext): HostPathUse[] {
  const services = Object.entries(model.services ?? {}).filter((entry): entry is [string, ComposeService] => isRecord(entry[1]));
  return [
    ...services.flatMap(([name, service]) => [...volumeUses(name, service), ...envFileUses(name, service), ...buildUses(name, service, context)]),
    ...namedVolumeUses(model),
    ...fileUses(model),
  ];
}

/** A finding for every host path of the model that the stack may not reach. */
export function hostPathFindings(model: ComposeModel, context: StackContext, proxy = PROXY_SERVICE): Finding[] {
  return hostPathUses(model, context).flatMap((use) => {
    const local = use.baseDir === undefined ? context : { ...context, baseDir: use.baseDir ?? undefined };
    const placed = placeHostPath(use.written, local);
    // The proxy of a worktree stack, and it alone, mounts the Docker socket.
    if (context.kind === 'worktree' && use.service === proxy && use.what === 'mounts' && placed.path && isDockerSocket(placed.path, context)) return [];
    const verdict = judgeHostPath(placed, use.use, local);
    if (!verdict) return [];
    const shown = placed.path && placed.path !== use.written ? `${use.written} (${placed.path})` : use.written;
    const key = use.at.filter((part) => typeof part === 'string').join('.');
    // A compose file written before the engine's socket became a variable, on an engine whose socket is elsewhere.
    const staleProxy = context.kind === 'worktree' && use.service === proxy && verdict.rule === 'socket-mount' && context.dockerSocket;
    if (staleProxy)
      return [
        finding(verdict.rule, {
          file: context.composeFile,
          service: proxy,
          key,
          at: use.at,
          message: `${proxy} mounts ${shown}, but this engine gives its containers its API at ${context.dockerSocket}.`,
          fix: `Render the sandbox again with this version of ${PLUGIN_PACKAGE} (nx sync): its compose file then takes the socket from DEVSEC_DOCKER_SOCKET, which up-worktree writes.`,
        }),
      ];
    return [
      finding(verdict.rule, {
        file: context.composeFile,
        ...(use.service ? { service: use.service } : {}),
        key,
        at: use.at,
        message: `${use.subject} ${use.what} ${shown}: ${verdict.why}.`,
      }),
    ];
  });
}
