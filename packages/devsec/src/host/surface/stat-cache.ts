/**
 * The stat cache that makes a re-run of `devsec check` cheap: a compact copy of the approved
 * snapshot (per path, what identifies its content: a file's sha256, a symlink's target, ...),
 * and for each file whose content is the approved one, what lstat said of it when it was read
 * (device, inode, size, mtime, ctime). A file whose stat is unchanged is taken as unchanged, as
 * git's index does; ctime cannot be set from inside the sandbox (utimes sets mtime only), so a
 * write always shows. Files changed in the two seconds before the walk get no stat (a second
 * write in the same clock tick would keep it). When every path of the walk is the cache's, with
 * the same content, nothing changed, and the snapshot (with its texts) is not even read; else
 * the snapshot is read and compared as before. The cache is tied to one snapshot file (its
 * inode, size, mtime and ctime) and one worktree; it lives next to the snapshot, in the host
 * user's state directory, one tab-separated line per path, grouped by folder.
 */
import { createHash } from 'node:crypto';
import { lstatSync, Stats } from 'node:fs';
import { join } from 'node:path';
import { readStateFile, stateDir, writeStateFile } from '../engine/state-dir';
import type { EntryRule, SurfaceEntry } from './list';
import type { Snapshot } from './snapshot';

const HEADER = 'devsec-stat-cache 2';

type FileEntry = Extract<SurfaceEntry, { kind: 'file' }>;
const RACY_MS = 2000;

/** The snapshot's header, enough to name it when nothing changed. */
export type SnapshotHeader = Omit<Snapshot, 'entries'>;

/** What a cached path records: its content's identity, and for a file of the approved content, its stat ('' when none). */
interface Record {
  stat: string;
  /** sha256 of a file, or of what identifies any other entry. */
  id: string;
  /** f: a text file, b: a binary file, x: anything else. */
  flag: string;
}

/** What identifies an entry's content (what `sameEntry` compares). */
export function contentId(entry: SurfaceEntry): string {
  switch (entry.kind) {
    case 'file':
      return entry.sha256;
    case 'directory':
      return createHash('sha256').update(`directory\0${entry.sha256}`).digest('hex');
    case 'symlink':
      return createHash('sha256').update(`symlink\0${entry.target}`).digest('hex');
    default:
      return createHash('sha256').update(`other\0${entry.type}`).digest('hex');
  }
}

/** The state file of a worktree's cache of a repository's snapshot. */
export function statCacheFile(key: string, root: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(['trust', key], env), `stat-cache-${createHash('sha256').update(root).digest('hex').slice(0, 16)}.tsv`);
}

/** What identifies a state file's version (its content is written whole, by rename: a new inode each time). */
export function fileIdentity(path: string): string | undefined {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  return stat?.isFile() ? `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}` : undefined;
}

/** A name is written as a JSON string when it holds a control character, a backslash or a quote, or starts with `/` (a folder line). */
const needsQuoting = (name: string) => {
  if (name.startsWith('/')) return true;
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x22 || code === 0x5c) return true;
  }
  return false;
};
const encode = (name: string) => (needsQuoting(name) ? JSON.stringify(name) : name);
const decode = (name: string) => (name.startsWith('"') ? (JSON.parse(name) as string) : name);
const split = (rel: string): [string, string] => {
  const slash = rel.lastIndexOf('/');
  return slash < 0 ? ['', rel] : [rel.slice(0, slash), rel.slice(slash + 1)];
};

export class StatCache {
  /** By folder, then name: the line's rest (stat, id, flag), split only when looked up. */
  private readonly records: Map<string, Map<string, string>>;
  private readonly count: number;
  /** Stats taken this walk, by path: what each file was when it was read or vouched for. */
  private readonly seen = new Map<string, string>();
  /** The entries lookup vouched for (their path and content are the cache's). */
  private readonly vouched = new WeakSet<SurfaceEntry>();
  /** Whether a file's stat differed from the cached one (the cache is worth writing again). */
  private restated = false;

  constructor(
    /** The header of the snapshot the records copy, when they are of the current one. */
    readonly snapshot: SnapshotHeader | undefined,
    private readonly snapshotId = '',
    records: Map<string, Map<string, string>> = new Map(),
    private readonly startedAt = Date.now(),
  ) {
    this.records = records;
    let count = 0;
    for (const folder of records.values()) count += folder.size;
    this.count = count;
  }

  private record(rel: string): Record | undefined {
    const [folder, name] = split(rel);
    const line = this.records.get(folder)?.get(name);
    if (line === undefined) return undefined;
    const [stat, id, flag] = line.split('\t');
    return { stat, id, flag };
  }

  /** The records of one folder (the walk asks once per folder, then by name). */
  folder(rel: string): Map<string, string> | undefined {
    return this.records.get(rel);
  }

  /** The stat key of a file, or '' when it changed too recently to vouch for it later. */
  private key(stat: Stats): string {
    const racy = stat.mtimeMs >= this.startedAt - RACY_MS || stat.ctimeMs >= this.startedAt - RACY_MS;
    return racy ? '' : `${stat.dev}:${stat.ino}:${stat.size}:${stat.mtimeMs}:${stat.ctimeMs}`;
  }

