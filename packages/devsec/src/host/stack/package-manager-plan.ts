/**
 * The workspace's package manager inside its sandbox (sandbox/package-manager.ts says which).
 *
 * The container cannot reach the registry, so the pinned release comes from the host: the host
 * fetches it once with `npm pack` (an exact name and version, scripts off: nothing is run on the
 * host), checks the hash the `packageManager` field names when there is one, unpacks it into its
 * own state directory and mounts that folder read-only inside, first on PATH. The host never runs
 * anything from that folder, and the agent cannot write it: nothing the agent does there reaches
 * what the host later runs.
 *
 * An install inside works offline only with the package manager's store: pnpm's store (where
 * node_modules/.modules.yaml says the host's install came from), Yarn Berry's global cache and
 * Yarn 1's cache (both from the host's environment only, never from the workspace's .yarnrc.yml
 * or .yarnrc, which the agent writes) are mounted read-only beside the host's node_modules, and
 * the fill copies them into the stack's node_modules volume in the same `cp -a` (pnpm's store and
 * its node_modules are hard links of one another: one copy of each file); of Yarn 1's cache only
 * the entries yarn.lock names. pnpm checks that node_modules came from the store
 * it is given: the host writes a copy of its .modules.yaml naming the store's place inside.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';
import { parseDocument } from 'yaml';
import { SandboxError } from '../../sandbox/errors';
import { HOST_PACKAGE_STORES_INSIDE, PACKAGE_MANAGER_INSIDE, PNPM_MODULES_YAML_INSIDE, YARN1_CACHE_INSIDE } from '../../sandbox/node-modules';
import { detectPackageManager, PackageManager, readWorkspaceFiles } from '../../sandbox/package-manager';
import { visible } from '../../sandbox/visible';
import { stateDir } from '../engine/state-dir';
import { runCommand, Runner } from '../engine/run';
import type { Mount } from '../git/git-mounts';

export interface PackageManagerPlan {
  packageManager: PackageManager;
  mounts: Mount[];
  /** The dev container's environment for it (PATH, where its store is inside). */
  environment: Record<string, string>;
  /** Clone mode: the package stores, mounted in the container that seeds the clone rather than in the dev container. */
  seedMounts?: Mount[];
}

/** The image's PATH (node images) behind the package manager's folder. */
const IMAGE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The largest workspace file read here (yarn.lock of a large monorepo is a few MB): the agent writes them, sparse ones cost it nothing. */
export const WORKSPACE_FILE_CAP_BYTES = 32 * 1024 * 1024;

/**
 * A workspace file as itself: a symlink, a folder or a FIFO counts as absent. Opened once, never
 * through a link (O_NOFOLLOW) nor blocking (O_NONBLOCK), and judged by what was opened (fstat):
 * the agent may swap the name between a look and a read while the host runs up or down.
 */
function readRegular(path: string): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR', 'ELOOP', 'ENXIO', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return undefined;
    if (stat.size > WORKSPACE_FILE_CAP_BYTES)
      throw new SandboxError(
        `${visible(path)} is larger than ${WORKSPACE_FILE_CAP_BYTES / 1024 / 1024} MB (${stat.size} bytes): not read. If you did not make it so, the agent did.`,
      );
    const buffer = Buffer.alloc(stat.size);
    let length = 0;
    for (let read = -1; read !== 0 && length < buffer.length; length += read) read = readSync(fd, buffer, length, buffer.length - length, null);
    return buffer.subarray(0, length).toString('utf-8');
  } finally {
    closeSync(fd);
  }
}
const isRegular = (path: string) => lstatSync(path, { throwIfNoEntry: false })?.isFile() === true;

export function detectWorkspacePackageManager(workspaceRoot: string): PackageManager {
  return detectPackageManager(
    readWorkspaceFiles({ read: (path) => readRegular(join(workspaceRoot, path)), exists: (path) => isRegular(join(workspaceRoot, path)) }),
  );
}

/** The npm package a release of `pm` is published as, and its entry file. */
function distribution(pm: PackageManager): { spec: string; bins: Record<string, string> } | undefined {
  if (!pm.version) return undefined;
  if (pm.name === 'pnpm') return { spec: `pnpm@${pm.version}`, bins: { pnpm: 'bin/pnpm.cjs', pnpx: 'bin/pnpx.cjs' } };
  if (pm.classic) return { spec: `yarn@${pm.version}`, bins: { yarn: 'bin/yarn.js', yarnpkg: 'bin/yarn.js' } };
  if (pm.name === 'yarn') return { spec: `@yarnpkg/cli-dist@${pm.version}`, bins: { yarn: 'bin/yarn.js', yarnpkg: 'bin/yarn.js' } };
  return undefined; // npm: the image's own
}

