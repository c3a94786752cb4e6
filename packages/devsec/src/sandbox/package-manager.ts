/**
 * Which package manager a workspace uses, read from its files as data: the lockfile says which
 * (`pnpm-lock.yaml`, `yarn.lock`, else npm), the `packageManager` field of package.json at which
 * version. Yarn Berry's Plug'n'Play keeps no node_modules at all, so there is nothing for the
 * sandbox's volume to hold: refused with the setting that changes it. Every string here may have
 * been written by the agent (the workspace is its to write in mount mode): what the host does
 * with it is only fetch a package of an exact name and version from the registry, never run it.
 */
import { parse } from 'yaml';
import { SandboxError } from './errors';
import { visible } from './visible';

export type PackageManagerName = 'npm' | 'pnpm' | 'yarn';

export interface PackageManager {
  name: PackageManagerName;
  /** The exact version the workspace pins (`packageManager`), when it pins one. */
  version?: string;
  /** The hash corepack would check (`+sha512.<hex>`), when the field carries one. */
  hash?: { algorithm: 'sha1' | 'sha224' | 'sha256' | 'sha512'; hex: string };
  /** Yarn 1 (classic): node_modules always, its own cache, `--frozen-lockfile` rather than `--immutable`. */
  classic?: boolean;
  /** What told us (for messages). */
  from: string;
}

/** The files detection reads, each undefined when absent. */
export interface WorkspaceFiles {
  packageJson?: string;
  pnpmLock: boolean;
  yarnLock: boolean;
  /** Whether yarn.lock is Yarn 1's (its `# yarn lockfile v1` line). */
  yarnLockV1?: boolean;
  packageLock: boolean;
  yarnrc?: string;
}

/** How detection reads a workspace (the host's folder, or a generator's Tree): a file's text, undefined when absent, and whether one is there. */
export interface WorkspaceReader {
  read: (path: string) => string | undefined;
  exists: (path: string) => boolean;
}

/** The files detection reads, through `reader`. */
export function readWorkspaceFiles({ read, exists }: WorkspaceReader): WorkspaceFiles {
  const yarnLock = read('yarn.lock');
  return {
    packageJson: read('package.json'),
    pnpmLock: exists('pnpm-lock.yaml'),
    yarnLock: yarnLock !== undefined,
    yarnLockV1: yarnLock?.split('\n', 5).some((line) => line.trim() === '# yarn lockfile v1') === true,
    packageLock: exists('package-lock.json'),
    yarnrc: read('.yarnrc.yml'),
  };
}

/** An exact release: nothing that npm would read as a range, a tag, a path or a git URL. */
const EXACT_VERSION = /^\d{1,6}\.\d{1,6}\.\d{1,6}(-[0-9A-Za-z.-]{1,40})?$/;
const FIELD = /^(npm|pnpm|yarn)@([^+]+)(?:\+(sha1|sha224|sha256|sha512)\.([0-9a-f]{40,128}))?$/;

/** The `packageManager` field, strictly: `name@x.y.z` with an optional `+sha512.<hex>`. */
export function parsePackageManagerField(value: unknown): Omit<PackageManager, 'from'> | undefined {
  if (value === undefined) return undefined;
  const match = typeof value === 'string' ? FIELD.exec(value) : null;
  if (!match || !EXACT_VERSION.test(match[2])) {
    throw new SandboxError(
      `package.json's "packageManager" is ${visible(JSON.stringify(value) ?? String(value))}: @org/devsec reads only an exact release ` +
        '("pnpm@10.26.0", "yarn@4.12.0", "npm@10.9.2", optionally with "+sha512.<hex>"), as corepack does.',
    );
  }
  const [, name, version, algorithm, hex] = match;
  return {
    name: name as PackageManagerName,
    version,
    ...(algorithm ? { hash: { algorithm: algorithm as NonNullable<PackageManager['hash']>['algorithm'], hex } } : {}),
  };
}

/** Yarn's linker as `.yarnrc.yml` sets it (Yarn 2+ defaults to Plug'n'Play). */
function yarnLinker(yarnrc: string | undefined): string {
  if (yarnrc === undefined) return 'pnp';
  let model: unknown;
  try {
    model = parse(yarnrc);
  } catch (error) {
    throw new SandboxError(`.yarnrc.yml is not YAML (${visible((error as Error).message.split('\n')[0])}).`);
  }
  const linker = model && typeof model === 'object' ? (model as Record<string, unknown>).nodeLinker : undefined;
  return typeof linker === 'string' ? linker : 'pnp';
}

/** Whether a Yarn version is Yarn 1 (classic), which has node_modules and no `.yarnrc.yml`. */
const isClassic = (version: string | undefined) => version !== undefined && version.startsWith('1.');

export function detectPackageManager(files: WorkspaceFiles): PackageManager {
  let manifest: Record<string, unknown> = {};
  if (files.packageJson !== undefined) {
    try {
      const parsed: unknown = JSON.parse(files.packageJson);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) manifest = parsed as Record<string, unknown>;
    } catch {
      throw new SandboxError("The workspace's package.json is not JSON.");
    }
  }
  const pinned = parsePackageManagerField(manifest.packageManager);
  const byLockfile: PackageManagerName | undefined = files.pnpmLock ? 'pnpm' : files.yarnLock ? 'yarn' : files.packageLock ? 'npm' : undefined;
  const locks = [files.pnpmLock && 'pnpm-lock.yaml', files.yarnLock && 'yarn.lock', files.packageLock && 'package-lock.json'].filter(Boolean);
  if (locks.length > 1 && !pinned) {
    throw new SandboxError(`The workspace has ${locks.join(' and ')}: say which package manager it uses in package.json ("packageManager": "pnpm@<version>").`);
  }
  if (pinned && byLockfile && pinned.name !== byLockfile && locks.length === 1) {
    throw new SandboxError(
      `package.json says "packageManager": "${pinned.name}@${pinned.version}" but the lockfile is ${locks[0]}: make them agree (remove the stale one) and run again.`,
    );
  }
  const name = pinned?.name ?? byLockfile ?? 'npm';
  const from = pinned ? `package.json "packageManager"` : locks.length === 1 ? String(locks[0]) : 'no lockfile (npm)';
  const classic = pinned ? isClassic(pinned.version) : files.yarnLockV1 === true;
  if (name === 'yarn' && !classic) {
    const linker = yarnLinker(files.yarnrc);
    if (linker !== 'node-modules') {
      throw new SandboxError(
        `This workspace uses Yarn with nodeLinker: ${visible(linker)}${files.yarnrc === undefined ? " (no .yarnrc.yml: Yarn 2+ defaults to Plug'n'Play)" : ''}. ` +
          "@org/devsec's sandbox keeps node_modules in a volume of its own, which Plug'n'Play does not use. " +
          'Add `nodeLinker: node-modules` to .yarnrc.yml, run `yarn install` on the host, then start again.',
      );
    }
  }
  return {
    name,
    ...(pinned ? { version: pinned.version } : {}),
    ...(pinned?.hash ? { hash: pinned.hash } : {}),
    ...(name === 'yarn' && classic ? { classic: true } : {}),
    from,
  };
}
