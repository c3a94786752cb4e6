/**
 * One review of a workspace's host-executed surface: its repository, the walk, the approved
 * snapshot and what changed since. `devsec check` and `devsec trust` print it; the executors'
 * summary asks `changedSinceReview` for a count only.
 */
import { realpathSync } from 'node:fs';
import { readRepository, Repository, repositoryKey } from './repository';
import { scanSurface, ScanOptions, SurfaceEntry, SurfaceScan } from './list';
import { compareSurface, loadSnapshot, makeSnapshot, saveSnapshot, Snapshot, snapshotFile, SurfaceChange } from './snapshot';
import { loadStatCache, saveStatCache, saveUnchangedStatCache, StatCache, statCacheFile } from './stat-cache';

/** How `devsec check` names a gitlink into a repository the agent made. */
export { describeUnsafeGitlink } from '../git/gitlinks';

export interface SurfaceReview {
  root: string;
  layout: Repository;
  /** The snapshot's file in the host user's state directory. */
  file: string;
  scan: SurfaceScan;
  /**
   * The approved snapshot; undefined when nothing was approved yet for this repository. When the
   * stat cache shows nothing changed, only its header is read (entries then empty: nothing to compare).
   */
  approved?: Snapshot;
  changes: SurfaceChange[];
  /** The walk's stats, and where they are kept for the next walk. */
  cache: { file: string; stats: StatCache };
}

/** The command that shows what changed (README, "devsec check"). */
export const REVIEW_COMMAND = 'devsec check';

export function reviewSurface(workspaceRoot: string, options: ScanOptions = {}): SurfaceReview {
  const env = options.env ?? process.env;
  const root = realpathSync(workspaceRoot);
  const layout = readRepository(root);
  const key = repositoryKey(layout);
  const file = snapshotFile(key, env);
  const cacheFile = statCacheFile(key, root, env);
  const cache = loadStatCache(cacheFile, root, file);
  const scan = scanSurface(root, layout, { ...options, env, cache });
  // Every path and content the cached snapshot's: nothing changed, and its texts need not be read.
  if (cache.snapshot && cache.unchanged(scan.entries)) {
    const approved: Snapshot = { ...cache.snapshot, entries: Object.create(null) };
    if (cache.stale) saveUnchangedStatCache(cacheFile, root, cache);
    return { root, layout, file, scan, approved, changes: [], cache: { file: cacheFile, stats: cache } };
  }
  const approved = loadSnapshot(file);
  if (approved) {
    fillFromSnapshot(scan.entries, approved.entries);
    saveStatCache(cacheFile, root, file, approved, cache, scan.entries);
  }
  const changes = approved ? compareSurface(approved.entries, scan.entries) : [];
  return { root, layout, file, scan, approved, changes, cache: { file: cacheFile, stats: cache } };
}

/** The text of each file the stat cache vouched for, from the snapshot whose content it is (it kept no text). */
function fillFromSnapshot(current: Record<string, SurfaceEntry>, approved: Record<string, SurfaceEntry>): void {
  for (const path of Object.keys(current)) {
    const entry = current[path];
    const before = Object.hasOwn(approved, path) ? approved[path] : undefined;
    if (entry.kind === 'file' && entry.text === undefined && before?.kind === 'file' && before.sha256 === entry.sha256 && before.text !== undefined)
      current[path] = { ...entry, text: before.text, binary: before.binary };
  }
}

/** Records what this review saw (not a new walk: the user approves exactly what was shown). */
export function approveSurface(review: SurfaceReview, now = new Date()): Snapshot {
  const snapshot = makeSnapshot(review.scan, review.layout, review.root, now);
  saveSnapshot(review.file, snapshot);
  saveStatCache(review.cache.file, review.root, review.file, snapshot, review.cache.stats, review.scan.entries);
  return snapshot;
}

/**
 * For the executors' summary: how many files of the surface changed since the last approval,
 * and the command that shows them; undefined when none did. No diff is made and no snapshot
 * is written. With no approval yet, every file counts (the first `devsec check` records them as the
 * baseline). Throws the DevsecError `devsec check` would print (a `.git` that is not git's layout,
 * an unreadable snapshot): a tampered layout must be shown, not read as "nothing changed".
 */
export function changedSinceReview(workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): { count: number; command: string } | undefined {
  const review = reviewSurface(workspaceRoot, { env });
  const count = review.approved ? review.changes.length : Object.keys(review.scan.entries).length;
  return count > 0 ? { count, command: REVIEW_COMMAND } : undefined;
}