/**
 * The release's unpacked folder in the state directory, fetched on first use. `npm pack` checks
 * the registry's integrity; the field's hash, when given, must match the tarball or the entry file.
 */
export function ensureRelease(pm: PackageManager, run: Runner = runCommand, env: NodeJS.ProcessEnv = process.env, fetch = true): string | undefined {
  const dist = distribution(pm);
  if (!dist) return undefined;
  const parent = stateDir(['package-managers'], env);
  const folder = join(parent, `${pm.name}-${pm.version}${pm.hash ? `-${pm.hash.algorithm}-${pm.hash.hex.slice(0, 16)}` : ''}`);
  if (existsSync(join(folder, '.complete'))) return folder;
  if (!fetch) return undefined;
  const work = join(parent, `.fetching-${process.pid}-${Date.now()}`);
  mkdirSync(work, { mode: 0o700 });
  try {
    const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work, dist.spec], { cwd: work, env });
    if (packed.status !== 0) {
      throw new SandboxError(
        `The sandbox's ${pm.name} ${pm.version} could not be fetched on the host (npm pack ${dist.spec}: ${visible(`${packed.stderr}`.trim().split('\n').slice(-2).join(' '))}).`,
      );
    }
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new SandboxError(`npm pack ${dist.spec} left no tarball.`);
    const bytes = readFileSync(join(work, tarball));
    const out = join(work, 'release');
    mkdirSync(out);
    // tar's environment is PATH alone: TAR_OPTIONS (which a workspace .env gives Nx's task process) would run a command per checkpoint.
    const untar = run('tar', ['-xzf', join(work, tarball), '-C', out, '--no-same-owner', '--no-same-permissions'], {
      env: { PATH: env.PATH ?? process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C' },
    });
    if (untar.status !== 0) throw new SandboxError(`The ${dist.spec} tarball could not be unpacked: ${visible(untar.stderr.trim())}`);
    const entry = join(out, 'package', Object.values(dist.bins)[0]);
    if (!isRegular(entry)) throw new SandboxError(`${dist.spec} holds no ${Object.values(dist.bins)[0]}.`);
    if (pm.hash) {
      const digest = (data: Buffer) => createHash(pm.hash!.algorithm).update(data).digest('hex');
      if (digest(bytes) !== pm.hash.hex && digest(readFileSync(entry)) !== pm.hash.hex) {
        throw new SandboxError(`${dist.spec} from the registry does not match the ${pm.hash.algorithm} hash package.json's "packageManager" names: refused.`);
      }
    }
    mkdirSync(join(out, 'bin'));
    for (const [name, file] of Object.entries(dist.bins)) {
      writeFileSync(join(out, 'bin', name), `#!/bin/sh\nexec node ${PACKAGE_MANAGER_INSIDE}/package/${file} "$@"\n`, { mode: 0o755 });
    }
    // Read by the container's user: the folder and everything in it readable, nothing writable but by the host user.
    readable(out);
    rmSync(folder, { recursive: true, force: true });
    renameSync(out, folder);
    writeFileSync(join(folder, '.complete'), `${dist.spec}\n`, { mode: 0o644 });
    return folder;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function readable(path: string): void {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) return;
  if (stat.isDirectory()) {
    chmodSync(path, 0o755);
    for (const entry of readdirSync(path)) readable(join(path, entry));
  } else chmodSync(path, stat.mode & 0o111 ? 0o755 : 0o644);
}

/** pnpm's store as the host's install names it (`node_modules/.modules.yaml`, the host's own file: inside, node_modules is a volume). */
function pnpmStore(workspaceRoot: string): { storeDir: string; modules: ReturnType<typeof parseDocument> } | undefined {
  const text = readRegular(join(workspaceRoot, 'node_modules', '.modules.yaml'));
  if (text === undefined) return undefined;
  const modules = parseDocument(text);
  const storeDir = modules.get('storeDir');
  // Only a folder pnpm made: `<store-dir>/v<N>` holding its `files` (a store-dir from an .npmrc the agent wrote still mounts no more than that).
  const isStore =
    typeof storeDir === 'string' &&
    isAbsolute(storeDir) &&
    /^v\d+$/.test(basename(storeDir)) &&
    lstatSync(storeDir, { throwIfNoEntry: false })?.isDirectory() === true &&
    lstatSync(join(storeDir, 'files'), { throwIfNoEntry: false })?.isDirectory() === true;
  if (modules.errors.length || !isStore) return undefined;
  return { storeDir, modules };
}

