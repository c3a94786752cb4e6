/**
 * What the plugin inferred, by a hash of everything it was inferred from (options, plugin
 * version, file contents), kept in Nx's workspace data directory like @nx/docker's cache: a
 * graph rebuild with unchanged files parses nothing and loads no YAML parser.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';

export function hashOf(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

/** Where Nx keeps its project graph and plugins keep theirs (nx's workspaceDataDirectory, which @nx/devkit does not export). */
export function workspaceDataDirectory(workspaceRoot: string): string {
  const configured = process.env.NX_WORKSPACE_DATA_DIRECTORY ?? process.env.NX_PROJECT_GRAPH_CACHE_DIRECTORY;
  if (configured) return isAbsolute(configured) ? configured : join(workspaceRoot, configured);
  if (existsSync(join(workspaceRoot, 'lerna.json')) && !existsSync(join(workspaceRoot, 'nx.json'))) {
    return join(workspaceRoot, 'node_modules', '.cache', 'nx-workspace-data');
  }
  return join(workspaceRoot, '.nx', 'workspace-data');
}

/** Entries seen in one graph computation are the ones written back: the file never grows stale. */
export class InferenceCache<T> {
  private readonly entries: Record<string, T>;
  private readonly used: Record<string, T> = {};
  private changed = false;

  constructor(private readonly path: string) {
    this.entries = (memory.get(path) as Record<string, T> | undefined) ?? read<T>(path);
    memory.set(path, this.entries);
  }

  get(key: string): T | undefined {
    if (!(key in this.entries)) return undefined;
    this.used[key] = this.entries[key];
    return this.entries[key];
  }

  set(key: string, value: T): T {
    this.entries[key] = this.used[key] = value;
    this.changed = true;
    return value;
  }

  /** Writes the entries used this time, if any was new or any went unused. */
  save(): void {
    if (!this.changed && Object.keys(this.used).length === Object.keys(this.entries).length) return;
    memory.set(this.path, { ...this.used });
    try {
      mkdirSync(join(this.path, '..'), { recursive: true });
      writeFileSync(this.path, JSON.stringify(this.used));
    } catch {
      // A read-only workspace: the cache is an optimisation only.
    }
  }
}

/** The daemon's plugin worker lives on: keep what was read, keyed by file. */
const memory = new Map<string, Record<string, unknown>>();

function read<T>(path: string): Record<string, T> {
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf-8'));
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** Tests: forget what this process read, as a new process would. */
export function forgetInferenceMemory(): void {
  memory.clear();
}
