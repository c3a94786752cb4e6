/**
 * `devsec fetch`: the sandbox's branches brought into the host's repository, through git's own
 * verifying transport, without the host's git ever reading the sandbox's git dir.
 *
 * The sandbox's git dir (config, hooks, refs, objects, alternates) is the agent's to write. Git on
 * the host pointed at it — even `git fetch` from it as a local remote — would read its config
 * (upload-pack settings, `core.*`), could run what that names, and would follow symlinks and hard
 * links in its `objects` and `alternates` to host paths (CVE-2022-39253). So the host never runs
 * git there: a throwaway container of the sandbox's own image (it has git) gets the git dir, and
 * the repository's object store, read-only at the paths the dev container sees them — a symlink
 * or an alternates entry resolves inside that container's view, which holds no host path but
 * those two read-only mounts — and writes a bundle of the sandbox's branches to stdout. The
 * container has no network, no capabilities, a read-only root, bounded memory and processes:
 * whatever the agent's config makes git do there reaches nothing, and all it can give back is
 * bytes. The host saves them to a fresh file, reads the bundle's heads (`git bundle list-heads`:
 * a file read as data), checks every name and id, and fetches it with object verification:
 * a bundle is unpacked by `index-pack --strict` and checked for connectivity, so a forged or
 * corrupt object is refused, naming it. There is no upload-pack on the host at all.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { lstatSync, rmSync } from 'node:fs';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { writeNewFile } from './fresh-file';
import { join, resolve } from 'node:path';
import type { Runner } from '../engine/run';

/** Where the sandbox's git dir, and the repository's object store its alternates name, appear in the throwaway container. */
export const SOURCE_GIT_DIR = '/devsec/git';
export const SOURCE_REPOSITORY_OBJECTS = '/devsec/repository-objects';

/** One read-only mount of the throwaway container: a host folder (bind), or a volume of the stack (clone mode). */
export interface SourceMount {
  type: 'bind' | 'volume';
  /** A host path (bind) or a volume's name (volume). */
  source: string;
  /** Its path in the throwaway container. */
  target: string;
}

/** Where the sandbox's git lives, as a throwaway container of its image sees it. */
export interface SandboxSource {
  /** The dev container's image (an id: nothing is pulled). */
  image: string;
  /** Mounted read-only, every one. */
  mounts: SourceMount[];
  /** The git dir in the container. */
  gitDir: string;
  /** `uid:gid` git runs as (the owner of the git dir's files); never root unless they are root's. */
  user: string;
}

/** One of the sandbox's branches, as its git lists it: data from the agent, checked before use. */
export interface SandboxBranch {
  /** The branch name below `refs/heads/`. */
  name: string;
  id: string;
}

/** Limits of the throwaway container and of what the host accepts from it. */
export const LIMITS = {
  memory: '512m',
  pids: 64,
  cpus: '1',
  /** The most bytes of a bundle the host saves (beyond: refused). */
  bundleBytes: 512 * 1024 * 1024,
  /** The most branches the host takes from one sandbox. */
  branches: 2000,
  /** Seconds before the container is stopped. */
  timeoutSeconds: 300,
};

const OBJECT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/**
 * The `docker run` argv of a throwaway container running `git <gitArgs>` on the source: no network,
 * no capabilities, no new privileges, a read-only root, bounded memory/processes/CPU, no logs kept
 * by the engine (the output is a bundle), every mount read-only, git's own user and system config
 * left out (only the git dir's, which is the agent's and reaches nothing there).
 */
