/**
 * What of git the dev container may write. Inside, git must work for the agent's job — status,
 * diff, add, commit, branch, rebase, log — but nothing the host's git later reads may be written
 * from inside: not the repository's objects (git does not re-hash what it reads, so a replaced
 * loose object would be checked out by the host as the agent wrote it), not its refs (a commit
 * inside would move the host's branches), nor anything git on the host follows or runs
 * (`commondir`, `gitdir`, `config`, hooks, `info/`, `packed-refs`, other worktrees' folders).
 *
 * So the sandbox has a repository of its own, in the host's state directory, that the host's
 * git never runs in: HEAD, index, reflogs, packed-refs, `refs/` and `objects/` of its own, all
 * writable. Its object store borrows the repository's through `objects/info/alternates`, which
 * names the repository's `objects` mounted read-only at `/devsec/repository-objects`: the
 * history is there to read, and what the agent commits lands in the sandbox's own `objects`. Its
 * refs are seeded from the repository's at each start (sandbox-refs.ts: a branch the agent moved
 * is kept); its commits come back only by `devsec fetch`, through git's verifying transport.
 * Read-only inside, written by the host: `config`, `objects/info` (the alternates), and empty
 * `refs/replace`, `hooks` and `info` when the repository has none (else the repository's own).
 * Their sources live beside the private git dir, not in it, so the agent has no name for them.
 *
 * Layout (G is `<workspace>/.git` when `.git` is a directory, else `/devsec/git`, and then a
 * host-written gitfile naming it is mounted read-only at `<workspace>/.git`):
 *
 *   <state>/git                      → G                          read-write (the sandbox's)
 *   <state>/git/objects, git/refs    → G/objects, G/refs          read-write: pins (mount points cannot be renamed)
 *   <state>/git.host/config          → G/config                   read-only
 *   <state>/git.host/objects-info    → G/objects/info             read-only (alternates)
 *   <state>/git.host/empty           → G/refs/replace             read-only
 *   <common>/hooks, info (or empty)  → G/hooks, G/info            read-only
 *   <common>/modules (when present)  → G/modules                  read-only
 *   <common>/objects                 → /devsec/repository-objects read-only
 *   <state>/git.host/seeded.json       not mounted: what the last start seeded
 *
 * The private git dir is the agent's to write, while the host works in it too (a re-run of
 * up-worktree, the dev container still running). So the host never walks a tree of it by path —
 * no recursive removal, no recursive chown: a folder listed, then swapped for a symlink by the
 * agent, would aim the rest of the walk at the host's files. A name the host replaces is unlinked
 * (a symlink or a file: the name only) or, when the agent made it a folder, renamed aside whole to
 * a `.devsec-set-aside-*` name in the private dir, reached through open folder descriptors that
 * follow no symlink. The parents of the read-only mount points inside (`objects`, `refs`) are
 * mount points themselves, so the agent cannot rename them to plant a folder of its own under the
 * host's. The host chowns only what it has just created, one entry at a time. It never writes
 * through a file, never removes a folder that is a mount point inside (that would lift the
 * read-only mount of a running container), and mounts nothing from it but these pins.
 */
