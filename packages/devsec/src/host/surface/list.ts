/**
 * The host-executed surface: the files of a workspace that the host's own tools (Nx, npm, git,
 * VS Code, direnv, our executors) execute or trust without asking, and that the agent inside
 * the sandbox can write (THREATS.md, row 14). `HOST_EXECUTED_SURFACE` is the one list, as data;
 * `scanSurface` walks the workspace and records each of its files. The walk never follows a
 * symlink (every symlink is recorded with its target text), never opens anything but regular
 * files, and stops at a depth and an entry count it says it stopped at.
 */
import { Dirent, lstatSync, readdirSync, realpathSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { DEVCONTAINER_DIR, SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { visible } from '../../sandbox/visible';
import { readGitLayout } from '../git/git-layout';
import { GitlinkScan, scanGitlinks } from '../git/gitlinks';
import { Repository } from './repository';
import { inNamedFolder, NamedFolder, namedFolders } from './named-folders';
import { readLink, readWorkspaceFile, sha256, TEXT_CAP_BYTES } from './read';
import { graphConfigMatcher, isHookManagerFile, isPackageManagerFile, isToolConfig } from './graph-configs';
import { StatCache } from './stat-cache';

export interface SurfaceRule {
  id: string;
  /** What is on the surface, and where. */
  paths: string;
  /** Which host tool executes or trusts it, and how (one line: it heads each change). */
  readBy: string;
}

/**
 * The one list of what is shown first (README, "devsec check"). `devsec check` records every file
 * and symlink the sandbox can write (everything below the root but the root's node_modules, .git
 * and .nx); those on this list head its report, every other change follows. Anywhere means
 * anywhere below the root.
 */
export const HOST_EXECUTED_SURFACE = [
  { id: 'nx-json', paths: '`nx.json` (root)', readBy: 'Nx: the plugins it loads, targetDefaults, tasksRunnerOptions' },
  { id: 'project-json', paths: '`project.json` (anywhere)', readBy: 'Nx: every target is a command the host runs' },
  {
    id: 'package-json',
    paths: '`package.json` (anywhere)',
    readBy: 'npm: scripts and lifecycle scripts, bin, what it installs; Nx: scripts and the nx field as targets',
  },
  {
    id: 'dotenv',
    // Nx 23.2.1 (tasks-runner/task-env-paths.js): `.env`, `.local.env`, `.env.local` of the root at start; for each task
    // `.env[.<target|configuration>][.local]` and `.<id>[.local].env` of the root and the project root. A target name may hold
    // `/`, and project roots are Nx's to infer: hence the names anywhere, and the folders.
    paths: '`.env`, `.env.*` and `*.env` files, and files in `.env.*` folders (anywhere)',
    readBy: 'Nx: loaded into every task (root and project roots; per target and configuration); the root ones into Nx itself',
  },
  { id: 'envrc', paths: '`.envrc` (anywhere)', readBy: 'direnv: a shell script run on cd' },
  { id: 'npmrc', paths: '`.npmrc` (anywhere)', readBy: 'npm: script-shell, node-options, registry, git, ignore-scripts' },
  { id: 'nxignore', paths: '`.nxignore` (anywhere)', readBy: 'Nx: hides files and projects from the graph' },
  {
    id: 'nx-plugin',
    paths:
      'every file of a local plugin or task runner `nx.json` names (by path, tsconfig path alias or a workspace link in the root node_modules), and every file and package it imports, transitively',
    readBy: 'Nx: loads it in-process on every graph computation',
  },
  {
    id: 'nx-graph-config',
    paths:
      "every file an Nx plugin `nx.json` names reads while it builds the graph, by that plugin's own globs (`jest.config.*` for `@nx/jest/plugin`, `{vite,vitest}.config.*` for `@nx/vite/plugin`, ...)",
    readBy: 'Nx: the plugin reads it, and runs it when it is JavaScript or TypeScript, on every graph computation (`nx show projects`)',
  },
  {
    id: 'tool-config',
    paths:
      '`vite`, `vitest`, `jest`, `playwright`, `eslint`, `prettier`, `babel`, `webpack`, ... `.config.*`, `.eslintrc*`, `.prettierrc*`, `.babelrc*`, `tsconfig*.json` (anywhere)',
    readBy: 'the editor (ESLint, Prettier, TypeScript), test runners and bundlers load them as code or follow the programs they name',
  },
  {
    id: 'hook-manager',
    paths: '`lefthook*.yml`, `.lefthook/`, `.pre-commit-config.yaml`, `.lintstagedrc*`, `lint-staged.config.*`, `.simple-git-hooks.*` (anywhere)',
    readBy: 'git hooks: the commands they run on commit, push and checkout',
  },
  {
    id: 'package-manager',
    paths:
      '`.yarnrc.yml` and the file its `yarnPath` names, `.yarn/plugins`, `.yarn/releases`, `.yarn/patches`, `.pnpmfile.*`, `pnpm-workspace.yaml`, `bunfig.toml`, lockfiles, `.nvmrc` (anywhere)',
    readBy: 'yarn, pnpm, npm and bun: run their plugins and hooks, install what the lockfile says',
  },
  {
    id: 'vscode',
    paths: 'every file in `.vscode/` (anywhere), `*.code-workspace`',
    readBy: 'VS Code: tasks, launch configurations, settings that name programs, extensions',
  },
  { id: 'husky', paths: 'every file in `.husky/` (anywhere)', readBy: 'git hooks installed by husky' },
  {
    id: 'hooks-path',
    paths: 'every file in the folder `core.hooksPath` names, when it is in the workspace',
    readBy: 'git: hooks on commit, checkout, merge, push',
  },
  { id: 'gitattributes', paths: '`.gitattributes` (anywhere)', readBy: 'git: the filters, diff and merge drivers it selects' },
  { id: 'gitmodules', paths: '`.gitmodules` (anywhere)', readBy: 'git: submodule URLs and update commands' },
  {
    id: 'nested-git',
    paths: 'a `.git` file or folder below the root, with its `config` and `hooks/`',
    readBy: 'git and VS Code, in that folder: its config (fsmonitor, hooks)',
  },
  {
    id: 'nested-node-modules',
    paths: 'a `node_modules` folder below the root: its packages and `.bin` links (their files are shown with the other changes)',
    readBy: 'Node and npm scripts resolve from it before the root install',
  },
  { id: 'shared-compose', paths: `\`${SHARED_COMPOSE_FILE}\` (root)`, readBy: 'docker compose, started by up-shared on the host' },
  {
    id: 'devcontainer',
    paths: `every file in a \`${DEVCONTAINER_DIR}/\` folder (anywhere), \`.devcontainer.json\``,
    readBy: 'VS Code and the devcontainer CLI: initializeCommand runs on the host; compose files say what is mounted',
  },
  { id: 'symlink', paths: 'every symlink (anywhere): its target text, never followed', readBy: 'any tool above that reads through it' },
  {
    id: 'gitlink',
    paths: 'a gitlink (submodule entry) in the index, HEAD or a local branch: its path (anywhere, under the skipped folders too)',
    readBy: 'git status, git diff and VS Code enter its folder and run git there when it holds a `.git`',
  },
] as const satisfies readonly SurfaceRule[];

export type SurfaceRuleId = (typeof HOST_EXECUTED_SURFACE)[number]['id'];

/** Every other file or symlink the sandbox can write: shown after the list, as a summary (`--all`: in full). */
export const OTHER_RULE = 'other';
export type EntryRule = SurfaceRuleId | typeof OTHER_RULE;

/** Folders of the root that are not the agent's: the host's git, and the stack's own volumes (the root's node_modules, Nx's cache). */
export const ROOT_SKIPPED: readonly string[] = ['node_modules', '.git', '.nx'];

const FILE_NAMES: Record<string, SurfaceRuleId> = {
  'project.json': 'project-json',
  'package.json': 'package-json',
  '.envrc': 'envrc',
  '.npmrc': 'npmrc',
  '.nxignore': 'nxignore',
  '.gitattributes': 'gitattributes',
  '.gitmodules': 'gitmodules',
  '.devcontainer.json': 'devcontainer',
};
const FOLDER_NAMES: Record<string, EntryRule> = { '.vscode': 'vscode', '.husky': 'husky', [DEVCONTAINER_DIR]: 'devcontainer' };
const DOTENV_FILE = /^\.env(\..+)?$|.\.env$/;
const DOTENV_FOLDER = /^\.env\../;

export type SurfaceEntry =
  | { kind: 'file'; rule: EntryRule; sha256: string; size: number; binary: boolean; text?: string }
  | { kind: 'symlink'; rule: EntryRule; target: string }
  /** A nested .git or node_modules folder: its presence, and for node_modules a listing (as text). */
  | { kind: 'directory'; rule: EntryRule; sha256: string; text?: string }
  | { kind: 'other'; rule: EntryRule; type: string };

export interface SurfaceScan {
  /** By path relative to the root, with `/`. */
  entries: Record<string, SurfaceEntry>;
  /** What the user should know (a plugin outside the workspace). */
  notes: string[];
  /** Why the walk did not see everything (a cap, an unreadable folder): nothing unchanged can be promised. */
  incomplete: string[];
  /** The gitlinks git lists (host/gitlinks.ts): those whose folder holds a repository that is not a registered submodule are shown first, always. */
  gitlinks?: GitlinkScan;
}

export interface ScanOptions {
  maxEntries?: number;
  maxDepth?: number;
  textCap?: number;
  env?: NodeJS.ProcessEnv;
  /** Hashes of files whose stat did not change since the last walk, and the approved entries their text is taken from. */
  cache?: StatCache;
}

/** How a gitlink is recorded (kind `other`). */
export const GITLINK_TYPE = 'gitlink (submodule entry)';

export const DEFAULT_MAX_ENTRIES = 300_000;
export const DEFAULT_MAX_DEPTH = 40;
const LISTING_CAP = 5000;

/** What classifies a path beyond its name: the named folders and the globs of the plugins nx.json names. */
interface Classifier {
  named: readonly NamedFolder[];
  graphConfig: (rel: string) => boolean;
}

/** The rule a file (or symlink, or special file) of this name and place falls under; OTHER_RULE when none of the list does. */
function ruleFor(rel: string, name: string, depth: number, folderRule: EntryRule | undefined, classifier: Classifier, vendored: boolean): EntryRule {
  const named = inNamedFolder(classifier.named, rel)?.rule;
  // Inside a nested node_modules only what a plugin imports is on the list: the rest is the package's files.
  if (vendored) return named ?? OTHER_RULE;
  if (depth === 0 && name === 'nx.json') return 'nx-json';
  if (depth === 0 && name === SHARED_COMPOSE_FILE) return 'shared-compose';
  if (name === '.git') return 'nested-git';
  if (name === 'node_modules') return 'nested-node-modules';
  if (FILE_NAMES[name]) return FILE_NAMES[name];
  if (DOTENV_FILE.test(name)) return 'dotenv';
  if (name.endsWith('.code-workspace')) return 'vscode';
  const rule = folderRule ?? named ?? FOLDER_NAMES[name];
  if (rule) return rule;
  if (classifier.graphConfig(rel)) return 'nx-graph-config';
  if (isToolConfig(rel)) return 'tool-config';
  if (isHookManagerFile(rel)) return 'hook-manager';
  if (isPackageManagerFile(rel)) return 'package-manager';
  return OTHER_RULE;
}

const kindOf = (entry: Dirent) => (entry.isSymbolicLink() ? 'symlink' : entry.isDirectory() ? 'directory' : entry.isFile() ? 'file' : 'other');

const OTHER_TYPES: ['isFIFO' | 'isSocket' | 'isBlockDevice' | 'isCharacterDevice', string][] = [
  ['isFIFO', 'FIFO'],
  ['isSocket', 'socket'],
  ['isBlockDevice', 'block device'],
  ['isCharacterDevice', 'character device'],
];

class Walk {
  // No prototype: a symlink named __proto__ must be recorded, not set the object's prototype.
  readonly scan: SurfaceScan = { entries: Object.create(null), notes: [], incomplete: [] };
  private visited = 0;
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly classifier: Classifier,
    private readonly options: Required<Omit<ScanOptions, 'env' | 'cache'>>,
    private readonly cache?: StatCache,
  ) {}

  /** Walks the folder at rel (the root is ''), breadth by depth; folderRule covers every file below. */
  walk(start: string, startRule?: EntryRule): void {
    const queue: { rel: string; depth: number; rule?: EntryRule; vendored?: boolean }[] = [
      { rel: start, depth: start === '' ? 0 : start.split('/').length, rule: startRule },
    ];
    // An index, not shift(): the queue of a large workspace holds tens of thousands of folders.
    for (let next = 0, folder = queue[0]; folder && !this.stopped; folder = queue[++next]) {
      const cached = this.cache?.folder(folder.rel);
      for (const child of this.list(folder.rel)) {
        if (++this.visited > this.options.maxEntries) {
          this.scan.incomplete.push(`The walk stopped after ${this.options.maxEntries} entries: pass --max-entries=<n> to look further.`);
          this.stopped = true;
          return;
        }
        const rel = folder.rel === '' ? child.name : `${folder.rel}/${child.name}`;
        if (folder.depth === 0 && ROOT_SKIPPED.includes(child.name)) continue;
        // A name that is not valid UTF-8 cannot be opened by the name Node gives it.
        if (child.name.includes('\uFFFD')) {
          this.scan.incomplete.push(`${visible(rel)} has a name that is not valid UTF-8: it was not checked. Rename it.`);
          continue;
        }
        const kind = kindOf(child);
        const vendored = folder.vendored === true;
        const rule = ruleFor(rel, child.name, folder.depth, folder.rule, this.classifier, vendored);
        if (kind === 'directory' && child.name === '.git' && !vendored) this.nestedGit(rel);
        else if (kind === 'directory') {
          // A nested node_modules is the agent's: its listing heads the report, its files are walked as the others.
          if (child.name === 'node_modules' && !vendored) this.nestedNodeModules(rel);
          if (folder.depth + 1 > this.options.maxDepth)
            this.scan.incomplete.push(`${visible(rel)}/ is deeper than ${this.options.maxDepth} folders: not walked.`);
          else
            queue.push({
              rel,
              depth: folder.depth + 1,
              rule: vendored ? undefined : (folder.rule ?? folderRuleFor(child.name, rel, this.classifier.named)),
              vendored: vendored || child.name === 'node_modules',
            });
        } else this.record(rel, kind === 'symlink' && rule === OTHER_RULE && !vendored ? 'symlink' : rule, child, true, cached);
      }
    }
  }

  /** Records the file, symlink or special file at rel under rule. */
  record(rel: string, rule: EntryRule, dirent?: Dirent, again = true, cached?: Map<string, string>): void {
    // rel is clean (names from readdir joined by `/`): no normalisation needed, and this runs once per file.
    const abs = `${this.root}/${rel}`;
    const stat = dirent ?? lstatSync(abs, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isSymbolicLink()) {
      const target = readLink(abs);
      if (target !== undefined) this.scan.entries[rel] = { kind: 'symlink', rule, target };
    } else if (stat.isFile()) {
      const known = dirent && cached ? this.cache?.lookup(rel, abs, rule, cached, dirent.name) : this.cache?.lookup(rel, abs, rule);
      if (known) {
        this.scan.entries[rel] = known;
        return;
      }
      const content = readWorkspaceFile(this.root, rel, this.options.textCap);
      if (content === 'moved')
        this.scan.incomplete.push(`${visible(rel)} was read through a folder that moved (swapped for a symlink?) during the walk: run again.`);
      else if (content) this.scan.entries[rel] = { kind: 'file', rule, ...content };
      // It changed kind since it was listed: record what it is now (once; a file that keeps changing is a race we report as missing).
      else if (again) this.record(rel, rule, undefined, false);
    } else if (!stat.isDirectory()) {
      const type = OTHER_TYPES.find(([is]) => stat[is]())?.[1] ?? 'special file';
      this.scan.entries[rel] = { kind: 'other', rule, type };
    }
  }

  /** A nested git folder: its presence, its config and its hooks, which git runs in that folder. */
  private nestedGit(rel: string): void {
    this.scan.entries[rel] = { kind: 'directory', rule: 'nested-git', sha256: sha256('git directory') };
    this.record(`${rel}/config`, 'nested-git');
    const hooks = join(this.root, rel, 'hooks');
    if (!lstatSync(hooks, { throwIfNoEntry: false })?.isDirectory()) return this.record(`${rel}/hooks`, 'nested-git');
    for (const hook of this.list(`${rel}/hooks`)) this.record(`${rel}/hooks/${hook.name}`, 'nested-git', hook);
  }

  /** A folder's entries in name order; none (and a note) when it cannot be read. */
  private list(rel: string): Dirent[] {
    try {
      return readdirSync(rel === '' ? this.root : `${this.root}/${rel}`, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    } catch (error) {
      this.scan.incomplete.push(`${visible(rel)}/ could not be read (${(error as NodeJS.ErrnoException).code}): make it readable to you.`);
      return [];
    }
  }

  /** A nested node_modules: its packages (scoped ones by name) and `.bin` links, as a listing. */
  private nestedNodeModules(rel: string): void {
    const lines: string[] = [];
    const list = (sub: string, depth: number) => {
      const abs = join(this.root, rel, sub);
      for (const entry of this.list(sub === '' ? rel : `${rel}/${sub}`)) {
        if (lines.length >= LISTING_CAP) return;
        this.visited++;
        const path = sub === '' ? entry.name : `${sub}/${entry.name}`;
        if (entry.isSymbolicLink()) lines.push(`${path} -> ${readLink(join(abs, entry.name)) ?? '(gone)'}`);
        else if (entry.isDirectory() && depth === 0 && (entry.name.startsWith('@') || entry.name === '.bin')) list(path, 1);
        else lines.push(entry.isDirectory() ? `${path}/` : path);
      }
    };
    list('', 0);
    if (lines.length >= LISTING_CAP) lines.push(`(listing stopped at ${LISTING_CAP} entries)`);
    const text = lines.map((line) => `${line}\n`).join('');
    this.scan.entries[rel] = { kind: 'directory', rule: 'nested-node-modules', sha256: sha256(text), text };
  }
}

function folderRuleFor(name: string, rel: string, named: readonly NamedFolder[]): EntryRule | undefined {
  if (FOLDER_NAMES[name]) return FOLDER_NAMES[name];
  if (DOTENV_FOLDER.test(name)) return 'dotenv';
  const folder = inNamedFolder(named, rel);
  return folder && (rel === folder.rel || rel.startsWith(`${folder.rel}/`)) ? folder.rule : undefined;
}

/** Walks the workspace and records every file of the surface. */
export function scanSurface(workspaceRoot: string, layout: Repository, options: ScanOptions = {}): SurfaceScan {
  // The real path: a file read in place is checked against it.
  const root = realpathSync(workspaceRoot);
  const { folders, notes, nxPlugins } = namedFolders(root, layout, options.env ?? process.env);
  const graph = graphConfigMatcher(nxPlugins.filter((spec) => !spec.startsWith('.') && !isAbsolute(spec)));
  const walk = new Walk(
    root,
    { named: folders, graphConfig: graph.matches },
    {
      maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
      maxDepth: options.maxDepth ?? DEFAULT_MAX_DEPTH,
      textCap: options.textCap ?? TEXT_CAP_BYTES,
    },
    options.cache,
  );
  walk.scan.notes.push(...layout.notes, ...notes);
  for (const plugin of graph.unknown)
    walk.scan.notes.push(`nx.json names the plugin ${visible(plugin)}, whose graph-time files devsec does not know: they are shown with the other changes.`);
  walk.walk('');
  // A plugin or hooks folder under a skipped root folder (a plugin built into .nx/) is walked on its own.
  for (const folder of folders) {
    const [top] = folder.rel.split('/');
    if (!ROOT_SKIPPED.includes(top) || top === '.git' || folder.module) continue;
    const segments = folder.rel.split('/');
    const blocked = segments.findIndex((_, i) => !lstatSync(join(root, ...segments.slice(0, i + 1)), { throwIfNoEntry: false })?.isDirectory());
    if (blocked < 0) walk.walk(folder.rel, folder.rule);
    else walk.record(segments.slice(0, blocked + 1).join('/'), folder.rule);
  }
  // Gitlinks, as git lists them: one that appears (a commit made inside can add it to your branch)
  // is a change. A path the walk recorded keeps its record (a gitlink there has no folder to enter).
  const gitlinks = scanGitlinks(readGitLayout(root));
  for (const gitlink of gitlinks.gitlinks) {
    if (!Object.hasOwn(walk.scan.entries, gitlink.path)) walk.scan.entries[gitlink.path] = { kind: 'other', rule: 'gitlink', type: GITLINK_TYPE };
  }
  walk.scan.incomplete.push(...gitlinks.unreadable.map((what) => `Looking for gitlinks, git could not read ${what}.`));
  walk.scan.gitlinks = gitlinks;
  return walk.scan;
}
