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
 *   <state>/git.host/config          → G/config                   read-only
 *   <state>/git.host/objects-info    → G/objects/info             read-only (alternates)
 *   <state>/git.host/empty           → G/refs/replace             read-only
 *   <common>/hooks, info (or empty)  → G/hooks, G/info            read-only
 *   <common>/modules (when present)  → G/modules                  read-only
 *   <common>/objects                 → /devsec/repository-objects read-only
 *   <state>/git.host/seeded.json       not mounted: what the last start seeded
 *
 * The private git dir is the agent's to write: the host removes what it replaces there and
 * creates it anew, never writes through a file, never removes a folder that is a mount point
 * inside (that would lift the read-only mount of a running container), and mounts nothing from it.
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
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
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
  if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory() === false) rmSync(path, { force: true });
  ensureOwnedFolder(path, reference);
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
  if (lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) rmSync(path, { recursive: true, force: true });
  writeFresh(path, text);
  chownLike(path, reference);
}

/** Empties a folder that is a mount point inside: what lies below it is hidden there, and is no one's. */
function emptyFolder(path: string): void {
  for (const entry of readdirSync(path)) rmSync(join(path, entry), { recursive: true, force: true });
}

/**
 * A copy of one of the repository's files into the private git dir, when it has one. What the
 * agent left at `to` (a symlink to a file of yours, a folder) is removed, never written through;
 * the copy refuses to open anything that appears there meanwhile.
 */
function seed(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  if (existsSync(from)) copyFileSync(from, to, constants.COPYFILE_EXCL);
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
  if (fresh) {
    rmSync(privateDir, { recursive: true, force: true });
    mkdirSync(privateDir, { recursive: true });
  }

  // Beside it, the host's own: never mounted writable, never in the agent's reach.
  mkdirSync(join(hostSide, 'objects-info'), { recursive: true });
  mkdirSync(join(hostSide, 'empty'), { recursive: true });
  emptyFolder(join(hostSide, 'empty'));
  const config = sandboxConfig(commonDir, run);
  writeFresh(join(hostSide, 'config'), config);
  const alternates = `${REPOSITORY_OBJECTS_INSIDE}\n`;
  writeFresh(join(hostSide, 'objects-info/alternates'), alternates);

  for (const folder of ['objects', 'objects/info', 'refs', 'refs/heads', 'refs/tags', 'refs/replace', ...SHARED_READ_ONLY]) {
    ensureRealFolder(join(privateDir, folder), workspaceRoot);
  }
  if (existsSync(join(commonDir, 'modules'))) ensureRealFolder(join(privateDir, 'modules'), workspaceRoot);
  // The mount points' own content, as the host sees it: what the sandbox's git reads through the mounts.
  for (const folder of ['objects/info', 'refs/replace', ...SHARED_READ_ONLY]) emptyFolder(join(privateDir, folder));
  writeFresh(join(privateDir, 'objects/info/alternates'), alternates);
  ensureFileMountPoint(join(privateDir, 'config'), config, workspaceRoot);
  seed(join(commonDir, 'shallow'), join(privateDir, 'shallow'));

  // The refs: the earlier layout's packed-refs was a copy of the repository's, and its refs the repository's own.
  const record = upgraded ? undefined : readSeedRecord(recordPath);
  const sandboxPacked = upgraded ? new Map<string, string>() : parsePackedRefs(readOwnFile(join(privateDir, 'packed-refs'), 256 * 1024 * 1024));
  const hostRefs = readHostRefs(commonDir, run);
  const loose = new LooseRefs(privateDir);
  const plan = planSeed(loose, hostRefs, sandboxPacked, record);
  writeFresh(join(privateDir, 'packed-refs'), formatPackedRefs(plan.packed));
  for (const name of plan.removeLoose) loose.remove(name);

  // HEAD follows the worktree's while the agent has not switched; the index follows when what HEAD names changed under it.
  const hostHead = readFileSync(join(gitDir, 'HEAD'), 'utf-8');
  const sandboxHead = fresh ? undefined : readOwnFile(join(privateDir, 'HEAD'), 4096);
  const followHead = sandboxHead === undefined || sandboxHead === record?.head;
  if (followHead && sandboxHead !== hostHead) writeFresh(join(privateDir, 'HEAD'), hostHead);
  const headBranch = /^ref: (refs\/heads\/\S+)\n?$/.exec(followHead ? hostHead : (sandboxHead ?? ''))?.[1];
  const moved = (followHead && sandboxHead !== hostHead) || (headBranch !== undefined && plan.changed.has(headBranch));
  if (fresh || (moved && !upgraded)) {
    seed(join(gitDir, 'index'), join(privateDir, 'index'));
  }
  if (fresh) seed(join(gitDir, 'config.worktree'), join(privateDir, 'config.worktree'));
  chownLike(privateDir, workspaceRoot);

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
  const repository = (folder: string) => (lstatSync(join(commonDir, folder), { throwIfNoEntry: false })?.isDirectory() ? join(commonDir, folder) : undefined);
  return [
    ...dotGit,
    { source: join(hostSide, 'config'), target: join(inside, 'config'), readOnly: true },
    { source: join(hostSide, 'objects-info'), target: join(inside, 'objects/info'), readOnly: true },
    { source: join(hostSide, 'empty'), target: join(inside, 'refs/replace'), readOnly: true },
    ...SHARED_READ_ONLY.map((folder) => ({ source: repository(folder) ?? join(hostSide, 'empty'), target: join(inside, folder), readOnly: true })),
    ...(repository('modules') ? [{ source: join(commonDir, 'modules'), target: join(inside, 'modules'), readOnly: true }] : []),
    { source: join(commonDir, 'objects'), target: REPOSITORY_OBJECTS_INSIDE, readOnly: true },
  ];
}
