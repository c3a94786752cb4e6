/**
 * The sandbox's branches, seeded from the repository's at each start without running git in the
 * sandbox's git dir (the agent writes there, and git would run what its config names): the host
 * reads its own refs with git, and writes the sandbox's as files of its own making.
 *
 * The rule, per ref of the repository (branches, tags, remote-tracking branches): the sandbox's ref
 * follows the host's value when the sandbox has none, or still holds the value seeded last time
 * (recorded outside the mounted git dir, where only the host writes). A ref the agent moved is
 * kept: its work waits for `devsec fetch`. A loose ref file in the sandbox is always the agent's
 * (the host writes only `packed-refs`, one file at the top of the git dir, created anew — never a
 * file below folders the agent could swap for a symlink meanwhile), so it is kept as it is.
 * A ref the host deleted goes from the sandbox too, unless the agent moved it.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { runCommand, Runner } from '../engine/run';
import { WorktreeError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

/** What the sandbox's refs follow. */
export const SEEDED_NAMESPACES = ['refs/heads/', 'refs/tags/', 'refs/remotes/'];

const OBJECT_ID = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

export const isObjectId = (value: string): boolean => OBJECT_ID.test(value);

/**
 * `git check-ref-format` of a full ref name (`refs/…`), as git's documentation states the rules;
 * checked against git itself in the spec.
 */
export function isValidRefName(name: string): boolean {
  if (!name.startsWith('refs/') || name.length > 4096) return false;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  if (name.includes('..') || name.includes('@{') || name.includes('//') || name.endsWith('/') || name.endsWith('.')) return false;
  return name.split('/').every((part) => part !== '' && !part.startsWith('.') && !part.endsWith('.lock'));
}

/** The repository's refs in the seeded namespaces, read by git from the host's own repository. */
export function readHostRefs(commonDir: string, run: Runner = runCommand): Map<string, string> {
  const result = run('git', ['--git-dir', commonDir, 'for-each-ref', '--format=%(objectname) %(refname)', ...SEEDED_NAMESPACES.map((ns) => ns.slice(0, -1))]);
  if (result.status !== 0) throw new WorktreeError(`git for-each-ref in ${visible(commonDir)} failed: ${visible(result.stderr.trim())}`);
  const refs = new Map<string, string>();
  for (const line of result.stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0) continue;
    const [id, name] = [line.slice(0, space), line.slice(space + 1)];
    if (isObjectId(id) && isValidRefName(name)) refs.set(name, id);
  }
  return refs;
}

/** At most `limit` bytes of a regular file, never through a symlink; undefined when it is not one. */
export function readOwnFile(path: string, limit: number): string | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile() || stat.size > limit) return undefined;
    const buffer = Buffer.alloc(stat.size);
    let read = 0;
    while (read < stat.size) {
      const n = readSync(fd, buffer, read, stat.size - read, read);
      if (n === 0) break;
      read += n;
    }
    return buffer.subarray(0, read).toString('utf-8');
  } finally {
    closeSync(fd);
  }
}

/** A packed-refs file's refs (peeled lines dropped): what is not a valid line is left out. */
export function parsePackedRefs(text: string | undefined): Map<string, string> {
  const refs = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    if (line.startsWith('#') || line.startsWith('^')) continue;
    const space = line.indexOf(' ');
    const [id, name] = [line.slice(0, space), line.slice(space + 1)];
    if (space > 0 && isObjectId(id) && isValidRefName(name)) refs.set(name, id);
  }
  return refs;
}

/** packed-refs as git reads it: sorted by name, bytewise; no peeled values (git peels itself). */
export function formatPackedRefs(refs: Map<string, string>): string {
  const names = [...refs.keys()].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return ['# pack-refs with: sorted ', ...names.map((name) => `${refs.get(name)} ${name}`)].join('\n') + '\n';
}

/** What the host seeded last time: the host's refs and HEAD as they were then. */
export interface SeedRecord {
  head: string;
  refs: Record<string, string>;
}

export function readSeedRecord(path: string): SeedRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(path, 'utf-8')) as SeedRecord;
    if (typeof record?.head === 'string' && typeof record.refs === 'object' && record.refs !== null) return record;
  } catch {
    // none, or unreadable: as if never seeded
  }
  return undefined;
}

/** Whether the sandbox has a loose ref file (or anything else) at that name: then it is the agent's. */
function hasLoose(privateDir: string, name: string): boolean {
  try {
    return lstatSync(join(privateDir, name), { throwIfNoEntry: false }) !== undefined;
  } catch {
    // A file where a folder should be: the agent's doing, its ref to keep.
    return true;
  }
}

export interface SeedPlan {
  /** The sandbox's packed-refs, as the host writes it anew. */
  packed: Map<string, string>;
  /** The host's refs that the sandbox follows no more: the agent moved them. */
  kept: string[];
  /** Names whose value the seeding changed. */
  changed: Set<string>;
}

/**
 * The sandbox's refs after this start: `host` the repository's refs now, `sandboxPacked` the
 * sandbox's packed-refs as it is (the agent's data), `record` what was seeded last time.
 */
export function planSeed(privateDir: string, host: Map<string, string>, sandboxPacked: Map<string, string>, record: SeedRecord | undefined): SeedPlan {
  const packed = new Map(sandboxPacked);
  const kept: string[] = [];
  const changed = new Set<string>();
  const last = record?.refs ?? {};
  for (const name of new Set([...host.keys(), ...Object.keys(last)])) {
    const hostValue = host.get(name);
    if (hasLoose(privateDir, name)) {
      if (hostValue !== undefined) kept.push(name);
      continue;
    }
    const now = packed.get(name);
    if (now !== undefined && now !== last[name]) {
      if (hostValue !== now) kept.push(name);
      continue;
    }
    if (hostValue === now) continue;
    changed.add(name);
    if (hostValue === undefined) packed.delete(name);
    else packed.set(name, hostValue);
  }
  return { packed, kept, changed };
}
