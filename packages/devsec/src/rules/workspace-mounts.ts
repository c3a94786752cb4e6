/**
 * Who may see the workspace and git's own files. Only the dev container (app) mounts the
 * workspace, and then behind mounts that keep out of the agent's hands what the host later runs:
 * git's own files (the repository's git dir and the worktree's `.git`, save the object store and
 * `refs` that up-worktree shares) and node_modules. Any other service that mounts them — one the
 * agent planted in a compose file it can write — would see and write them without those guards.
 *
 * Every way Compose binds a host path into a container counts: short and long syntax, a named
 * volume whose driver binds a host path, secrets and configs from files, and the mounts a service
 * takes from another (volumes_from). Paths are compared as written and with their symlinks
 * resolved (the gate passes a realpath); the effective model has relative paths absolute already.
 */
import { posix } from 'node:path';
import type { ComposeModel, ComposeService } from '../sandbox/compose-model';
import { APP_SERVICE } from '../sandbox/vocabulary';
import { isUnder, placeHostPath, StackContext } from './host-paths';
import { finding, Finding, RuleId } from './registry';

type ModelPath = Array<string | number>;

/** One mount of a service's container. */
interface Mount {
  at: ModelPath;
  /** The host path it binds, as written and placed; none for a named volume or a tmpfs (which only cover). */
  written?: string;
  source?: string;
  target: string;
  readOnly: boolean;
  /** How the service comes by it, as a verb phrase: "mounts", "takes from web (volumes_from)". */
  via: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === undefined || value === null ? [] : [value]);
/** A short-syntax volume source that is a host path rather than a volume name (as stack-paths.ts reads it). */
const isPathSource = (source: string) => /^[/.~$]/.test(source);
/** `/a/b/../c/` and `/a/c` are one path. */
const norm = (path: string) => posix.normalize(path).replace(/(.)\/+$/, '$1');
const isReadOnly = (mode: string) => mode.split(',').some((option) => option === 'ro' || option === 'readonly');

/** A named volume whose driver binds a host path (`type: none, o: bind, device: …`): that path. */
function bindDevice(model: ComposeModel, volume: string): string | undefined {
  const definition = model.volumes?.[volume];
  const options = isRecord(definition) && isRecord(definition.driver_opts) ? definition.driver_opts : undefined;
  return options && /(^|,)r?bind(,|$)/.test(String(options.o ?? '')) && typeof options.device === 'string' ? options.device : undefined;
}

/** A service's own mounts: volumes in either syntax, tmpfs, secrets and configs from files. */
function ownMounts(name: string, service: ComposeService, model: ComposeModel, context: StackContext): Mount[] {
  const place = (written: string, baseDir?: string | null) => placeHostPath(written, baseDir === null ? { ...context, baseDir: undefined } : context).path;
  const mounts: Mount[] = [];
  (service.volumes ?? []).forEach((volume, index) => {
    const at = ['services', name, 'volumes', index];
    let source: string | undefined;
    let target: string;
    let readOnly: boolean;
    let type: string | undefined;
    if (typeof volume === 'string') {
      const parts = volume.split(':');
      if (parts.length === 1) return mounts.push({ at, target: parts[0], readOnly: false, via: 'mounts' });
      [source, target] = parts;
      readOnly = isReadOnly(parts[2] ?? '');
      type = isPathSource(source) ? 'bind' : 'volume';
    } else {
      source = volume.source;
      target = volume.target ?? '';
      readOnly = volume.read_only === true;
      type = volume.type ?? (source && isPathSource(source) ? 'bind' : 'volume');
    }
    if (type === 'bind' && source) return mounts.push({ at, written: source, source: place(source), target, readOnly, via: 'mounts' });
    const device = type === 'volume' && source ? bindDevice(model, source) : undefined;
    if (device) return mounts.push({ at, written: device, source: place(device, null), target, readOnly, via: `mounts the volume "${source}", a bind of` });
    return mounts.push({ at, target, readOnly, via: 'mounts' });
  });
  list(service.tmpfs).forEach((entry, index) =>
    mounts.push({ at: ['services', name, 'tmpfs', index], target: String(entry).split(':')[0], readOnly: false, via: 'mounts' }),
  );
  // Compose binds a secret's or a config's file read-only into each service that names it.
  for (const kind of ['secrets', 'configs'] as const) {
    list(service[kind]).forEach((entry, index) => {
      const key = isRecord(entry) ? String(entry.source ?? '') : String(entry);
      const definition = (model as Record<string, unknown>)[kind];
      const file = isRecord(definition) && isRecord(definition[key]) ? definition[key].file : undefined;
      if (typeof file !== 'string') return;
      const target = isRecord(entry) && typeof entry.target === 'string' ? entry.target : kind === 'secrets' ? `/run/secrets/${key}` : `/${key}`;
      mounts.push({
        at: ['services', name, kind, index],
        written: file,
        source: place(file),
        target,
        readOnly: true,
        via: `reads the ${kind.slice(0, -1)} "${key}" from`,
      });
    });
  }
  return mounts;
}

/** Its own mounts and those it takes from other services of the model (volumes_from, `:ro` making them read-only). */
function mountsOf(name: string, model: ComposeModel, context: StackContext, seen: string[] = []): Mount[] {
  const service = model.services?.[name];
  if (!isRecord(service) || seen.includes(name)) return [];
  const taken = list(service.volumes_from).flatMap((entry, index) => {
    const text = String(entry);
    if (text.startsWith('container:')) return []; // Another container's: the volumes-from rule refuses it, its mounts are not in the model.
    const [other, mode = ''] = text.replace(/^service:/, '').split(':');
    return mountsOf(other, model, context, [...seen, name]).map((mount) => ({
      ...mount,
      at: ['services', name, 'volumes_from', index],
      readOnly: mount.readOnly || mode === 'ro',
      via: `takes from ${other} (volumes_from), which ${mount.via}`,
    }));
  });
  return [...ownMounts(name, service as ComposeService, model, context), ...taken];
}

