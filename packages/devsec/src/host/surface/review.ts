/**
 * One review of a workspace's host-executed surface: its repository, the walk, the approved
 * snapshot and what changed since. `devsec check` and `devsec trust` print it; the executors'
 * summary asks `changedSinceReview` for a count only.
 */
import { realpathSync } from 'node:fs';
import { readRepository, Repository, repositoryKey } from './repository';
import { scanSurface, ScanOptions, SurfaceScan } from './list';
import { compareSurface, loadSnapshot, makeSnapshot, saveSnapshot, Snapshot, snapshotFile, SurfaceChange } from './snapshot';
import { loadStatCache, saveStatCache, StatCache, statCacheFile } from './stat-cache';

/** How `devsec check` names a gitlink into a repository the agent made. */
export { describeUnsafeGitlink } from '../git/gitlinks';

export interface SurfaceReview {
  root: string;
  layout: Repository;
  /** The snapshot's file in the host user's state directory. */
  file: string;
  scan: SurfaceScan;
  /** Undefined when nothing was approved yet for this repository. */
  approved?: Snapshot;
  changes: SurfaceChange[];
  /** What the walk's stats and hashes were, and where they are kept for the next one. */
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
  const approved = loadSnapshot(file);
  const cacheFile = statCacheFile(key, env);
  const cache = loadStatCache(cacheFile, root, approved?.entries);
  const scan = scanSurface(root, layout, { ...options, env, cache });
  // With nothing approved the cache serves nothing (it only vouches for approved hashes): nothing is written then.
  if (approved) saveStatCache(cacheFile, cache);
  const changes = approved ? compareSurface(approved.entries, scan.entries) : [];
  return { root, layout, file, scan, approved, changes, cache: { file: cacheFile, stats: cache } };
}

/** Records what this review saw (not a new walk: the user approves exactly what was shown). */
export function approveSurface(review: SurfaceReview, now = new Date()): Snapshot {
  const snapshot = makeSnapshot(review.scan, review.layout, review.root, now);
  saveSnapshot(review.file, snapshot);
  saveStatCache(review.cache.file, review.cache.stats);
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
