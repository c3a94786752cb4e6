/**
 * The sandbox's branches, seeded from the repository's at each start without running git in the
 * sandbox's git dir (the agent writes there, and git would run what its config names): the host
 * reads its own refs with git, and writes the sandbox's as files of its own making.
 *
 * The rule, per ref of the repository (branches, tags, remote-tracking branches): the sandbox's ref
 * follows the host's value when the sandbox has none, or still holds the value seeded last time
 * (recorded outside the mounted git dir, where only the host writes). A ref the agent moved is
 * kept: its work waits for `devsec fetch`. The host writes only `packed-refs`, one file at the
 * top of the git dir, created anew; a loose ref file that still holds the seeded value is removed
 * so the packed value shows, reached through file descriptors (LooseRefs), never a path the agent
 * could swap for a symlink meanwhile. A ref the host deleted goes from the sandbox too, unless the
 * agent moved it.
 */
import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
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

/**
 * A loose ref file of the sandbox's, reached folder by folder through file descriptors (Linux's
 * /proc/self/fd), never following a symlink: what the agent swaps in meanwhile cannot aim the
 * host anywhere else. Where there is no /proc/self/fd, loose refs are read and kept, never removed.
 */
export class LooseRefs {
  readonly canRemove = existsSync('/proc/self/fd');

  constructor(private readonly privateDir: string) {}

  /** The folder holding `name`'s file, as an open descriptor, and the file's own name; undefined when a folder on the way is not a real one. */
  private openParent(name: string): { fd: number; leaf: string } | 'missing' | 'other' {
    const parts = name.split('/');
    const leaf = parts.pop()!;
    let fd = openSync(this.privateDir, constants.O_RDONLY | constants.O_DIRECTORY);
    for (const part of parts) {
      let next: number;
      try {
        next = openSync(`/proc/self/fd/${fd}/${part}`, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      } catch (error) {
        closeSync(fd);
        return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'other';
      }
      closeSync(fd);
      fd = next;
    }
    return { fd, leaf };
  }

  /**
   * What the sandbox has at `name` as a loose ref: absent, an object id, or `other` (anything
   * else: a symlink, a folder, garbage — the agent's, kept).
   */
  read(name: string): { present: false } | { present: true; value: string | 'other' } {
    if (!this.canRemove) {
      try {
        if (lstatSync(join(this.privateDir, name), { throwIfNoEntry: false }) === undefined) return { present: false };
      } catch {
        return { present: true, value: 'other' };
      }
      const text = readOwnFile(join(this.privateDir, name), 200)?.trim();
      return { present: true, value: text !== undefined && isObjectId(text) ? text : 'other' };
    }
    const parent = this.openParent(name);
    if (parent === 'missing') return { present: false };
    // A file where a folder should be, or a symlinked folder: something of the agent's at that name.
    if (parent === 'other') return { present: true, value: 'other' };
    try {
      const path = `/proc/self/fd/${parent.fd}/${parent.leaf}`;
      if (lstatSync(path, { throwIfNoEntry: false }) === undefined) return { present: false };
      const text = readOwnFile(path, 200)?.trim();
      return { present: true, value: text !== undefined && isObjectId(text) ? text : 'other' };
    } finally {
      closeSync(parent.fd);
    }
  }

  /** Removes the loose ref file `name` (only the name: never what a link there leads to). */
  remove(name: string): void {
    const parent = this.openParent(name);
    if (typeof parent === 'string') return;
    try {
      rmSync(`/proc/self/fd/${parent.fd}/${parent.leaf}`, { force: true });
    } finally {
      closeSync(parent.fd);
    }
  }
}

export interface SeedPlan {
  /** The sandbox's packed-refs, as the host writes it anew. */
  packed: Map<string, string>;
  /** The host's refs that the sandbox follows no more: the agent moved them. */
  kept: string[];
  /** Names whose value the seeding changed. */
  changed: Set<string>;
  /** Loose ref files that still hold what was seeded last time, to remove so the packed value shows. */
  removeLoose: string[];
}

/**
 * The sandbox's refs after this start: `host` the repository's refs now, `sandboxPacked` the
 * sandbox's packed-refs as it is (the agent's data), `record` what was seeded last time.
 */
export function planSeed(
  loose: Pick<LooseRefs, 'read' | 'canRemove'>,
  host: Map<string, string>,
  sandboxPacked: Map<string, string>,
  record: SeedRecord | undefined,
): SeedPlan {
  const packed = new Map(sandboxPacked);
  const kept: string[] = [];
  const changed = new Set<string>();
  const removeLoose: string[] = [];
  const last = record?.refs ?? {};
  for (const name of new Set([...host.keys(), ...Object.keys(last)])) {
    const hostValue = host.get(name);
    const file = loose.read(name);
    // What the sandbox's git sees now: the loose file over the packed line.
    const now = file.present ? file.value : packed.get(name);
    const moved = now !== undefined && now !== last[name];
    if (moved || (file.present && !loose.canRemove)) {
      if (hostValue !== undefined && hostValue !== now) kept.push(name);
      continue;
    }
    if (hostValue === now) continue;
    changed.add(name);
    if (file.present) removeLoose.push(name);
    if (hostValue === undefined) packed.delete(name);
    else packed.set(name, hostValue);
  }
  return { packed, kept, changed, removeLoose };
}
