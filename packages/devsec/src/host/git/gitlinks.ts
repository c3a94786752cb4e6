/**
 * Gitlinks (mode 160000 entries: "a submodule's commit goes here") that lead the host's git into
 * a repository the agent made. The sandbox's commits land in the repository's objects and refs,
 * so a branch the host has checked out can gain a gitlink; after `git reset` (or a checkout of
 * that branch) it is in the host's index, and from then on `git status`, `git diff` and VS Code
 * run git inside that folder — with the config found there, whose `core.fsmonitor` git runs. A
 * `.git` in that folder that is not a registered submodule's gitfile (pointing into the
 * repository's `modules/`, read-only inside) is the agent's, and is refused by name.
 *
 * Git is asked, since only git reads its objects and index (a real parser, never ours), and it
 * is asked safely: `--git-dir` names the validated git dir (nothing is discovered from a folder
 * the agent writes), no work tree is given and none of these commands reads one, and fsmonitor,
 * submodule recursion and lazy fetches are off. Reading objects runs nothing of the agent's.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { shellWord, visible } from '../../sandbox/visible';
import type { GitLayout } from './git-layout';
import { isRegisteredSubmodule, modulesDir } from './nested-git';
import { Runner, runCommand } from '../engine/run';

export interface Gitlink {
  /** Relative to the workspace root, with `/`. */
  path: string;
  /** Where it was found: `the index`, `HEAD`, `refs/heads/<branch>`. */
  in: string[];
}

export interface UnsafeGitlink extends Gitlink {
  /** The `.git` in its folder, relative to the root. */
  dotGit: string;
}

export interface GitlinkScan {
  /** Every gitlink of the index, HEAD and the local branches, by path. */
  gitlinks: Gitlink[];
  /** Those whose folder holds a `.git` that is not a registered submodule's: git would enter it. */
  unsafe: UnsafeGitlink[];
  /** What could not be read (a ref that names no tree, a name that is not UTF-8): there may be more. */
  unreadable: string[];
}

const GITLINK_MODE = '160000';

/** git, for reading only: nothing from the environment that redirects it, nothing it could run. */
export function safeGit(layout: Pick<GitLayout, 'gitDir'>, run: Runner, args: string[]) {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GIT_')) env[name] = value;
  // The system config is not the agent's, but nothing here needs it; `--git-dir` skips the ownership check.
  Object.assign(env, { GIT_CONFIG_NOSYSTEM: '1', GIT_NO_LAZY_FETCH: '1', GIT_OPTIONAL_LOCKS: '0', GIT_TERMINAL_PROMPT: '0' });
  const config = ['core.fsmonitor=false', 'submodule.recurse=false'];
  return run('git', ['--git-dir', layout.gitDir, ...config.flatMap((entry) => ['-c', entry]), ...args], { cwd: layout.gitDir, env });
}

/** `<mode> SP … TAB <path>` records, NUL-terminated (`ls-tree -z`, `ls-files -s -z`): the gitlinks' paths. */
function gitlinkPaths(output: string): string[] {
  return output
    .split('\0')
    .filter((record) => record.startsWith(`${GITLINK_MODE} `) && record.includes('\t'))
    .map((record) => record.slice(record.indexOf('\t') + 1));
}

/** A path git would put in an index: no empty, `.`, `..` or `.git` segment (git refuses the others: `invalid path`). */
const checkablePath = (path: string) =>
  path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..' && segment.toLowerCase() !== '.git');

export function scanGitlinks(layout: GitLayout, run: Runner = runCommand): GitlinkScan {
  const scan: GitlinkScan = { gitlinks: [], unsafe: [], unreadable: [] };
  const found = new Map<string, string[]>();
  const add = (paths: string[], where: string) => {
    for (const path of paths) found.set(path, [...(found.get(path) ?? []), where]);
  };

  const index = safeGit(layout, run, ['ls-files', '--stage', '-z', '--full-name']);
  // No git on this host: nothing here can enter the folder either (VS Code runs the same git).
  if (index.error?.code === 'ENOENT') return scan;
  if (index.status === 0) add(gitlinkPaths(index.stdout), 'the index');
  else scan.unreadable.push(`the index (git ls-files: ${visible(index.error?.message ?? index.stderr.trim())})`);

  // Every branch tip (the sandbox moves them) and HEAD, each distinct commit read once. HEAD on a
  // branch is that branch's tip (for-each-ref marks it `*`): git is asked for HEAD alone only when detached.
  const tips = new Map<string, string[]>();
  const refs = safeGit(layout, run, ['for-each-ref', '--format=%(HEAD)%(objectname) %(refname)', 'refs/heads/']);
  if (refs.status !== 0) scan.unreadable.push(`the branches (git for-each-ref: ${visible(refs.error?.message ?? refs.stderr.trim())})`);
  const branches = refs.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => [line[0] === '*', line.slice(1)] as const)
    .map(([current, rest]) => ({ current, id: rest.slice(0, rest.indexOf(' ')), ref: rest.slice(rest.indexOf(' ') + 1) }));
  const current = branches.find((branch) => branch.current);
  if (current) tips.set(current.id, ['HEAD']);
  else {
    const head = safeGit(layout, run, ['rev-parse', '--verify', '--quiet', 'HEAD']);
    // An unborn HEAD (no commit yet) has no tree.
    if (head.status === 0) tips.set(head.stdout.trim(), ['HEAD']);
  }
  for (const { id, ref } of branches) tips.set(id, [...(tips.get(id) ?? []), ref]);
  for (const [id, names] of tips) {
    const tree = safeGit(layout, run, ['ls-tree', '-r', '-z', '--full-tree', id]);
    if (tree.status === 0) for (const name of names) add(gitlinkPaths(tree.stdout), name);
    else scan.unreadable.push(`${names.map((name) => visible(name)).join(', ')} (git ls-tree: ${visible(tree.stderr.trim() || (tree.error?.message ?? ''))})`);
  }

  const modules = modulesDir(layout);
  for (const [path, where] of [...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    // Not valid UTF-8: the name Node decoded is not the file's, so it cannot be looked at.
    if (path.includes('\uFFFD')) {
      scan.unreadable.push(`a gitlink in ${where.join(', ')} whose name is not valid UTF-8 (${visible(path)})`);
      continue;
    }
    // git would not check it out (`invalid path`): it never reaches an index, and joining it could leave the root.
    if (!checkablePath(path)) continue;
    const gitlink = { path, in: where };
    scan.gitlinks.push(gitlink);
    // No `.git` in the folder (the usual case: a submodule not initialised, or an empty folder git made):
    // git status has no repository to enter there, and shows nothing of it. lstat: a symlinked
    // .git counts as one (whatever it names is not the registered gitfile).
    const dotGit = join(layout.workspaceRoot, path, '.git');
    if (lstatSync(dotGit, { throwIfNoEntry: false }) === undefined) continue;
    if (isRegisteredSubmodule(dotGit, modules)) continue;
    scan.unsafe.push({ ...gitlink, dotGit: `${path}/.git` });
  }
  return scan;
}

/** One line per unsafe gitlink, for a refusal or a report. */
export function describeUnsafeGitlink(gitlink: UnsafeGitlink): string {
  return `${shellWord(gitlink.path)}: a gitlink (submodule entry) in ${gitlink.in.map((where) => visible(where)).join(', ')}, whose folder holds ${visible(gitlink.dotGit)}, not a registered submodule's`;
}
