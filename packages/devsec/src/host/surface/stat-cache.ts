/**
 * The stat cache that makes a re-run of `devsec check` cheap: per file, what lstat said
 * (device, inode, size, mtime, ctime) and the sha256 read then. A file whose stat is unchanged
 * is taken as unchanged, as git's index does; ctime cannot be set from inside the sandbox
 * (utimes sets mtime only), so a write always shows. The hash is used only when it is also the
 * approved one: a file that differs from the snapshot is always read again, for its diff. Files
 * written in the two seconds before the walk are not cached (a second write in the same clock
 * tick would keep the stat). The cache lives next to the snapshot, in the host user's state dir.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { readStateFile, stateDir, writeStateFile } from '../engine/state-dir';
import type { SurfaceEntry } from './list';
import type { FileContent } from './read';

export const STAT_CACHE_FILE = 'stat-cache.json';
const RACY_MS = 2000;

type FileEntry = Extract<SurfaceEntry, { kind: 'file' }>;
type Cached = [key: string, sha256: string];

export function statCacheFile(key: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(['trust', key], env), STAT_CACHE_FILE);
}

export class StatCache {
  private readonly previous: Record<string, Cached>;
  private readonly next = new Map<string, Cached>();
  /** Whether the next walk's cache differs from the one read (a file read, one gone): unchanged, it is not written again. */
  private fresh = false;
  /** Stats taken before a read, by path: what the file was when it was read. */
  private readonly pending = new Map<string, string | undefined>();

  constructor(
    private readonly root: string,
    private readonly approved: Record<string, SurfaceEntry> | undefined,
    previous: Record<string, Cached> = {},
    private readonly startedAt = Date.now(),
  ) {
    this.previous = previous;
  }

  /** Whether the cache to write differs from the one read. */
  get changed(): boolean {
    return this.fresh || this.next.size !== Object.keys(this.previous).length;
  }

  /** The approved entry of rel when its stat is the cached one and the cached hash is the approved one; else undefined (read it). */
  lookup(rel: string, abs: string): Omit<FileEntry, 'rule'> | undefined {
    const stat = lstatSync(abs, { throwIfNoEntry: false });
    if (!stat?.isFile()) return undefined;
    const key = `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
    const racy = stat.mtimeMs >= this.startedAt - RACY_MS || stat.ctimeMs >= this.startedAt - RACY_MS;
    this.pending.set(rel, racy ? undefined : key);
    const cached = Object.hasOwn(this.previous, rel) ? this.previous[rel] : undefined;
    const approved = this.approved && Object.hasOwn(this.approved, rel) ? this.approved[rel] : undefined;
    if (racy || !cached || cached[0] !== key || approved?.kind !== 'file' || approved.sha256 !== cached[1]) return undefined;
    this.next.set(rel, cached);
    const { kind, sha256, size, binary, text } = approved;
    return { kind, sha256, size, binary, text };
  }

  /** What was read of rel, under the stat lookup took before the read. */
  remember(rel: string, content: FileContent): void {
    const key = this.pending.get(rel);
    if (key === undefined) return;
    this.next.set(rel, [key, content.sha256]);
    this.fresh = true;
  }

  toJSON(): { format: 1; root: string; entries: Record<string, Cached> } {
    return { format: 1, root: this.root, entries: Object.fromEntries(this.next) };
  }
}

/** The cache of the last walk of root (empty when there is none, it is of another worktree, or unreadable). */
export function loadStatCache(file: string, root: string, approved: Record<string, SurfaceEntry> | undefined): StatCache {
  let value: unknown;
  try {
    const text = readStateFile(file);
    value = text === undefined ? undefined : JSON.parse(text);
  } catch {
    value = undefined;
  }
  const cache = value as { format?: unknown; root?: unknown; entries?: unknown } | undefined;
  const valid =
    cache?.format === 1 &&
    cache.root === root &&
    typeof cache.entries === 'object' &&
    cache.entries !== null &&
    Object.values(cache.entries).every((item) => Array.isArray(item) && item.length === 2 && item.every((part) => typeof part === 'string'));
  return new StatCache(root, approved, valid ? (cache.entries as Record<string, Cached>) : {});
}

/** Writes the cache when it differs from the one read. */
export function saveStatCache(file: string, cache: StatCache): void {
  if (cache.changed) writeStateFile(file, JSON.stringify(cache));
}