export function throwawayArgs(source: SandboxSource, name: string, gitArgs: string[], interactive = false): string[] {
  if (!/^\d+:\d+$/.test(source.user)) throw new SandboxError(`not a uid:gid: ${visible(source.user)}`);
  return [
    'run',
    '--rm',
    ...(interactive ? ['-i'] : []),
    '--name',
    name,
    '--pull',
    'never',
    '--network',
    'none',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--read-only',
    '--user',
    source.user,
    '--memory',
    LIMITS.memory,
    '--memory-swap',
    LIMITS.memory,
    '--pids-limit',
    String(LIMITS.pids),
    '--cpus',
    LIMITS.cpus,
    '--log-driver',
    'none',
    '--workdir',
    '/',
    ...source.mounts.flatMap((mount) => ['--mount', mountSpec(mount)]),
    '--env',
    `GIT_DIR=${source.gitDir}`,
    '--env',
    'GIT_CONFIG_NOSYSTEM=1',
    '--env',
    'GIT_CONFIG_GLOBAL=/dev/null',
    '--env',
    'HOME=/nonexistent',
    '--env',
    'GIT_TERMINAL_PROMPT=0',
    '--env',
    'GIT_OPTIONAL_LOCKS=0',
    '--entrypoint',
    'git',
    source.image,
    // The container's user owns the git dir; the files the agent wrote there may be another uid's.
    '-c',
    `safe.directory=*`,
    ...gitArgs,
  ];
}

function mountSpec(mount: SourceMount): string {
  for (const value of [mount.source, mount.target]) {
    if (value === '' || /[,\n\r"]/.test(value)) throw new SandboxError(`cannot mount ${visible(value)} (a comma, quote or newline in the path).`);
  }
  return `type=${mount.type},source=${mount.source},target=${mount.target},readonly`;
}

/** Runs git in a throwaway container; stdout as bytes, bounded. */
function runThrowaway(source: SandboxSource, gitArgs: string[], input: string | undefined, maxBytes: number): Buffer {
  const name = `devsec-fetch-${randomBytes(6).toString('hex')}`;
  const result = spawnSync('docker', throwawayArgs(source, name, gitArgs, input !== undefined), {
    input,
    maxBuffer: maxBytes,
    timeout: LIMITS.timeoutSeconds * 1000,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: process.env,
  });
  if (result.error || result.status !== 0) {
    // Stopped by the timeout or the output limit: the container may still run.
    if (result.error) spawnSync('docker', ['rm', '--force', name], { stdio: 'ignore', env: process.env });
    const why =
      (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOBUFS'
        ? `its output passed the limit of ${maxBytes} bytes`
        : result.error
          ? result.error.message
          : `exit ${result.status}: ${String(result.stderr).trim().split('\n').slice(-5).join('\n')}`;
    throw new SandboxError(
      `git in a throwaway container of the sandbox's image (git ${gitArgs.filter((a) => !a.startsWith('--format')).join(' ')}) failed: ${visible(why, { keepNewlines: true })}`,
    );
  }
  return result.stdout as Buffer;
}

/** The sandbox's branches (`refs/heads/*`), as its git lists them; refused when a line is not `<id> refs/heads/<name>`. */
export function sandboxBranches(source: SandboxSource): SandboxBranch[] {
  const out = runThrowaway(source, ['for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads/'], undefined, 4 * 1024 * 1024).toString('utf-8');
  return parseBranchList(out);
}

/** `<id> refs/heads/<name>` lines (for-each-ref, or a bundle's heads) as branches; anything else refuses the whole list. */
export function parseBranchList(text: string): SandboxBranch[] {
  const branches: SandboxBranch[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const match = /^([0-9a-f]+) refs\/heads\/(.+)$/s.exec(line);
    if (!match || !OBJECT_ID.test(match[1])) throw new SandboxError(`the sandbox's git listed something that is not a branch: ${visible(line)}`);
    branches.push({ id: match[1], name: match[2] });
  }
  if (branches.length > LIMITS.branches) throw new SandboxError(`the sandbox has ${branches.length} branches: more than ${LIMITS.branches}, refused.`);
  return branches;
}

/** `^<id>` lines: what the host already has, as `--stdin` input of rev-list and bundle create. */
function notLines(exclude: string[]): string {
  for (const id of exclude) if (!OBJECT_ID.test(id)) throw new SandboxError(`not an object id: ${visible(id)}`);
  return exclude.map((id) => `^${id}\n`).join('');
}

/**
 * A bundle of the sandbox's branches `refs` (names below refs/heads/) holding only what the host
 * has not (`exclude`: the ids of the host's own refs, which the host trusts), written by git in a
 * throwaway container. Undefined when `refs` is empty (git refuses an empty bundle).
 */
export function sandboxBundle(options: { source: SandboxSource; refs: string[]; exclude: string[]; maxBytes?: number }): Buffer | undefined {
  const { source, refs, exclude } = options;
  if (refs.length === 0) return undefined;
  // Names go on stdin too, as full ref names (never options: each starts with refs/heads/).
  const input = refs.map((name) => `refs/heads/${name}\n`).join('') + notLines(exclude);
  return runThrowaway(source, ['bundle', 'create', '--quiet', '-', '--ignore-missing', '--stdin'], input, options.maxBytes ?? LIMITS.bundleBytes);
}

/**
 * How many commits of the sandbox's branches the host has not (`exclude`: the ids of its refs),
 * counted in a throwaway container. Asynchronous: up-worktree counts while it waits for the stack.
 */
export function waitingCommits(source: SandboxSource, exclude: string[]): Promise<number> {
  const gitArgs = ['rev-list', '--count', '--ignore-missing', '--branches', '--stdin'];
  const name = `devsec-count-${randomBytes(6).toString('hex')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('docker', throwawayArgs(source, name, gitArgs, true), { stdio: ['pipe', 'pipe', 'pipe'], env: process.env });
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      child.kill();
      spawnSync('docker', ['rm', '--force', name], { stdio: 'ignore', env: process.env });
    }, LIMITS.timeoutSeconds * 1000);
    child.stdout.setEncoding('utf-8').on('data', (chunk: string) => (out = (out + chunk).slice(0, 64)));
    child.stderr.setEncoding('utf-8').on('data', (chunk: string) => (err = (err + chunk).slice(-2000)));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const count = out.trim();
      if (code === 0 && /^\d+$/.test(count)) resolve(Number(count));
      else reject(new SandboxError(`counting the sandbox's commits failed (exit ${code}): ${visible(err.trim() || count)}`));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(notLines(exclude));
  });
}

/** The `uid:gid` owning a folder the host created (lstat: a link is not followed). */
export function ownerOf(path: string): string {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat?.isDirectory()) throw new SandboxError(`${visible(path)} is not a folder.`);
  return `${stat.uid}:${stat.gid}`;
}