import {
  closeSync,
  constants,
  copyFileSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { visible } from '../../sandbox/visible';
import { chownLike, ensureOwnedFolder } from './checkout-owner';
import { writeFresh } from './fresh-file';
import type { GitLayout } from './git-layout';
import { runCommand, Runner } from '../engine/run';
import { formatPackedRefs, isObjectId, LooseRefs, parsePackedRefs, planSeed, readHostRefs, readOwnFile, readSeedRecord, SeedRecord } from './sandbox-refs';

/** A bind mount of the dev container. */
export interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Where the private git dir appears inside when the worktree's `.git` is a gitfile (linked, or `--separate-git-dir`). */
export const PRIVATE_GIT_DIR_INSIDE = '/devsec/git';
/** Where the repository's object store appears inside, read-only: the sandbox's alternates name it. */
export const REPOSITORY_OBJECTS_INSIDE = '/devsec/repository-objects';

/** In the private git dir, read-only inside, with what the host wrote (or the repository's own). */
export const GIT_READ_ONLY_INSIDE: readonly string[] = ['config', 'objects/info', 'refs/replace', 'hooks', 'info'];
/** The repository's folders the sandbox's git reads as they are, read-only; an empty one stands in for a missing one. */
const SHARED_READ_ONLY = ['hooks', 'info'];

/** Beside the private git dir: what the host writes for it and mounts read-only, and its record. */
export const hostSideDir = (privateDir: string): string => `${privateDir}.host`;

/** The config of the sandbox's repository: these of the repository's settings, none of its others (remotes, credentials). */
const CONFIG_KEYS =
  '^(core\\.(repositoryformatversion|filemode|symlinks|ignorecase|precomposeunicode|autocrlf|eol|safecrlf|checkstat|trustctime|quotepath|sparsecheckout|sparsecheckoutcone)|extensions\\.objectformat)$';

function sandboxConfig(commonDir: string, run: Runner): string {
  const result = run('git', ['config', '--file', join(commonDir, 'config'), '--get-regexp', CONFIG_KEYS]);
  const settings = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const [key, value] = line.split(' ');
    if (key && value !== undefined && /^[A-Za-z0-9._-]+$/.test(value)) settings.set(key, value);
  }
  const sections = new Map<string, string[]>();
  const add = (key: string, value: string) => {
    const dot = key.indexOf('.');
    const [section, name] = [key.slice(0, dot), key.slice(dot + 1)];
    sections.set(section, [...(sections.get(section) ?? []), `\t${name} = ${value}`]);
  };
  for (const [key, value] of settings) add(key, value);
  add('core.bare', 'false');
  add('core.logallrefupdates', 'true');
  // objects/info is read-only inside: gc would fail writing a commit-graph there (the repository's is read through the alternates).
  add('gc.writecommitgraph', 'false');
  add('fetch.writecommitgraph', 'false');
  return [
    '# Written by @org/devsec at every start, read-only inside: the sandbox repository of this stack (git-mounts.ts).',
    ...[...sections].flatMap(([section, lines]) => [`[${section}]`, ...lines]),
    '',
  ].join('\n');
}

/**
 * A folder where the agent writes (a mount point): whatever else it left there, a symlink above
 * all, goes first — Docker would mount what a symlink names. A real folder stays: it may be a
 * mount point of the running dev container.
 */
function ensureRealFolder(path: string, reference: string): void {
  // Not recursive: should it have become a folder meanwhile, this throws rather than walk it.
  if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === false) rmSync(path, { force: true });
  ensureOwnedFolder(path, reference);
}

/**
 * A folder of the private git dir (`relative` to it, '' for itself) as a path that names that very
 * folder: an open descriptor reached folder by folder without following a symlink (Linux's
 * /proc/self/fd), or — where there is none — its path, when it is a real folder (the parents the
 * host names are the private dir itself or mount points inside, which the agent cannot rename).
 * Undefined when one on the way is missing or not a real folder.
 */
