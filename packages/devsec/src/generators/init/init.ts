import { addDependenciesToPackageJson, formatFiles, GeneratorCallback, readJson, readNxJson, Tree, updateNxJson } from '@nx/devkit';
import { PLUGIN_PACKAGE, PROXY_PACKAGE } from '../../sandbox/vocabulary';
import { SYNC_GENERATOR } from '../sync/sync';
import type { InitGeneratorSchema } from './schema';

/** The plugin's own version: the proxy package is released in lockstep with it. */
function pluginVersion(): string {
  return require('../../../package.json').version;
}

export async function initGenerator(tree: Tree, options: InitGeneratorSchema = {}): Promise<GeneratorCallback> {
  const nxJson = readNxJson(tree) ?? {};
  const plugins = nxJson.plugins ?? [];
  const registered = plugins.some((entry) => (typeof entry === 'string' ? entry : entry.plugin) === PLUGIN_PACKAGE);
  // nx sync re-renders every sandbox from its stored spec; nx sync:check fails CI when one drifted.
  const globalGenerators = nxJson.sync?.globalGenerators ?? [];
  const syncRegistered = globalGenerators.includes(SYNC_GENERATOR);
  if (!registered) nxJson.plugins = [...plugins, { plugin: PLUGIN_PACKAGE, options: {} }];
  if (!syncRegistered) nxJson.sync = { ...nxJson.sync, globalGenerators: [...globalGenerators, SYNC_GENERATOR] };
  if (!registered || !syncRegistered) updateNxJson(tree, nxJson);

  let install: GeneratorCallback = () => undefined;
  if (!options.skipPackageJson && tree.exists('package.json')) {
    // The proxy image is built from this package in the root node_modules (which the dev
    // container cannot write); a direct dependency keeps it there under every package manager.
    const packageJson = readJson(tree, 'package.json');
    const present = packageJson.dependencies?.[PROXY_PACKAGE] ?? packageJson.devDependencies?.[PROXY_PACKAGE];
    if (!present) install = addDependenciesToPackageJson(tree, {}, { [PROXY_PACKAGE]: pluginVersion() });
  }

  if (!options.skipFormat) await formatFiles(tree);
  return install;
}

export default initGenerator;