/**
 * The sandbox's private git dir as a source (mount mode): the git dir at /devsec/git, the
 * repository's object store at /devsec/repository-objects (which its `objects/info/alternates`
 * names), both read-only. Until the private git dir has an object store of its own (the host
 * writes that alternates file; the agent cannot create it in the layout before, where the
 * repository's `objects` is mounted over that folder), the repository's `objects` and `refs` are
 * mounted at its `objects` and `refs`, as the dev container has them.
 */
export function privateGitSource(options: { image: string; privateDir: string; commonDir: string }): SandboxSource {
  const { image, privateDir, commonDir } = options;
  const ownStore = lstatSync(join(privateDir, 'objects', 'info', 'alternates'), { throwIfNoEntry: false })?.isFile() === true;
  const bind = (source: string, target: string): SourceMount => ({ type: 'bind', source, target });
  return {
    image,
    gitDir: SOURCE_GIT_DIR,
    user: ownerOf(privateDir),
    mounts: [
      bind(privateDir, SOURCE_GIT_DIR),
      bind(join(commonDir, 'objects'), SOURCE_REPOSITORY_OBJECTS),
      ...(ownStore ? [] : [bind(join(commonDir, 'objects'), `${SOURCE_GIT_DIR}/objects`), bind(join(commonDir, 'refs'), `${SOURCE_GIT_DIR}/refs`)]),
    ],
  };
}

/** The id of a local image, or undefined when the engine has none by that name (nothing is pulled). */
export function localImageId(name: string, run: Runner): string | undefined {
  const result = run('docker', ['image', 'inspect', '--format', '{{.Id}}', name]);
  const id = result.stdout.trim();
  return result.status === 0 && /^sha256:[0-9a-f]{64}$/.test(id) ? id : undefined;
}

// ---------------------------------------------------------------------------------------------
// The host's side: its own repository, read and written by its own git, with nothing of the sandbox's but the bundle file.