  /**
   * The entry of the file at rel (named name in a folder whose records are folder) with the
   * approved content, when its stat is the cached one (its text is the snapshot's: the review
   * adds it when it reads the snapshot); else undefined (read it).
   */
  lookup(rel: string, abs: string, rule: EntryRule, folder = this.folder(split(rel)[0]), name = split(rel)[1]): FileEntry | undefined {
    const stat = lstatSync(abs, { throwIfNoEntry: false });
    if (!stat?.isFile()) return undefined;
    const key = this.key(stat);
    this.seen.set(rel, key);
    const line = folder?.get(name);
    if (line === undefined) return undefined;
    // `<stat>\t<sha256>\t<flag>`, the sha256 64 hex digits: no split needed.
    const flag = line.charCodeAt(line.length - 1);
    if (key === '' || line.length !== key.length + 67 || !line.startsWith(key) || line.charCodeAt(key.length) !== 9 || flag === 0x78 /* x */) {
      if (!line.startsWith(`${key}\t`)) this.restated = true;
      return undefined;
    }
    const entry: FileEntry = { kind: 'file', rule, sha256: line.slice(key.length + 1, key.length + 65), size: stat.size, binary: flag === 0x62 /* b */ };
    this.vouched.add(entry);
    return entry;
  }

  /** Whether the walk's entries are exactly the cached snapshot's: same paths, same contents. */
  unchanged(entries: { [path: string]: SurfaceEntry }): boolean {
    if (this.snapshot === undefined) return false;
    let count = 0;
    for (const path in entries) {
      count++;
      const entry = entries[path];
      if (this.vouched.has(entry)) continue;
      const record = this.record(path);
      if (record === undefined || record.id !== contentId(entry)) return false;
    }
    return count === this.count;
  }

  /** Whether writing the cache again would change it. */
  get stale(): boolean {
    return this.snapshot === undefined || this.restated;
  }

  /** The same cache with this walk's stats, when the walk found exactly the cached snapshot (`unchanged`). */
  serializeUnchanged(root: string): string {
    const out = [`${HEADER}\t${JSON.stringify({ root, snapshotId: this.snapshotId, header: this.snapshot })}`];
    for (const [folder, names] of this.records) {
      out.push(`/${encode(folder)}`);
      for (const [name, line] of names) {
        const tab = line.indexOf('\t');
        const stat = this.seen.get(folder === '' ? name : `${folder}/${name}`) ?? '';
        out.push(`${encode(name)}\t${stat}${line.slice(tab)}`);
      }
    }
    return `${out.join('\n')}\n`;
  }

  /**
   * The cache of a snapshot's entries, each file with the stat this walk saw when its content was
   * the approved one (current: what the walk found).
   */
  serialize(root: string, snapshot: Snapshot, snapshotId: string, current: { [path: string]: SurfaceEntry }): string {
    const { entries, ...header } = snapshot;
    const byFolder = new Map<string, string[]>();
    for (const path of Object.keys(entries)) {
      const entry = entries[path];
      const now = Object.hasOwn(current, path) ? current[path] : undefined;
      const same = entry.kind === 'file' && now?.kind === 'file' && now.sha256 === entry.sha256;
      const stat = same ? (this.seen.get(path) ?? '') : '';
      const flag = entry.kind === 'file' ? (entry.binary ? 'b' : 'f') : 'x';
      const [folder, name] = split(path);
      let lines = byFolder.get(folder);
      if (!lines) byFolder.set(folder, (lines = []));
      lines.push(`${encode(name)}\t${stat}\t${contentId(entry)}\t${flag}`);
    }
    const out = [`${HEADER}\t${JSON.stringify({ root, snapshotId, header })}`];
    for (const [folder, lines] of byFolder) out.push(`/${encode(folder)}`, ...lines);
    return `${out.join('\n')}\n`;
  }
}

/**
 * The cache of root's last walk against the snapshot at snapshotFile; empty (nothing vouched
 * for, nothing taken as unchanged) when there is none, it is of another worktree or another
 * snapshot, or it cannot be read.
 */
export function loadStatCache(file: string, root: string, snapshotFile: string): StatCache {
  const empty = new StatCache(undefined);
  let text: string | undefined;
  try {
    text = readStateFile(file);
  } catch {
    return empty;
  }
  if (text === undefined || !text.startsWith(`${HEADER}\t`)) return empty;
  const lines = text.split('\n');
  let meta: { root?: unknown; snapshotId?: unknown; header?: SnapshotHeader };
  try {
    meta = JSON.parse(lines[0].slice(HEADER.length + 1));
  } catch {
    return empty;
  }
  const snapshotId = fileIdentity(snapshotFile);
  if (meta.root !== root || snapshotId === undefined || meta.snapshotId !== snapshotId || typeof meta.header?.approvedAt !== 'string') return empty;
  const records = new Map<string, Map<string, string>>();
  let folder: Map<string, string> | undefined;
  try {
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      if (line === '') continue;
      if (line.startsWith('/')) {
        const name = decode(line.slice(1));
        folder = records.get(name);
        if (!folder) records.set(name, (folder = new Map()));
        continue;
      }
      const tab = line.startsWith('"') ? line.indexOf('"\t') + 1 : line.indexOf('\t');
      if (!folder || tab <= 0) return empty;
      folder.set(decode(line.slice(0, tab)), line.slice(tab + 1));
    }
  } catch {
    return empty;
  }
  return new StatCache(meta.header, snapshotId, records);
}

/** Writes the cache again with this walk's stats, when the walk found exactly the cached snapshot. */
export function saveUnchangedStatCache(file: string, root: string, cache: StatCache): void {
  writeStateFile(file, cache.serializeUnchanged(root));
}

/** Writes the cache of snapshot (just read or just approved) as the walk saw it. */
export function saveStatCache(
  file: string,
  root: string,
  snapshotFile: string,
  snapshot: Snapshot,
  cache: StatCache,
  current: { [path: string]: SurfaceEntry },
): void {
  const snapshotId = fileIdentity(snapshotFile);
  if (snapshotId !== undefined) writeStateFile(file, cache.serialize(root, snapshot, snapshotId, current));
}
