export { createNodes, createNodesV2 } from './plugins/plugin';
export type { DevsecPluginOptions } from './plugins/plugin';
export { secureDevcontainerGenerator } from './generators/secure-devcontainer/generator';
export { initGenerator } from './generators/init/init';
export { checkSandbox } from './lib/sandbox-rules';