/**
 * Where a project's sandbox branches land: remote-tracking refs, which no checkout, commit or push
 * of the host moves. One folder of refs per project: a `/` (and `%`) in the project's name is
 * encoded (`%2F`, `%25`), so project `app`'s branch `x/foo` never lands among project `app/x`'s.
 */
export const fetchNamespace = (project: string) => `refs/remotes/devsec/${project.replace(/%/g, '%25').replace(/\//g, '%2F')}`;

/** Git on the host's own repository (its common dir), with the user's config: nothing of the sandbox's is read. */
export function hostGit(commonDir: string, run: Runner) {
  return (args: string[], input?: string) => {
    const result = run('git', ['--git-dir', commonDir, ...args], { cwd: commonDir, input });
    if (result.error?.code === 'ENOENT') throw new SandboxError('git is not installed on this machine.');
    return result;
  };
}

/** Whether `ref` is a valid full ref name (`git check-ref-format`: no control characters, `..`, `~^:?*[\`, `@{`, …). */
export function validRefName(ref: string, run: Runner): boolean {
  if (/[\0-\x20\x7f]/.test(ref) || ref.length > 1024) return false;
  return run('git', ['check-ref-format', ref]).status === 0;
}

export interface BranchResult {
  name: string;
  state: 'new' | 'updated' | 'forced' | 'unchanged' | 'gone' | 'refused';
  /** The remote-tracking ref's id before and after. */
  before?: string;
  after?: string;
  /** Commits the host's repository did not have. */
  commits?: number;
  /** `git log --oneline` of those, newest first (bounded). */
  log?: string[];
  /** Why a branch was refused. */
  why?: string;
}

/** At most this many lines of log per branch. */
export const LOG_LINES = 10;

