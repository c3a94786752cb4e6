/**
 * The last approved snapshot of the host-executed surface: per path its kind and sha256 (a
 * symlink's target text), and for text files their content, the host's own trusted copy that a
 * later diff is shown against. It lives in the host user's state directory
 * (`<state>/trust/<repository key>/snapshot.json`), outside every workspace and git directory, so
 * the agent can neither read what was approved nor approve anything itself.
 */
import { join } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { readStateFile, stateDir, writeStateFile } from '../engine/state-dir';
import { visible } from '../../sandbox/visible';
import { Repository } from './repository';
import { HOST_EXECUTED_SURFACE, OTHER_RULE, SurfaceEntry, SurfaceScan } from './list';

export const SNAPSHOT_FILE = 'snapshot.json';
/** Text kept across all files of one snapshot; past it, files are kept as hashes (their later diffs become one-line notes). */
export const SNAPSHOT_TEXT_BUDGET = 32 * 1024 * 1024;

export interface Snapshot {
  format: 1;
  /** The repository's common git dir, which the key is derived from. */
  repository: string;
  approvedAt: string;
  /** The worktree it was approved in. */
  approvedFrom: string;
  entries: Record<string, SurfaceEntry>;
}

export type SurfaceChange =
  | { path: string; type: 'added'; after: SurfaceEntry }
  | { path: string; type: 'deleted'; before: SurfaceEntry }
  | { path: string; type: 'changed'; before: SurfaceEntry; after: SurfaceEntry };

/** Where a repository's snapshot lives (its folder is created 0700 if missing). */
export function snapshotFile(key: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(['trust', key], env), SNAPSHOT_FILE);
}

/** The approved snapshot, or undefined when none was approved yet. */
export function loadSnapshot(file: string): Snapshot | undefined {
  const text = readStateFile(file);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  if (!isSnapshot(value)) {
    throw new SandboxError(
      `${file} is not a snapshot @org/devsec can read. Delete it, then run \`devsec check\` to record a new baseline (and review every file it lists).`,
    );
  }
  return value;
}

/** The snapshot of a scan, its text kept within SNAPSHOT_TEXT_BUDGET: the files of the list first, then the others. */
export function makeSnapshot(scan: SurfaceScan, layout: Repository, root: string, now = new Date()): Snapshot {
  let budget = SNAPSHOT_TEXT_BUDGET;
  // No prototype: a symlink named __proto__ must be recorded, not set the object's prototype.
  const entries: Record<string, SurfaceEntry> = Object.create(null);
  const all = Object.entries(scan.entries);
  const ordered = [...all.filter(([, entry]) => entry.rule !== OTHER_RULE), ...all.filter(([, entry]) => entry.rule === OTHER_RULE)];
  for (const [path, entry] of ordered) {
    if (entry.kind === 'file' && entry.text !== undefined) {
      budget -= entry.text.length;
      entries[path] = budget >= 0 ? entry : { ...entry, text: undefined };
    } else entries[path] = entry;
  }
  return { format: 1, repository: layout.commonDir, approvedAt: now.toISOString(), approvedFrom: root, entries };
}

export function saveSnapshot(file: string, snapshot: Snapshot): void {
  writeStateFile(file, `${JSON.stringify(snapshot)}\n`);
}

/** Whether two records of a path say the same thing (text is a copy, the hash decides). */
export function sameEntry(a: SurfaceEntry, b: SurfaceEntry): boolean {
  if (a.kind === 'file' && b.kind === 'file') return a.sha256 === b.sha256;
  if (a.kind === 'symlink' && b.kind === 'symlink') return a.target === b.target;
  if (a.kind === 'directory' && b.kind === 'directory') return a.sha256 === b.sha256;
  if (a.kind === 'other' && b.kind === 'other') return a.type === b.type;
  return false;
}

/** What changed from the approved entries to the current ones, by path. */
export function compareSurface(approved: Record<string, SurfaceEntry>, current: Record<string, SurfaceEntry>): SurfaceChange[] {
  const changes: SurfaceChange[] = [];
  for (const path of Object.keys(current)) {
    const after = current[path];
    const before = Object.hasOwn(approved, path) ? approved[path] : undefined;
    if (!before) changes.push({ path, type: 'added', after });
    else if (!sameEntry(before, after)) changes.push({ path, type: 'changed', before, after });
  }
  for (const path of Object.keys(approved)) {
    if (!Object.hasOwn(current, path)) changes.push({ path, type: 'deleted', before: approved[path] });
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

const RULES = new Set<string>([...HOST_EXECUTED_SURFACE.map((rule) => rule.id), OTHER_RULE]);
const isString = (value: unknown): value is string => typeof value === 'string';
const optionalString = (value: unknown) => value === undefined || isString(value);

function isEntry(value: unknown): value is SurfaceEntry {
  if (typeof value !== 'object' || value === null) return false;
  const entry = value as Record<string, unknown>;
  if (!isString(entry.rule) || !RULES.has(entry.rule)) return false;
  switch (entry.kind) {
    case 'file':
      return isString(entry.sha256) && typeof entry.size === 'number' && typeof entry.binary === 'boolean' && optionalString(entry.text);
    case 'symlink':
      return isString(entry.target);
    case 'directory':
      return isString(entry.sha256) && optionalString(entry.text);
    case 'other':
      return isString(entry.type);
    default:
      return false;
  }
}

function isSnapshot(value: unknown): value is Snapshot {
  if (typeof value !== 'object' || value === null) return false;
  const snapshot = value as Record<string, unknown>;
  const entries = snapshot.entries;
  return (
    snapshot.format === 1 &&
    isString(snapshot.repository) &&
    isString(snapshot.approvedAt) &&
    isString(snapshot.approvedFrom) &&
    typeof entries === 'object' &&
    entries !== null &&
    Object.values(entries).every(isEntry)
  );
}

/** One line naming the snapshot, for headers. */
export function describeSnapshot(snapshot: Snapshot): string {
  return `the snapshot approved ${snapshot.approvedAt} in ${visible(snapshot.approvedFrom)}`;
}
