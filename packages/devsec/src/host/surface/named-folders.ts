/**
 * Folders of the surface that no file name gives away: the local plugins and task runners
 * `nx.json` names (Nx loads them in-process on every graph computation) and the hooks folder
 * `core.hooksPath` names. Read from the host's side only: nothing here runs or imports them.
 */
import { lstatSync, readlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { parseJsonc } from '../../sandbox/jsonc';
import { visible } from '../../sandbox/visible';
import { parse as parseYaml } from 'yaml';
import { Repository, hooksPathInWorkspace } from './repository';
import { readSmallText } from './read';
import { codeFiles, traceImports } from './imports';

export interface NamedFolder {
  /** Relative to the root, with `/`: every file at or below it is on the surface. */
  rel: string;
  rule: 'nx-plugin' | 'hooks-path' | 'package-manager';
  /** A module named without its extension at the root (`./plugin` → `plugin.ts`, `plugin.js`, `plugin/`). */
  module?: boolean;
}

const posix = (path: string) => path.split(sep).join('/');

const insideRoot = (root: string, abs: string) => {
  const rel = relative(root, abs);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? posix(rel) : undefined;
};

const lkind = (path: string) => {
  try {
    const stat = lstatSync(path);
    return stat.isSymbolicLink() ? 'symlink' : stat.isDirectory() ? 'directory' : 'file';
  } catch {
    return 'missing';
  }
};

/** The plugin's own folder: the nearest one above it that is a project (project.json or package.json), else its own folder. */
function pluginFolder(root: string, rel: string): NamedFolder {
  const start = lkind(join(root, rel)) === 'directory' ? rel : posix(dirname(rel));
  for (let folder = start; folder !== '.' && folder !== ''; folder = posix(dirname(folder))) {
    if (['project.json', 'package.json'].some((file) => lkind(join(root, folder, file)) === 'file')) return { rel: folder, rule: 'nx-plugin' };
  }
  return start === '.' ? { rel, rule: 'nx-plugin', module: true } : { rel: start, rule: 'nx-plugin' };
}

interface Json {
  [key: string]: unknown;
}
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function readJson(root: string, file: string, notes: string[]): Json | undefined {
  const text = readSmallText(join(root, file));
  if (text === undefined) return undefined;
  try {
    const value = parseJsonc(text);
    return isObject(value) ? value : undefined;
  } catch {
    notes.push(`${file} is not valid JSON: the local plugins it names could not be read (Nx would fail on it too).`);
    return undefined;
  }
}

/** Where a bare plugin name (`@org/my-plugin/plugin`) lives when it is the workspace's own: a tsconfig path alias, or a link in the root node_modules. */
function resolveBare(root: string, spec: string, notes: string[]): string | undefined {
  const segments = spec.split('/');
  const packageName = segments.slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  for (const file of ['tsconfig.base.json', 'tsconfig.json']) {
    const options = readJson(root, file, notes)?.compilerOptions;
    const paths = isObject(options) && isObject(options.paths) ? options.paths : {};
    const baseUrl = isObject(options) && typeof options.baseUrl === 'string' ? options.baseUrl : '.';
    for (const [alias, targets] of Object.entries(paths)) {
      const star = alias.endsWith('*') ? alias.slice(0, -1) : undefined;
      const matches = alias === spec || alias === packageName || (star !== undefined && spec.startsWith(star));
      const target = Array.isArray(targets) && typeof targets[0] === 'string' ? targets[0] : undefined;
      if (matches && target) return resolve(root, baseUrl, star !== undefined ? target.replace('*', spec.slice(star.length)) : target);
    }
  }
  const link = join(root, 'node_modules', packageName);
  if (lkind(link) === 'symlink') return resolve(dirname(link), readlinkSync(link));
  return undefined;
}

/** The specifiers of nx.json's plugins and task runners. */
function nxJsonModules(nxJson: Json): string[] {
  const plugins = Array.isArray(nxJson.plugins) ? nxJson.plugins : [];
  const named = plugins.map((plugin) => (typeof plugin === 'string' ? plugin : isObject(plugin) ? plugin.plugin : undefined));
  const runners = isObject(nxJson.tasksRunnerOptions)
    ? Object.values(nxJson.tasksRunnerOptions).map((options) => (isObject(options) ? options.runner : undefined))
    : [];
  return [...named, ...runners].filter((spec): spec is string => typeof spec === 'string' && spec !== '');
}

/** Where `.yarnrc.yml`'s yarnPath points (yarn runs that file for every yarn command), when it is in the workspace. */
function yarnPath(root: string, notes: string[]): NamedFolder | undefined {
  const text = readSmallText(join(root, '.yarnrc.yml'));
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch {
    notes.push('.yarnrc.yml is not valid YAML: its yarnPath could not be read (it is shown as a changed file).');
    return undefined;
  }
  const path = isObject(value) && typeof value.yarnPath === 'string' ? value.yarnPath : undefined;
  if (path === undefined) return undefined;
  const rel = insideRoot(root, resolve(root, path));
  if (rel === undefined) notes.push(`.yarnrc.yml's yarnPath is ${visible(path)}, outside the workspace: not checked.`);
  return rel === undefined ? undefined : { rel, rule: 'package-manager' };
}

/** The named folders of this workspace, the plugins nx.json names, and notes on what lies outside it. */
export function namedFolders(root: string, layout: Repository, env: NodeJS.ProcessEnv): { folders: NamedFolder[]; notes: string[]; nxPlugins: string[] } {
  const notes: string[] = [];
  const folders: NamedFolder[] = [];
  if (lkind(join(root, 'nx.json')) === 'symlink') notes.push('nx.json is a symlink: the plugins it names were not read (it is reported as a symlink).');
  const nxJson = readJson(root, 'nx.json', notes) ?? {};
  const specs = nxJsonModules(nxJson);
  const start: string[] = [];
  for (const spec of specs) {
    const local = spec.startsWith('.') || isAbsolute(spec);
    const abs = local ? resolve(root, spec) : resolveBare(root, spec, notes);
    if (abs === undefined) continue; // an installed package: the host's own node_modules
    const rel = insideRoot(root, abs);
    if (rel === undefined) {
      notes.push(`nx.json names ${visible(spec)}, at ${visible(abs)}, outside the workspace: not checked.`);
      continue;
    }
    const folder = pluginFolder(root, rel);
    folders.push(folder);
    // What the plugin imports, from every code file of its folder (or the module nx.json names).
    if (folder.module) start.push(...['', '.ts', '.js', '.cjs', '.mjs', '.mts', '.cts'].map((ext) => abs + ext).filter((path) => lkind(path) === 'file'));
    else start.push(...codeFiles(join(root, folder.rel)));
  }
  const traced = traceImports(root, start, (spec) => resolveBare(root, spec, notes));
  notes.push(...traced.notes);
  for (const rel of [...traced.folders, ...traced.files]) {
    if (!inNamedFolder(folders, rel)) folders.push({ rel, rule: 'nx-plugin' });
  }
  const yarn = yarnPath(root, notes);
  if (yarn) folders.push(yarn);
  if (layout.hooksPath !== undefined) {
    const hooks = hooksPathInWorkspace(root, layout.hooksPath, env);
    if (hooks.relative === '')
      notes.push('core.hooksPath is the workspace root itself: hooks there are not told apart from other files; point it to a folder.');
    else if (hooks.relative !== undefined) folders.push({ rel: hooks.relative, rule: 'hooks-path' });
    else notes.push(`core.hooksPath is ${visible(hooks.absolute)}, outside the workspace: not checked (keep it where the sandbox cannot write).`);
  }
  return { folders, notes, nxPlugins: specs };
}

/** The named folder a path lies in, if any. */
export function inNamedFolder(folders: readonly NamedFolder[], rel: string): NamedFolder | undefined {
  return folders.find((folder) => {
    if (rel === folder.rel || rel.startsWith(`${folder.rel}/`)) return true;
    return folder.module === true && rel.startsWith(`${folder.rel}.`) && !rel.includes('/');
  });
}