/** What arrived, for the terminal: every name and subject made visible. */
export function renderFetchSummary(project: string, results: BranchResult[]): string {
  const namespace = fetchNamespace(project).replace(/^refs\/remotes\//, '');
  if (results.length === 0) return `The sandbox of ${visible(project)} has no branch.`;
  const width = Math.min(40, Math.max(...results.map((r) => visible(r.name).length)));
  const short = (id?: string) => (id ? id.slice(0, 12) : '');
  const lines = [`From the sandbox of ${visible(project)} into ${visible(namespace)}/:`];
  for (const result of results) {
    const name = visible(result.name).padEnd(width);
    const count = result.commits === undefined ? '' : result.commits === 0 ? 'no new commit' : `${result.commits} new commit${result.commits === 1 ? '' : 's'}`;
    if (result.state === 'gone')
      lines.push(
        `  ${name}  gone       the agent deleted it; kept at ${short(result.before)} (git update-ref -d ${visible(`${fetchNamespace(project)}/${result.name}`)} drops it)`,
      );
    else if (result.state === 'refused') lines.push(`  ${name}  refused    ${visible(result.why ?? '')}`);
    else if (result.state === 'unchanged') lines.push(`  ${name}  unchanged  ${short(result.after)}`);
    else {
      const move = result.state === 'new' ? `new        ${short(result.after)}` : `${result.state.padEnd(10)} ${short(result.before)}..${short(result.after)}`;
      lines.push(`  ${name}  ${move}${count ? `  ${count}` : ''}${result.state === 'forced' ? ' (history rewritten)' : ''}`);
    }
    for (const entry of result.log ?? []) lines.push(`      ${visible(entry)}`);
    if (result.log && result.commits !== undefined && result.commits > result.log.length) lines.push(`      … and ${result.commits - result.log.length} more`);
  }
  return lines.join('\n');
}

/** A fresh name for a bundle file in `dir`. */
export const bundleName = () => `fetch-${process.pid}-${randomBytes(6).toString('hex')}.bundle`;

/** Removes a bundle file the host wrote. */
export const removeBundle = (path: string) => rmSync(path, { force: true });

/** A file:// URL of an absolute path: git percent-decodes the path, so every byte but letters, digits and `._/-` is encoded. */
export const fileUrl = (path: string): string =>
  `file://${[...Buffer.from(path, 'utf-8')].map((byte) => (/[A-Za-z0-9._/-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('')}`;

/**
 * The bundle's objects into the host's repository, verified whatever git's version: `git fetch
 * <bundle>` unpacks without `index-pack --strict` (git 2.39 ignores transfer.fsckObjects there),
 * so the bundle is first unbundled into a scratch bare repository the host makes for it (its
 * config git's own, its alternates the repository's objects, for the bundle's prerequisites),
 * and the host's repository fetches from that over file://, which runs `index-pack --strict`:
 * an object fsck refuses (a bad email, a `.git` tree entry, …) is refused, naming it. The scratch
 * repository is the host's own, made and removed here.
 */
export function verifiedFetch(options: {
  git: ReturnType<typeof hostGit>;
  run: Runner;
  commonDir: string;
  bundle: string;
  scratch: string;
  names: string[];
  refspecs: string[];
}): void {
  const { git, run, commonDir, bundle, scratch, names, refspecs } = options;
  const objects = resolve(commonDir, 'objects');
  if (/[\n\r]/.test(objects) || !scratch.startsWith('/')) throw new SandboxError(`cannot fetch into ${visible(commonDir)} through ${visible(scratch)}.`);
  const quiet = ['--quiet', '--no-tags', '--no-write-fetch-head', '--no-recurse-submodules', '--no-auto-maintenance', '--no-show-forced-updates'];
  try {
    const init = run('git', ['init', '--quiet', '--bare', '--template=', scratch], { cwd: commonDir });
    if (init.status !== 0) throw new SandboxError(`git init of a scratch repository failed: ${visible(init.stderr.trim())}`);
    writeNewFile(join(scratch, 'objects', 'info', 'alternates'), Buffer.from(`${objects}\n`));
    const scratchGit = ['--git-dir', scratch, '-c', 'core.hooksPath=/dev/null'];
    const unbundle = run('git', [...scratchGit, 'fetch', ...quiet, '--', bundle, ...names.map((name) => `+refs/heads/${name}:refs/heads/${name}`)], {
      cwd: scratch,
    });
    if (unbundle.status !== 0)
      throw new SandboxError(`git refused what the sandbox sent; nothing was fetched:\n${visible(unbundle.stderr.trim(), { keepNewlines: true })}`);
    const result = git([
      '-c',
      'transfer.fsckObjects=true',
      '-c',
      'fetch.fsckObjects=true',
      '-c',
      'protocol.file.allow=always',
      'fetch',
      ...quiet,
      '--',
      fileUrl(scratch),
      ...refspecs,
    ]);
    if (result.status !== 0)
      throw new SandboxError(`git refused what the sandbox sent; nothing was fetched:\n${visible(result.stderr.trim(), { keepNewlines: true })}`);
  } finally {
    // The host's own scratch repository (never the agent's): removed by path.
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** What a fetch did, for the summary; throws (a SandboxError naming what git refused) when the bundle is refused. */
export function fetchIntoHost(options: { source: SandboxSource; commonDir: string; project: string; bundleDir: string; run: Runner }): BranchResult[] {
  const { source, commonDir, project, bundleDir, run } = options;
  const git = hostGit(commonDir, run);
  const namespace = fetchNamespace(project);
  if (!validRefName(`${namespace}/x`, run) || project === '' || project.startsWith('.'))
    throw new SandboxError(`the project name ${visible(project)} cannot name a ref namespace (${visible(namespace)}/*): git check-ref-format refuses it.`);
  // What the host has, from its own refs: the ids it trusts (the sandbox's objects are fetched only beyond them).
  const listed = git(['for-each-ref', '--format=%(objectname) %(refname)']);
  if (listed.status !== 0) throw new SandboxError(`git for-each-ref failed in ${visible(commonDir)}: ${visible(listed.stderr.trim())}`);
  const hostRefs = new Map(
    listed.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => [line.slice(line.indexOf(' ') + 1), line.slice(0, line.indexOf(' '))] as const),
  );
  const known = new Set(hostRefs.values());
  const exclude = [...known];
  const tracked = new Map([...hostRefs].filter(([ref]) => ref.startsWith(`${namespace}/`)).map(([ref, id]) => [ref.slice(namespace.length + 1), id]));

  const results = new Map<string, BranchResult>();
  const wanted: SandboxBranch[] = [];
  for (const branch of sandboxBranches(source)) {
    // One check: the namespace is itself valid, so the tracking ref is valid exactly when the branch name is.
    if (!validRefName(`${namespace}/${branch.name}`, run)) {
      results.set(branch.name, { name: branch.name, state: 'refused', why: 'not a valid branch name (git check-ref-format)' });
      continue;
    }
    wanted.push(branch);
  }
  const sandboxNames = new Set([...wanted.map((b) => b.name), ...results.keys()]);
  // Branches at a commit the host already has need no object: their tracking ref is set from the id the host trusts.
  const arriving = wanted.filter((branch) => !known.has(branch.id));
  const settled = new Map(wanted.filter((branch) => known.has(branch.id)).map((branch) => [branch.name, branch.id]));

  const fetched = new Map<string, string>();
  if (arriving.length > 0) {
    const bundle = sandboxBundle({ source, refs: arriving.map((b) => b.name), exclude });
    const path = join(bundleDir, bundleName());
    try {
      if (bundle) writeNewFile(path, bundle);
      // The bundle's own heads, read by git as a file's header: only names asked for, and valid ids.
      const heads = git(['bundle', 'list-heads', path]);
      if (heads.status !== 0) throw new SandboxError(`the sandbox's bundle is not a bundle: ${visible(heads.stderr.trim())}`);
      const asked = new Set(arriving.map((b) => b.name));
      for (const head of parseBranchList(heads.stdout)) {
        if (!asked.has(head.name)) throw new SandboxError(`the sandbox's bundle holds ${visible(head.name)}, which was not asked for: refused.`);
        fetched.set(head.name, head.id);
      }
      const refspecs = [...fetched.keys()].map((name) => `+refs/heads/${name}:${namespace}/${name}`);
      verifiedFetch({ git, run, commonDir, bundle: path, scratch: `${path}.git`, names: [...fetched.keys()], refspecs });
    } finally {
      removeBundle(path);
    }
  }
  for (const branch of arriving)
    if (!fetched.has(branch.name)) results.set(branch.name, { name: branch.name, state: 'refused', why: 'moved while fetching: run again' });

  // Tracking refs of branches at commits the host had, in one transaction that checks each ref's old value.
  const updates = [...settled].filter(([name, id]) => tracked.get(name) !== id);
  if (updates.length > 0) {
    const zero = '0'.repeat(updates[0][1].length);
    const input = updates.map(([name, id]) => `update ${namespace}/${name} ${id} ${tracked.get(name) ?? zero}\n`).join('');
    const result = git(['update-ref', '--stdin'], input);
    if (result.status !== 0) throw new SandboxError(`git update-ref failed: ${visible(result.stderr.trim())}`);
  }

  const notInput = notLines(exclude);
  for (const [name, after] of [...fetched, ...settled]) {
    const before = tracked.get(name);
    const commits = Number(git(['rev-list', '--count', after, '--stdin'], notInput).stdout.trim()) || 0;
    const log =
      commits === 0
        ? undefined
        : git(
            ['log', '--no-show-signature', '--no-decorate', '--no-color', '--no-mailmap', `--max-count=${LOG_LINES}`, '--format=%h %s', after, '--stdin'],
            notInput,
          )
            .stdout.split('\n')
            .filter(Boolean);
    const state: BranchResult['state'] =
      before === undefined ? 'new' : before === after ? 'unchanged' : git(['merge-base', '--is-ancestor', before, after]).status === 0 ? 'updated' : 'forced';
    results.set(name, { name, state, before, after, commits: state === 'unchanged' ? undefined : commits, log });
  }
  // Deleted inside: the tracking ref stays (what the host verified is not lost because the agent removed it).
  for (const [name, before] of tracked) if (!sandboxNames.has(name)) results.set(name, { name, state: 'gone', before });
  return [...results.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
