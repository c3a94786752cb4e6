/**
 * What `devsec check` and `devsec trust` share: their arguments, the workspace root, the review
 * and how it is printed. They run on the host without Nx, the plugin or any `.env`: plain fs.
 */
import { lstatSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DevsecError } from '../sandbox/errors';
import { visible } from '../sandbox/visible';
import { DEFAULT_MAX_ENTRIES } from '../host/surface/list';
import { isListed, paint, renderChange, RenderOptions, renderStat } from '../host/surface/report';
import { describeUnsafeGitlink, reviewSurface, SurfaceReview } from '../host/surface/review';

export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream;
  /** Whether stdin and stdout are a terminal: colour by default, and someone to ask. */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface SurfaceArgs {
  help: boolean;
  yes: boolean;
  /** Every other change as a full diff too, not only as a summary line. */
  all: boolean;
  maxEntries: number;
}

export interface LoadedReview {
  review: SurfaceReview;
  args: SurfaceArgs;
  render: RenderOptions;
  out: (line?: string) => void;
}

/** The arguments, or the message of a usage error. */
export function parseSurfaceArgs(argv: string[], acceptsYes: boolean): SurfaceArgs | string {
  const args: SurfaceArgs = { help: false, yes: false, all: false, maxEntries: DEFAULT_MAX_ENTRIES };
  for (const arg of argv) {
    const maxEntries = /^--max-entries=(\d+)$/.exec(arg);
    if (arg === '--help' || arg === '-h') args.help = true;
    else if (acceptsYes && (arg === '--yes' || arg === '-y')) args.yes = true;
    else if (arg === '--all' || arg === '-a') args.all = true;
    else if (maxEntries && Number(maxEntries[1]) > 0) args.maxEntries = Number(maxEntries[1]);
    else return `unknown argument ${visible(arg)}.`;
  }
  return args;
}

const exists = (path: string) => lstatSync(path, { throwIfNoEntry: false }) !== undefined;

/** The nearest folder from cwd up that holds nx.json and a .git, or undefined. */
export function findWorkspaceRoot(cwd: string): string | undefined {
  let dir: string;
  try {
    dir = realpathSync(cwd);
  } catch {
    return undefined;
  }
  for (;;) {
    if (exists(join(dir, 'nx.json')) && exists(join(dir, '.git'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Colour on a terminal, or when FORCE_COLOR asks for it (0 and false turn it off); NO_COLOR turns it off otherwise. */
export function useColour(io: Pick<CommandIO, 'env' | 'isTTY'>): boolean {
  const force = io.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return io.isTTY && !io.env.NO_COLOR;
}

/** Parses, finds the root and reviews it, printing the header; a number is the exit code to return at once. */
export function loadReview(command: 'check' | 'trust', argv: string[], io: CommandIO, help: string): LoadedReview | number {
  const args = parseSurfaceArgs(argv, command === 'trust');
  if (typeof args === 'string') {
    io.stderr.write(`devsec ${command}: ${args}\n\n${help}`);
    return 2;
  }
  if (args.help) {
    io.stdout.write(help);
    return 0;
  }
  const root = findWorkspaceRoot(io.cwd);
  if (!root) {
    io.stderr.write(`devsec ${command}: no folder from ${visible(io.cwd)} up holds both nx.json and .git. Run it inside an Nx workspace's git checkout.\n`);
    return 2;
  }
  const render: RenderOptions = { colour: useColour(io) };
  const out = (line = '') => void io.stdout.write(`${line}\n`);
  out(`devsec ${command}: workspace ${visible(root)}`);
  let review: SurfaceReview;
  try {
    review = reviewSurface(root, { env: io.env, maxEntries: args.maxEntries });
  } catch (error) {
    if (!(error instanceof DevsecError)) throw error;
    io.stderr.write(`devsec ${command}: ${error.message}\n`);
    return 2;
  }
  out(`Repository ${visible(review.layout.commonDir)}; snapshot ${visible(review.file)}`);
  printUnsafeGitlinks(review, render, out);
  for (const note of review.scan.notes) out(paint(render, 'yellow', `note: ${note}`));
  for (const gap of review.scan.incomplete) out(paint(render, 'yellow', `incomplete: ${gap}`));
  out();
  return { review, args, render, out };
}

/**
 * First, whatever was approved: a gitlink whose folder holds a repository that is not a
 * registered submodule. The host's git enters it (`git status` once the gitlink is in the
 * index: after `git reset` or a checkout) and runs that repository's config.
 */
function printUnsafeGitlinks(review: SurfaceReview, render: RenderOptions, out: (line?: string) => void): void {
  for (const gitlink of review.scan.gitlinks?.unsafe ?? []) {
    out(paint(render, 'red', `DANGER ${describeUnsafeGitlink(gitlink)}`));
    out(
      `  git status, git diff and VS Code run git in ${visible(gitlink.path)} with the config of that .git (its core.fsmonitor runs) once the gitlink is in your index.`,
    );
    out(
      `  Run no other git here until it is gone (\`git status --ignore-submodules=all\` does not enter it): remove ${visible(gitlink.dotGit)} if you did not make it, then drop the commit that added the gitlink.`,
    );
  }
}

/**
 * Every change: first, marked as such, those of files the host runs or trusts without asking, each
 * in full (for a gitlink, where git lists it); then every other change, one summary line each
 * (`--all`: in full too).
 */
export function printChanges(loaded: LoadedReview): void {
  const { render, out } = loaded;
  const gitlinks = new Map((loaded.review.scan.gitlinks?.gitlinks ?? []).map((gitlink) => [gitlink.path, gitlink.in]));
  const listed = loaded.review.changes.filter(isListed);
  const others = loaded.review.changes.filter((change) => !isListed(change));
  if (listed.length > 0) {
    out(paint(render, 'bold', `Executed or trusted by the host without asking (${listed.length}): read these first.`));
    out();
  }
  for (const change of listed) {
    for (const line of renderChange(change, render)) out(line);
    const where = change.type !== 'deleted' && change.after.rule === 'gitlink' ? gitlinks.get(change.path) : undefined;
    if (where) out(`  in ${where.map((name) => visible(name)).join(', ')}`);
    out();
  }
  if (others.length === 0) return;
  out(paint(render, 'bold', `Every other change (${others.length})${loaded.args.all ? '' : ': `--all` shows them in full'}.`));
  if (loaded.args.all) {
    out();
    for (const change of others) {
      for (const line of renderChange(change, render)) out(line);
      out();
    }
  } else {
    for (const change of others) out(renderStat(change, render));
    out();
  }
}

/** Exit code 1 when the walk did not see everything (nothing unchanged can be promised), or a gitlink leads into a repository of the agent's. */
export const incompleteCode = (review: SurfaceReview) => (review.scan.incomplete.length > 0 || (review.scan.gitlinks?.unsafe.length ?? 0) > 0 ? 1 : 0);

export const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
