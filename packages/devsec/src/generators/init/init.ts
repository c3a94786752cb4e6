/**
 * `nx add @org/devsec` runs this. It imports nothing of @nx/devkit at load: the plugin takes the
 * workspace's own @nx/devkit as a peer, and a workspace made by `nx init` alone has none, so this
 * generator is what adds it (of the workspace's nx major) before anything else of
 * the plugin is loaded. It edits nx.json and package.json with jsonc-parser (the user's comments
 * kept) through the Tree Nx hands every generator.
 */
import type { GeneratorCallback, Tree } from '@nx/devkit';
import { spawnSync } from 'node:child_process';
import { applyEdits, modify, parse, ParseError } from 'jsonc-parser';
import { SandboxError } from '../../sandbox/errors';
import { detectPackageManager, PackageManagerName, readWorkspaceFiles } from '../../sandbox/package-manager';
import { DEVKIT_PACKAGE, PLUGIN_PACKAGE, PROXY_PACKAGE, SYNC_GENERATOR } from '../../sandbox/vocabulary';
import type { InitGeneratorSchema } from './schema';

/** The plugin's own version: the proxy package is released in lockstep with it. */
function pluginVersion(): string {
  return require('../../../package.json').version;
}

/** What init asks of the machine, replaceable in unit tests. */
export interface InitHost {
  /** Whether @nx/devkit resolves from the plugin (the workspace's own, under every package manager's layout). */
  devkitInstalled: () => boolean;
  /** The version of the nx the workspace runs. */
  nxVersion: () => string;
  /** The workspace's install, run when package.json changed. */
  install: (root: string, packageManager: PackageManagerName) => void;
}

const INSTALL_COMMANDS = {
  npm: ['npm', 'install'],
  pnpm: ['pnpm', 'install', '--no-frozen-lockfile'],
  yarn: ['yarn', 'install'],
} as const;

export const machine: InitHost = {
  devkitInstalled: () => {
    try {
      require.resolve(DEVKIT_PACKAGE);
      return true;
    } catch {
      return false;
    }
  },
  nxVersion: () => require('nx/package.json').version,
  install: (root, packageManager) => {
    const [command, ...args] = INSTALL_COMMANDS[packageManager];
    const result = spawnSync(command, args, { cwd: root, stdio: process.env.NX_GENERATE_QUIET === 'true' ? 'ignore' : 'inherit' });
    if (result.status !== 0) {
      throw new SandboxError(
        `${command} ${args.join(' ')} failed (${result.error?.message ?? `exit ${result.status}`}): package.json lists what ${PLUGIN_PACKAGE} needs; settle what ${command} said, then run \`${command} ${args.join(' ')}\` again.`,
      );
    }
  },
};

const FORMATTING = { formattingOptions: { insertSpaces: true, tabSize: 2, eol: '\n' } };

type JsonObject = Record<string, unknown>;
const isObject = (value: unknown): value is JsonObject => !!value && typeof value === 'object' && !Array.isArray(value);

function readJsonc(tree: Tree, path: string): { text: string; model: JsonObject } {
  const text = tree.read(path, 'utf-8') ?? '{}';
  const errors: ParseError[] = [];
  const model: unknown = parse(text, errors, { allowTrailingComma: true });
  if (errors.length || !isObject(model)) throw new SandboxError(`${path} is not a JSON object: fix it, then run nx g ${PLUGIN_PACKAGE}:init.`);
  return { text, model };
}

/** The workspace's package manager, from the Tree's files as the sandbox reads them (sandbox/package-manager.ts). */
function packageManagerOf(tree: Tree): PackageManagerName {
  return detectPackageManager(readWorkspaceFiles({ read: (path) => tree.read(path, 'utf-8') ?? undefined, exists: (path) => tree.exists(path) })).name;
}

/** Sets `path` in a JSON file; a new dependency is placed in order among its siblings (as package managers sort). */
function setJson(text: string, path: string[], value: unknown, { sorted = false } = {}): string {
  const name = path[path.length - 1];
  const getInsertionIndex = sorted ? (keys: string[]) => keys.filter((key) => key < name).length : undefined;
  return applyEdits(text, modify(text, path, value, { ...FORMATTING, getInsertionIndex }));
}

export async function initGenerator(tree: Tree, options: InitGeneratorSchema = {}, host: InitHost = machine): Promise<GeneratorCallback> {
  const nxJson = readJsonc(tree, 'nx.json');
  let nxText = nxJson.text;
  const plugins: unknown[] = Array.isArray(nxJson.model.plugins) ? nxJson.model.plugins : [];
  if (!plugins.some((entry) => (typeof entry === 'string' ? entry : (entry as { plugin?: unknown })?.plugin) === PLUGIN_PACKAGE)) {
    nxText = setJson(nxText, ['plugins'], [...plugins, { plugin: PLUGIN_PACKAGE, options: {} }]);
  }
  // nx sync re-renders every sandbox from its stored spec; nx sync:check fails CI when one drifted.
  const sync = isObject(nxJson.model.sync) ? nxJson.model.sync : {};
  const globalGenerators: unknown[] = Array.isArray(sync.globalGenerators) ? sync.globalGenerators : [];
  if (!globalGenerators.includes(SYNC_GENERATOR)) nxText = setJson(nxText, ['sync', 'globalGenerators'], [...globalGenerators, SYNC_GENERATOR]);

  let installWith: PackageManagerName | undefined;
  if (!options.skipPackageJson && tree.exists('package.json')) {
    const { text, model } = readJsonc(tree, 'package.json');
    const listed = (name: string) => [model.dependencies, model.devDependencies].some((section) => isObject(section) && typeof section[name] === 'string');
    let next = text;
    // The proxy image is built from this package in the root node_modules (which the dev
    // container cannot write); a direct dependency keeps it there under every package manager.
    if (!listed(PROXY_PACKAGE)) next = setJson(next, ['devDependencies', PROXY_PACKAGE], pluginVersion(), { sorted: true });
    // The workspace's own @nx/devkit, of its nx's major: the plugin's peer (none after `nx init` alone).
    // A range, not nx's exact version: devkit is not published at every nx patch (nx 24.0.7, devkit 24.0.0).
    if (!listed(DEVKIT_PACKAGE) && !host.devkitInstalled()) {
      next = setJson(next, ['devDependencies', DEVKIT_PACKAGE], `^${host.nxVersion().split('.')[0]}.0.0`, { sorted: true });
    }
    if (next !== text) {
      // Asked before anything is written: a workspace the sandbox cannot serve (Yarn PnP, two lockfiles) is refused unchanged.
      installWith = packageManagerOf(tree);
      tree.write('package.json', next);
    }
  }
  if (nxText !== nxJson.text) tree.write('nx.json', nxText);

  if (!options.skipFormat && host.devkitInstalled()) {
    // Prettier through the workspace's devkit, as every Nx generator formats; without one the files keep jsonc's layout.
    const { formatFiles } = await import('@nx/devkit');
    await formatFiles(tree);
  }
  return () => {
    if (installWith) host.install(tree.root, installWith);
  };
}

export default initGenerator;