/** Yarn Berry's global folder on the host, from the host's environment only. */
function yarnGlobalCache(env: NodeJS.ProcessEnv): string | undefined {
  const folder =
    env.YARN_GLOBAL_FOLDER && isAbsolute(env.YARN_GLOBAL_FOLDER)
      ? env.YARN_GLOBAL_FOLDER
      : join(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir(), '.yarn', 'berry');
  const cache = join(folder, 'cache');
  return lstatSync(cache, { throwIfNoEntry: false })?.isDirectory() ? cache : undefined;
}

/** Yarn 1's cache on the host (`<YARN_CACHE_FOLDER or ~/.cache/yarn>/v6`), from the host's environment only. */
function yarnClassicCache(env: NodeJS.ProcessEnv): string | undefined {
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const folder =
    env.YARN_CACHE_FOLDER && isAbsolute(env.YARN_CACHE_FOLDER)
      ? env.YARN_CACHE_FOLDER
      : join(env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(home, '.cache'), 'yarn');
  const cache = join(folder, 'v6');
  return lstatSync(cache, { throwIfNoEntry: false })?.isDirectory() ? cache : undefined;
}

/**
 * The entries of Yarn 1's cache that yarn.lock names: Yarn 1 names an entry after the hash its
 * lockfile's `resolved` URL carries (`npm-<name>-<version>-<sha1>-integrity`). The lockfile is
 * the agent's to write in mount mode: all it can choose is which of the entries already mounted
 * read-only get copied.
 */
function yarnClassicEntries(workspaceRoot: string, cache: string): string[] {
  const text = readRegular(join(workspaceRoot, 'yarn.lock'));
  if (text === undefined) return [];
  const hashes = new Set<string>();
  for (const resolved of yarnLockResolved(text)) {
    const hash = /#([0-9a-f]{40})$/.exec(resolved)?.[1];
    if (hash) hashes.add(hash);
  }
  return readdirSync(cache).filter((name) => name.split('-').some((part) => hashes.has(part)));
}

/**
 * Bounds on reading yarn.lock: a valid lockfile parses at about 0.07 s per MB in some 15 MB of heap
 * per MB; the time allowed is several times that. A heap limit alone stops nothing quickly (a reader
 * at its limit spends seconds collecting garbage before it dies).
 */
const YARN_LOCK_PARSE = { heapMb: 1024, timeoutMs: (bytes: number) => 2000 + Math.ceil((bytes / 1024 / 1024) * 250) };

/**
 * The `resolved` URLs of yarn.lock, read by @yarnpkg/lockfile in a node process of its own, bounded
 * in time and memory: its tokenizer runs a comment or a string that reaches the end of the file on
 * until the string is too long (2 GB, seconds), and splits a conflicted lockfile line by line with
 * Array#shift (quadratic: 0.6 MB took 19 s, 10 MB hours), and up, down and VS Code's
 * initializeCommand all read the file (red team). A lockfile with merge-conflict markers (the
 * library's own test) is refused without parsing: `yarn install` on the host settles it.
 */