function openFolder(privateDir: string, relative: string): { path: string; close: () => void } | undefined {
  if (!existsSync('/proc/self/fd')) {
    const path = join(privateDir, relative);
    return lstatSync(path, { throwIfNoEntry: false })?.isDirectory() ? { path, close: () => undefined } : undefined;
  }
  let fd = openSync(privateDir, constants.O_RDONLY | constants.O_DIRECTORY);
  for (const part of relative.split('/').filter(Boolean)) {
    let next: number;
    try {
      next = openSync(`/proc/self/fd/${fd}/${part}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    } catch {
      closeSync(fd);
      return undefined;
    }
    closeSync(fd);
    fd = next;
  }
  const opened = fd;
  return { path: `/proc/self/fd/${opened}`, close: () => closeSync(opened) };
}

/**
 * Clears the names `names` of the folder `relative` of the private git dir, walking nothing: a
 * file or symlink is unlinked (the name only), a folder renamed aside whole into the private dir
 * (one atomic rename, its content left as the agent wrote it). Returns what was set aside.
 */
function clearNames(privateDir: string, relative: string, names: readonly string[] | 'all'): string[] {
  const folder = openFolder(privateDir, relative);
  if (folder === undefined) return [];
  const root = openFolder(privateDir, '');
  const setAside: string[] = [];
  try {
    const entries = names === 'all' ? readdirSync(folder.path) : names;
    for (const name of entries) {
      const path = `${folder.path}/${name}`;
      const stat = lstatSync(path, { throwIfNoEntry: false });
      if (!stat) continue;
      if (stat.isDirectory() && root) {
        const aside = `.devsec-set-aside-${randomBytes(6).toString('hex')}`;
        renameSync(path, `${root.path}/${aside}`);
        setAside.push(`${relative ? `${relative}/` : ''}${name} → ${aside}`);
      } else {
        // A folder by now (swapped in meanwhile): unlink refuses it (EISDIR), it is left as it is.
        try {
          unlinkSync(path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
  } finally {
    folder.close();
    root?.close();
  }
  return setAside;
}

/**
 * A file mount point in the private git dir, holding `text` too, so the host's view of it is the
 * sandbox's. A regular file of one link (it may be a mount point inside: removing it would lift
 * the mount) is rewritten in place, never through a link; anything else is replaced.
 */
function ensureFileMountPoint(path: string, text: string, reference: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    fd = undefined;
  }
  if (fd !== undefined) {
    try {
      const stat = fstatSync(fd);
      if (stat.isFile() && stat.nlink === 1) {
        ftruncateSync(fd, 0);
        writeSync(fd, text, 0);
        return;
      }
    } finally {
      closeSync(fd);
    }
  }
  writeFresh(path, text);
  chownLike(path, reference);
}

/** Empties a folder of the host's own (beside the private git dir, never mounted writable). */
function emptyHostFolder(path: string): void {
  for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
}

/**
 * A copy of one of the repository's files into the private git dir (`name`, at its top), when it
 * has one. What the agent left there (a symlink to a file of yours, a folder) is unlinked or set
 * aside, never written through nor walked; the copy refuses to open anything that appears there
 * meanwhile.
 */
function seed(from: string, privateDir: string, name: string, reference: string, setAside: string[]): void {
  setAside.push(...clearNames(privateDir, '', [name]));
  const to = join(privateDir, name);
  if (!existsSync(from)) return;
  copyFileSync(from, to, constants.COPYFILE_EXCL);
  chownLike(to, reference);
}

export interface PrivateGitDirOptions {
  run?: Runner;
  /** Where a line for the user goes (the move to the new layout is said once). */
  say?: (line: string) => void;
}

/** What one start did to the private git dir. */
export interface PrivateGitDirStart {
  /** It had the layout of an earlier version (the repository's objects and refs mounted writable) and was moved. */
  upgraded: boolean;
  /** The repository's branches the sandbox holds elsewhere: the agent moved them, they wait for `devsec fetch`. */
  kept: string[];
}

/**
 * The sandbox's repository: created when missing (HEAD and index seeded from this worktree), kept
 * while the stack lives so a re-run does not reset the agent's staging or its branches. At every
 * start the host writes its config, alternates and packed-refs (the repository's refs, where the
 * sandbox still follows them) and shallow. The host never runs git in it.
 */
export function ensurePrivateGitDir(layout: GitLayout, privateDir: string, options: PrivateGitDirOptions = {}): PrivateGitDirStart {
  const { run = runCommand, say = () => undefined } = options;
  const { gitDir, commonDir, workspaceRoot } = layout;
  const hostSide = hostSideDir(privateDir);
  const recordPath = join(hostSide, 'seeded.json');
  const fresh = !existsSync(join(privateDir, 'HEAD'));
  const upgraded = !fresh && !existsSync(recordPath);
  // Fresh (no HEAD, which the agent may have deleted): what is missing is created in place; nothing of it is removed.
  ensureOwnedFolder(privateDir, workspaceRoot);
  const setAside: string[] = [];

  // Beside it, the host's own: never mounted writable, never in the agent's reach.
  mkdirSync(join(hostSide, 'objects-info'), { recursive: true });
  mkdirSync(join(hostSide, 'empty'), { recursive: true });
  emptyHostFolder(join(hostSide, 'empty'));
  const config = sandboxConfig(commonDir, run);
  writeFresh(join(hostSide, 'config'), config);
  const alternates = `${REPOSITORY_OBJECTS_INSIDE}\n`;
  writeFresh(join(hostSide, 'objects-info/alternates'), alternates);

  for (const folder of ['objects', 'objects/info', 'refs', 'refs/heads', 'refs/tags', 'refs/replace', ...SHARED_READ_ONLY]) {
    ensureRealFolder(join(privateDir, folder), workspaceRoot);
  }
  if (existsSync(join(commonDir, 'modules'))) ensureRealFolder(join(privateDir, 'modules'), workspaceRoot);
  // The mount points' own content, as the host sees it: what the sandbox's git reads through the mounts.
  // Hidden inside under the read-only mounts (and their parents pinned): cleared name by name, walking nothing.
  for (const folder of ['objects/info', 'refs/replace', ...SHARED_READ_ONLY]) setAside.push(...clearNames(privateDir, folder, 'all'));
  writeFresh(join(privateDir, 'objects/info/alternates'), alternates);
  chownLike(join(privateDir, 'objects/info/alternates'), workspaceRoot);
  // A file the host writes at the top, made a folder by the agent: set aside whole (a file mount point is kept, rewritten in place).
  const folderAside = (name: string) => {
    if (lstatSync(join(privateDir, name), { throwIfNoEntry: false })?.isDirectory()) setAside.push(...clearNames(privateDir, '', [name]));
  };
  for (const name of ['config', 'packed-refs', 'HEAD']) folderAside(name);
  ensureFileMountPoint(join(privateDir, 'config'), config, workspaceRoot);
  seed(join(commonDir, 'shallow'), privateDir, 'shallow', workspaceRoot, setAside);

  // The refs: the earlier layout's packed-refs was a copy of the repository's, and its refs the repository's own.
  const record = upgraded ? undefined : readSeedRecord(recordPath);
  const sandboxPacked = upgraded ? new Map<string, string>() : parsePackedRefs(readOwnFile(join(privateDir, 'packed-refs'), 256 * 1024 * 1024));
  const hostRefs = readHostRefs(commonDir, run);
  const loose = new LooseRefs(privateDir);
  const plan = planSeed(loose, hostRefs, sandboxPacked, record);
  writeFresh(join(privateDir, 'packed-refs'), formatPackedRefs(plan.packed));
  chownLike(join(privateDir, 'packed-refs'), workspaceRoot);
  for (const name of plan.removeLoose) loose.remove(name);

  // HEAD follows the worktree's while the agent has not switched; the index follows when what HEAD names changed under it.
  const hostHead = readFileSync(join(gitDir, 'HEAD'), 'utf-8');
  const sandboxHead = fresh ? undefined : readOwnFile(join(privateDir, 'HEAD'), 4096);
  const followHead = sandboxHead === undefined || sandboxHead === record?.head;
  if (followHead && sandboxHead !== hostHead) {
    writeFresh(join(privateDir, 'HEAD'), hostHead);
    chownLike(join(privateDir, 'HEAD'), workspaceRoot);
  }
  const headBranch = /^ref: (refs\/heads\/\S+)\n?$/.exec(followHead ? hostHead : (sandboxHead ?? ''))?.[1];
  const moved = (followHead && sandboxHead !== hostHead) || (headBranch !== undefined && plan.changed.has(headBranch));
  if (fresh || (moved && !upgraded)) {
    seed(join(gitDir, 'index'), privateDir, 'index', workspaceRoot, setAside);
  }
  if (fresh) seed(join(gitDir, 'config.worktree'), privateDir, 'config.worktree', workspaceRoot, setAside);
  if (setAside.length > 0)
    say(
      `Set aside in the sandbox's git dir, where the host writes (folders the agent made there, left as they were): ${setAside.map((entry) => visible(entry)).join(', ')}`,
    );

  const next: SeedRecord = { head: hostHead, refs: Object.fromEntries(hostRefs) };
  writeFresh(recordPath, JSON.stringify(next) + '\n');
  if (upgraded)
    say(
      "The sandbox's git now has a repository of its own: the repository's objects and branches are read-only inside, and its commits come back by `devsec fetch`. " +
        'What it committed before this start was written to the repository itself and is in your branches already: nothing is lost.',
    );
  return { upgraded, kept: plan.kept.filter((name) => name.startsWith('refs/heads/') && isObjectId(hostRefs.get(name) ?? '')) };
}

/** A gitfile naming the private git dir inside, for a worktree whose `.git` is itself a gitfile. */
function privateGitfile(privateDir: string, owner: string): string {
  const path = `${privateDir}.gitfile`;
  writeFileSync(path, `gitdir: ${PRIVATE_GIT_DIR_INSIDE}\n`);
  chownLike(path, owner);
  return path;
}

/** Where the sandbox's git dir is inside. */
export const gitDirInside = (layout: GitLayout): string =>
  layout.kind === 'main' && layout.dotGitIsDirectory ? join(layout.workspaceRoot, '.git') : PRIVATE_GIT_DIR_INSIDE;

/**
 * The git mounts of a worktree's dev container, laid over the compose file's own (which mounts
 * the repository read-only): Compose merges mounts by target. Creates on the host what must
 * exist for them; writes nothing in the repository.
 */
export function gitMounts(layout: GitLayout, privateDir: string, options: PrivateGitDirOptions = {}): Mount[] {
  const { commonDir, workspaceRoot } = layout;
  ensurePrivateGitDir(layout, privateDir, options);
  const hostSide = hostSideDir(privateDir);
  const inside = gitDirInside(layout);
  const dotGit: Mount[] =
    inside === PRIVATE_GIT_DIR_INSIDE
      ? [
          { source: privateGitfile(privateDir, workspaceRoot), target: join(workspaceRoot, '.git'), readOnly: true },
          { source: privateDir, target: inside, readOnly: false },
        ]
      : [{ source: privateDir, target: inside, readOnly: false }];
  // Pins: the parents of the read-only mounts below are mount points too, so the agent cannot rename them (EBUSY) and plant its own.
  const pins: Mount[] = ['objects', 'refs'].map((folder) => ({ source: join(privateDir, folder), target: join(inside, folder), readOnly: false }));
  const repository = (folder: string) => (lstatSync(join(commonDir, folder), { throwIfNoEntry: false })?.isDirectory() ? join(commonDir, folder) : undefined);
  return [
    ...dotGit,
    ...pins,
    { source: join(hostSide, 'config'), target: join(inside, 'config'), readOnly: true },
    { source: join(hostSide, 'objects-info'), target: join(inside, 'objects/info'), readOnly: true },
    { source: join(hostSide, 'empty'), target: join(inside, 'refs/replace'), readOnly: true },
    ...SHARED_READ_ONLY.map((folder) => ({ source: repository(folder) ?? join(hostSide, 'empty'), target: join(inside, folder), readOnly: true })),
    ...(repository('modules') ? [{ source: join(commonDir, 'modules'), target: join(inside, 'modules'), readOnly: true }] : []),
    { source: join(commonDir, 'objects'), target: REPOSITORY_OBJECTS_INSIDE, readOnly: true },
  ];
}
