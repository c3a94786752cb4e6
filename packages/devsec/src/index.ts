// The package entry is what Nx loads as a plugin, on every graph computation: keep it to the
// inference code. Generators and executors are loaded through generators.json/executors.json.
export { createNodes, createNodesV2 } from './plugins/plugin';
export type { DevsecPluginOptions } from './plugins/plugin';