function yarnLockResolved(text: string): string[] {
  const refuse = (why: string) => new SandboxError(`yarn.lock could not be read as Yarn 1's lockfile (${why}): run yarn install on the host.`);
  if (text.includes('<<<<<<<') && text.includes('=======') && text.includes('>>>>>>>')) throw refuse('it holds merge-conflict markers');
  const reader = [
    'const { parse } = require(process.argv[1]);',
    'const chunks = []; process.stdin.on("data", (chunk) => chunks.push(chunk)).on("end", () => {',
    '  const lock = parse(Buffer.concat(chunks).toString("utf-8"));',
    '  const resolved = Object.values(lock.object || {}).map((entry) => entry && entry.resolved).filter((value) => typeof value === "string");',
    '  process.stdout.write(JSON.stringify(resolved));',
    '});',
  ].join('\n');
  const timeout = YARN_LOCK_PARSE.timeoutMs(Buffer.byteLength(text));
  const result = spawnSync(process.execPath, [`--max-old-space-size=${YARN_LOCK_PARSE.heapMb}`, '-e', reader, require.resolve('@yarnpkg/lockfile')], {
    input: text,
    // Nothing of this process's environment (NODE_OPTIONS and the like): the reader needs none.
    env: {},
    timeout,
    maxBuffer: 2 * WORKSPACE_FILE_CAP_BYTES,
    encoding: 'utf-8',
  });
  if (result.error && (result.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') throw refuse(`not read within ${timeout / 1000} s`);
  if (result.status !== 0) {
    const said = `${result.stderr ?? ''}`.split('\n').find((line) => /Error|heap/.test(line)) ?? `exit ${result.status ?? result.signal}`;
    throw refuse(visible(said.trim().slice(0, 200)));
  }
  return JSON.parse(result.stdout) as string[];
}

/**
 * What the dev container needs for the workspace's package manager: the release mounted
 * read-only and first on PATH, its store beside the host's node_modules, and where it is inside.
 * `stackState` is this stack's state folder (the rewritten .modules.yaml goes there).
 */
export function planPackageManager(
  workspaceRoot: string,
  stackState: string,
  options: { run?: Runner; env?: NodeJS.ProcessEnv; say?: (line: string) => void; fetch?: boolean } = {},
): PackageManagerPlan {
  const env = options.env ?? process.env;
  const pm = detectWorkspacePackageManager(workspaceRoot);
  const mounts: Mount[] = [];
  const nodeModules = join(workspaceRoot, 'node_modules');
  const environment: Record<string, string> = { DEVSEC_PACKAGE_MANAGER: pm.classic ? 'yarn1' : pm.name };
  const release = ensureRelease(pm, options.run, env, options.fetch ?? true);
  if (release) {
    mounts.push({ source: release, target: PACKAGE_MANAGER_INSIDE, readOnly: true });
    environment.PATH = `${PACKAGE_MANAGER_INSIDE}/bin:${IMAGE_PATH}`;
  } else if (pm.name !== 'npm' && options.fetch !== false) {
    options.say?.(
      `${pm.name} ${pm.version ?? '(no version pinned)'}: pin it in package.json ("packageManager": "${pm.name}@<version>") for the same release inside; the image's is used until then.`,
    );
  }
  if (pm.name === 'pnpm') {
    const store = pnpmStore(workspaceRoot);
    if (store) {
      const inside = join(nodeModules, HOST_PACKAGE_STORES_INSIDE.pnpm.name, basename(store.storeDir));
      mounts.push({ source: store.storeDir, target: `${HOST_PACKAGE_STORES_INSIDE.pnpm.path}/${basename(store.storeDir)}`, readOnly: true });
      store.modules.set('storeDir', inside);
      const rewritten = join(stackState, 'pnpm-modules.yaml');
      writeFileSync(rewritten, store.modules.toString(), { mode: 0o644 });
      chmodSync(rewritten, 0o644);
      mounts.push({ source: rewritten, target: PNPM_MODULES_YAML_INSIDE, readOnly: true });
      environment.npm_config_store_dir = join(nodeModules, HOST_PACKAGE_STORES_INSIDE.pnpm.name);
    } else {
      // No host store to start from: pnpm's own, inside the volume (never the workspace's drive root, which is the host's checkout).
      environment.npm_config_store_dir = join(nodeModules, HOST_PACKAGE_STORES_INSIDE.pnpm.name);
    }
  }
  if (pm.classic) {
    const cache = yarnClassicCache(env);
    const entries = cache ? yarnClassicEntries(workspaceRoot, cache) : [];
    if (cache && entries.length > 0) {
      const list = join(stackState, 'yarn1-cache-entries');
      writeFileSync(list, `${entries.join('\n')}\n`, { mode: 0o644 });
      chmodSync(list, 0o644);
      mounts.push({ source: cache, target: YARN1_CACHE_INSIDE.path, readOnly: true }, { source: list, target: YARN1_CACHE_INSIDE.entries, readOnly: true });
    }
    environment.YARN_CACHE_FOLDER = join(nodeModules, YARN1_CACHE_INSIDE.name);
  }
  if (pm.name === 'yarn' && !pm.classic) {
    const cache = yarnGlobalCache(env);
    if (cache) mounts.push({ source: cache, target: `${HOST_PACKAGE_STORES_INSIDE.yarn.path}/cache`, readOnly: true });
    environment.YARN_GLOBAL_FOLDER = join(nodeModules, HOST_PACKAGE_STORES_INSIDE.yarn.name);
    // Yarn's install state next to what it describes, not in the host's checkout.
    environment.YARN_INSTALL_STATE_PATH = join(nodeModules, '.yarn-install-state.gz');
    environment.YARN_ENABLE_TELEMETRY = '0';
  }
  return { packageManager: pm, mounts, environment };
}
