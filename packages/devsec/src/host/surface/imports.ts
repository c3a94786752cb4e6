/**
 * What a local Nx plugin or task runner loads: the files it imports, transitively. Nx loads the
 * plugin in-process on every graph computation, so each file it reaches runs on the host. Read
 * with TypeScript's own import scanner (`preProcessFile`: `import`, `export … from`, `import()`,
 * `require()`), never run. Relative specifiers resolve as Node and TypeScript resolve them; a
 * bare one to a package in a node_modules below the root (the agent's) or to the workspace's own
 * package (a tsconfig path alias, a link in the root node_modules) — a whole folder then.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { dirname, join, relative, isAbsolute, sep } from 'node:path';
import type * as Typescript from 'typescript';
import { readSmallText } from './read';

const EXTENSIONS = ['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs', '.json'];
const CODE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
/** Files traced at most, so a hostile plugin cannot make the check slow: past it, a note. */
export const MAX_TRACED_FILES = 5000;

/** TypeScript is loaded only when there is a local plugin to trace: it costs 200 ms and more to load. */
let typescript: typeof Typescript | undefined;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const importedFiles = (text: string) => (typescript ??= require('typescript') as typeof Typescript).preProcessFile(text, true, true).importedFiles;

const posix = (path: string) => path.split(sep).join('/');
const kind = (abs: string) => {
  const stat = lstatSync(abs, { throwIfNoEntry: false });
  return !stat ? 'missing' : stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : stat.isFile() ? 'file' : 'other';
};

export interface TracedImports {
  /** Files (relative to the root) a plugin reaches. */
  files: string[];
  /** Folders (relative to the root) of packages it reaches: every file in them is on the surface. */
  folders: string[];
  notes: string[];
}

/** The file a relative or absolute specifier names, as Node and TypeScript try it: as is, with an extension, as a folder's index. */
function resolveFile(abs: string): string | undefined {
  // TypeScript's ESM style: `./x.js` written for `./x.ts`.
  const stripped = abs.replace(/\.(m|c)?js$/, '');
  const candidates = [abs, ...EXTENSIONS.map((ext) => abs + ext), ...['.ts', '.tsx', '.mts', '.cts'].map((ext) => stripped + ext)];
  for (const candidate of candidates) if (['file', 'symlink'].includes(kind(candidate))) return candidate;
  if (kind(abs) === 'directory') {
    for (const ext of EXTENSIONS) if (kind(join(abs, `index${ext}`)) === 'file') return join(abs, `index${ext}`);
  }
  return undefined;
}

/** Every code file at or below a folder (at most cap). */
export function codeFiles(abs: string, cap = MAX_TRACED_FILES): string[] {
  const out: string[] = [];
  const queue = [abs];
  for (let next = 0; next < queue.length && out.length < cap; next++) {
    let entries;
    try {
      entries = readdirSync(queue[next], { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const path = join(queue[next], entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== '.git') queue.push(path);
      else if (entry.isFile() && CODE.test(entry.name)) out.push(path);
    }
  }
  return out;
}

/**
 * The files and package folders reachable from the start files (absolute), inside root.
 * resolveBare maps a bare specifier to the workspace's own package (alias or root link).
 */
export function traceImports(root: string, start: string[], resolveBare: (spec: string) => string | undefined): TracedImports {
  const inside = (abs: string) => {
    const rel = relative(root, abs);
    return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? posix(rel) : undefined;
  };
  const files = new Set<string>();
  const folders = new Set<string>();
  const notes: string[] = [];
  const queue = [...start];
  const seen = new Set(queue);
  const add = (abs: string | undefined) => {
    if (abs === undefined || seen.has(abs) || inside(abs) === undefined) return;
    seen.add(abs);
    queue.push(abs);
  };
  for (let next = 0; next < queue.length; next++) {
    if (next >= MAX_TRACED_FILES) {
      notes.push(`a local plugin imports more than ${MAX_TRACED_FILES} files: the rest were not traced (they are still shown with the other changes).`);
      break;
    }
    const file = queue[next];
    const rel = inside(file);
    if (rel === undefined) continue;
    files.add(rel);
    if (!CODE.test(file) || kind(file) !== 'file') continue;
    const text = readSmallText(file, 4 * 1024 * 1024);
    if (text === undefined) continue;
    for (const { fileName: spec } of importedFiles(text)) {
      if (spec.startsWith('.') || isAbsolute(spec)) add(resolveFile(isAbsolute(spec) ? spec : join(dirname(file), spec)));
      else {
        const folder = packageFolder(root, dirname(file), spec) ?? resolveBare(spec);
        if (folder === undefined) continue;
        const folderRel = inside(folder);
        if (folderRel === undefined) continue;
        if (kind(folder) === 'directory') folders.add(folderRel);
        else add(resolveFile(folder));
      }
    }
  }
  return { files: [...files].sort(), folders: [...folders].sort(), notes };
}

/** A bare specifier's package in a node_modules between the importing folder and the root, exclusive (the agent's installs; the root's is the host's). */
function packageFolder(root: string, from: string, spec: string): string | undefined {
  const segments = spec.split('/');
  const name = segments.slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  for (let dir = from; dir !== root && dir.startsWith(`${root}${sep}`); dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (kind(candidate) !== 'missing') return candidate;
  }
  return undefined;
}
