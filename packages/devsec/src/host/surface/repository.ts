/**
 * Which repository a workspace belongs to, read from its `.git` without running git in it (git
 * would run hooks and fsmonitor commands the workspace can name): its config files are handed to
 * `git config --file -` as text, outside any repository, to be read by git's own parser. The approved snapshot is keyed by
 * the repository's common git dir, so every worktree of one repository shares it — and the agent,
 * who can rewrite a worktree's `.git` file, must not be able to point it at a fresh key (a silent
 * new baseline) or at another repository: what we read is validated, and refused when it is not
 * a git layout this workspace belongs to.
 */
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { SandboxError, WorktreeError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { readGitLayout } from '../git/git-layout';
import { CommandResult, Runner, runCommand } from '../engine/run';
import { readSmallText, sha256 } from './read';

export interface Repository {
  /** This worktree's git dir (the `.git` directory, or where the `.git` file points). */
  gitDir: string;
  /** The repository's common git dir (real path): the same for every worktree. */
  commonDir: string;
  /** `core.hooksPath` as the repository's config sets it, if it does. */
  hooksPath?: string;
  /** What could not be read (config includes). */
  notes: string[];
}

/**
 * Reads and validates the workspace's git layout (host/git-layout.ts: no symlinks, pointers that
 * agree, no git dir inside the workspace or inside another one), and the hooks path its config names.
 */
export function readRepository(root: string): Repository {
  let layout;
  try {
    layout = readGitLayout(root);
  } catch (error) {
    if (!(error instanceof WorktreeError)) throw error;
    throw new SandboxError(
      `${error.message} @org/devsec keys the approved snapshot by the repository and will not guess it; \`git worktree repair\` (or a fresh clone) puts .git back as git wrote it.`,
    );
  }
  const notes: string[] = [];
  let hooksPath: string | undefined;
  for (const file of [join(layout.commonDir, 'config'), join(layout.gitDir, 'config.worktree')]) {
    const config = readGitConfig(readSmallText(file) ?? '');
    hooksPath = config.hooksPath ?? hooksPath;
    if (config.unreadable) notes.push(`${visible(file)} is not a config git reads (${visible(config.unreadable)}); a core.hooksPath set there is not checked.`);
    if (config.includes) notes.push(`${visible(file)} includes other config files; a core.hooksPath set there is not checked.`);
  }
  return { gitDir: layout.gitDir, commonDir: realpathSync(layout.commonDir), hooksPath, notes };
}

/** The snapshot's key: a hash of the common dir's real path, one safe path segment. */
export function repositoryKey(repository: Repository): string {
  return `repo-${sha256(repository.commonDir).slice(0, 40)}`;
}

/** git, reading a config text from stdin: nothing from our environment that redirects it, no system or global file, outside any repository. */
function gitConfigList(text: string, run: Runner): CommandResult {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('GIT_')) env[name] = value;
  Object.assign(env, {
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_CEILING_DIRECTORIES: '/',
    GIT_OPTIONAL_LOCKS: '0',
    GIT_TERMINAL_PROMPT: '0',
  });
  // `--file -` reads exactly the text given; `--no-includes`: an include names another file, noted rather than followed.
  return run('git', ['-c', 'core.fsmonitor=false', 'config', '--file', '-', '--no-includes', '--null', '--list'], { cwd: '/', input: text, env });
}

/**
 * `core.hooksPath` and whether the file includes others, as git itself reads the config text
 * (`git config --list`: sections on one line with their keys, continuations, quoting, case).
 * `unreadable` when git refuses the text (git would refuse to run in that repository too).
 */
export function readGitConfig(text: string, run: Runner = runCommand): { hooksPath?: string; includes: boolean; unreadable?: string } {
  if (text.trim() === '') return { includes: false };
  const result = gitConfigList(text, run);
  if (result.status !== 0) return { includes: false, unreadable: (result.error?.message ?? result.stderr).trim() || `git exited with ${result.status}` };
  let hooksPath: string | undefined;
  let includes = false;
  // `--null`: each entry is `<key>\n<value>\0` (`<key>\0` for a key without a value); section and key come lower-cased.
  for (const entry of result.stdout.split('\0')) {
    const newline = entry.indexOf('\n');
    const key = newline === -1 ? entry : entry.slice(0, newline);
    const value = newline === -1 ? undefined : entry.slice(newline + 1);
    if (key === 'core.hookspath') hooksPath = value;
    if (key === 'include.path' || (key.startsWith('includeif.') && key.endsWith('.path'))) includes = true;
  }
  return { hooksPath, includes };
}

/** Where hooks run from, as a path relative to the root when it lies inside the workspace (git resolves a relative hooksPath from the worktree's top). */
export function hooksPathInWorkspace(root: string, hooksPath: string, env: NodeJS.ProcessEnv): { relative?: string; absolute: string } {
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const absolute = hooksPath.startsWith('~/') ? join(home, hooksPath.slice(2)) : resolve(root, hooksPath);
  const rel = relative(root, absolute);
  const inside = rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  return inside ? { relative: rel.split(sep).join('/'), absolute } : { absolute };
}