/** A finding for every mount that shows the workspace or git's files to a service that may not see them, or lets anyone write what the host runs. */
export function workspaceMountFindings(model: ComposeModel, context: StackContext): Finding[] {
  const { workspaceRoot } = context;
  if (!workspaceRoot) return [];
  const real = context.realPath ?? ((path: string) => path);
  /** Where `path` lies below `root` (relative, '' when the same), symlinks resolved: what Docker binds is the real path; undefined when not. */
  const below = (path: string, root: string): string | undefined => {
    const [a, b] = [norm(real(path)), norm(real(root))];
    return isUnder(a, b) ? posix.relative(b, a) : undefined;
  };
  const worktree = context.kind === 'worktree';
  const commonDir = worktree && context.gitCommonDir ? context.gitCommonDir : posix.join(workspaceRoot, '.git');
  const gitPaths = [...new Set([posix.join(workspaceRoot, '.git'), commonDir])];
  const hostState: [string, string][] = [
    [
      posix.join(workspaceRoot, 'node_modules'),
      "node_modules, where a package's install script or a patched binary waits for the host's next npm or nx command",
    ],
    [posix.join(workspaceRoot, '.nx'), ".nx, Nx's cache and workspace data, which the host's next nx command replays and trusts"],
  ];

  const findings: Finding[] = [];
  for (const name of Object.keys(model.services ?? {})) {
    const isApp = worktree && name === APP_SERVICE;
    const mounts = mountsOf(name, model, context);
    /** Is `target` (inside the container) hidden by another of its mounts laid below `under`? */
    const covered = (target: string, under: string) =>
      mounts.some((other) => norm(other.target) !== norm(under) && isUnder(norm(other.target), norm(under)) && isUnder(norm(target), norm(other.target)));
    for (const mount of mounts) {
      if (!mount.source || !mount.written) continue;
      const shown = mount.source !== mount.written ? `${mount.written} (${mount.source})` : mount.written;
      // One finding of a rule per place: a volumes_from entry brings many mounts.
      const add = (rule: RuleId, message: string, fix?: string) =>
        findings.some((f) => f.rule === rule && f.service === name && JSON.stringify(f.at) === JSON.stringify(mount.at)) ||
        findings.push(
          finding(rule, { file: context.composeFile, service: name, key: mount.at.filter((p) => typeof p === 'string').join('.'), at: mount.at, message, fix }),
        );
      const inGit = gitPaths.find((path) => below(mount.source!, path) !== undefined);
      /** What the mount holds further down, and where it shows inside. */
      const held = (path: string) => {
        const rel = below(path, mount.source!);
        return rel ? posix.join(mount.target, rel) : undefined;
      };
      const heldGit = gitPaths.flatMap((path) => (held(path) ? [[path, held(path)!]] : []));
      const inWorkspace = below(mount.source, workspaceRoot) !== undefined;
      // What holds the workspace or git's files lies outside what the stack may reach: the host-path rules refuse it.
      if (!inWorkspace && !inGit) continue;

      if (!isApp && (worktree || inGit || heldGit.length > 0)) {
        const git = inGit || heldGit.length > 0;
        add(
          'workspace-mount',
          `${name} ${mount.via} ${shown}${mount.readOnly ? ' read-only' : ''}: ${
            git ? "git's own files (your remotes and config; a hook or core.fsmonitor written there runs on the host's next git command)" : 'the workspace'
          }, which only the dev container (${APP_SERVICE}) may mount, behind the mounts that keep .git and node_modules from it.`,
          `Remove the mount from ${name}: build what it needs into its image (COPY in a Dockerfile inside the workspace), or give it a named volume.`,
        );
      }
      if (mount.readOnly) continue;
      if (inGit) {
        add(
          'git-hooks-writable',
          `${name} ${mount.via} ${shown} writable: git's own files (config, hooks), where a planted hook or core.fsmonitor runs on the host's next git command (or objects and refs: a replaced object is checked out as the agent wrote it).`,
          'Mount it read-only; up-worktree gives the sandbox a repository of its own, with nothing of the repository writable.',
        );
      }
      for (const [path, inside] of heldGit) {
        if (covered(inside, mount.target)) continue;
        add(
          'git-hooks-writable',
          `${name} ${mount.via} ${shown} writable, and with it ${path} at ${inside}, which no mount of its covers: a planted hook or core.fsmonitor runs on the host's next git command.`,
          `Mount the git common dir read-only at ${inside} (the generator does; up-worktree then gives the sandbox a git dir of its own).`,
        );
      }
      // The host's node_modules and .nx: what npm and nx on the host run and replay next (the stack has volumes of its own there).
      for (const [folder, what] of hostState) {
        const inside = held(folder);
        if (below(mount.source, folder) !== undefined) {
          add('node-modules-shared', `${name} ${mount.via} ${shown} writable: the host's ${what}.`);
        } else if (inside && !covered(inside, mount.target)) {
          add(
            'node-modules-shared',
            `${name} ${mount.via} ${shown} writable, and with it the host's ${what} at ${inside}, which no volume covers.`,
            `Mount a named volume at ${inside} (the generator does).`,
          );
        }
      }
    }
  }
  return findings;
}
