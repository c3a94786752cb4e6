import { graphConfigMatcher, isHookManagerFile, isPackageManagerFile, isToolConfig, NX_PLUGIN_GLOBS } from './graph-configs';

/** The plugins installed in this repository: their own createNodes glob must be the one the table holds. */
const installed = Object.keys(NX_PLUGIN_GLOBS).filter((plugin) => {
  try {
    require.resolve(plugin);
    return true;
  } catch {
    return false;
  }
});

describe('the configs Nx plugins read at graph time', () => {
  it('knows at least the plugins installed here', () => {
    expect(installed).toEqual(expect.arrayContaining(['@nx/jest/plugin', '@nx/eslint/plugin', '@nx/js/typescript']));
  });

  it.each(installed)('holds the glob %s itself declares', (plugin) => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const module = require(plugin) as { createNodes?: [string]; createNodesV2?: [string] };
    expect((module.createNodes ?? module.createNodesV2)?.[0]).toBe(NX_PLUGIN_GLOBS[plugin]);
  });

  it('matches by the globs of the plugins nx.json names, and only those', () => {
    const { matches, unknown } = graphConfigMatcher(['@nx/jest/plugin', '@nx/playwright/plugin', '@acme/nx-thing']);
    expect(['packages/foo/jest.config.js', 'jest.config.ts', 'apps/e2e/playwright.config.ts'].filter(matches)).toHaveLength(3);
    expect(['apps/web/vite.config.ts', 'packages/foo/jest.config.json', 'src/jest.config.js.bak'].filter(matches)).toEqual([]);
    expect(unknown).toEqual(['@acme/nx-thing']);
  });

  it('names tool configs, hook managers and package managers anywhere', () => {
    expect(['vite.config.ts', 'apps/a/eslint.config.mjs', 'prettier.config.cjs', 'libs/x/tsconfig.lib.json', '.prettierrc'].every(isToolConfig)).toBe(true);
    expect(['lefthook.yml', 'a/.pre-commit-config.yaml', '.lintstagedrc', '.lintstagedrc.mjs'].every(isHookManagerFile)).toBe(true);
    expect(['.yarnrc.yml', '.yarn/plugins/@yarnpkg/plugin-x.cjs', '.pnpmfile.cjs', 'pnpm-lock.yaml'].every(isPackageManagerFile)).toBe(true);
    expect(
      ['src/vite.ts', 'README.md', '.yarn/cache/pkg.zip'].some((path) => isToolConfig(path) || isHookManagerFile(path) || isPackageManagerFile(path)),
    ).toBe(false);
  });
});
