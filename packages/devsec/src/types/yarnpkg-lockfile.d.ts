/** Yarn 1's own lockfile parser (a dependency of nx itself), which ships no types: what we read of it. */
declare module '@yarnpkg/lockfile' {
  export interface LockfileEntry {
    version?: string;
    resolved?: string;
    integrity?: string;
  }
  export function parse(text: string): { type: 'success' | 'merge' | 'conflict'; object: Record<string, LockfileEntry> };
}
