/**
 * Files the host's tools load as code or trust as configuration without a name the old list
 * gave away: the configs an Nx plugin named in `nx.json` reads (and for JavaScript or TypeScript,
 * runs) while it builds the project graph, matched by that plugin's own globs; tool configs the
 * editor and the hook managers load; the package managers' configs and plugins. Data only: the
 * globs are matched with minimatch, as Nx matches them.
 */
import { minimatch } from 'minimatch';

/**
 * Each plugin's `createNodes[0]` glob, as Nx 23.2.1 ships it. `graph-configs.spec.ts` compares
 * the ones installed here with the installed packages.
 */
export const NX_PLUGIN_GLOBS: Readonly<Record<string, string>> = {
  '@nx/jest/plugin': '**/jest.config.{cjs,mjs,js,cts,mts,ts}',
  '@nx/eslint/plugin':
    '{**/.eslintrc,**/.eslintrc.js,**/.eslintrc.cjs,**/.eslintrc.yaml,**/.eslintrc.yml,**/.eslintrc.json,**/eslint.config.cjs,**/eslint.config.js,**/eslint.config.mjs,**/eslint.config.cts,**/eslint.config.ts,**/eslint.config.mts,**/project.json,**/package.json}',
  '@nx/js/typescript': '**/tsconfig*.json',
  '@nx/vite/plugin': '**/{vite,vitest}.config.{js,ts,mjs,mts,cjs,cts}',
  '@nx/vitest': '**/{vite,vitest}.config.{js,ts,mjs,mts,cjs,cts}',
  '@nx/playwright/plugin': '**/playwright.config.{js,ts,cjs,cts,mjs,mts}',
  '@nx/cypress/plugin': '**/cypress.config.{js,ts,mjs,cjs}',
  '@nx/webpack/plugin': '**/webpack.config.{js,ts,mjs,cjs}',
  '@nx/rspack/plugin': '**/rspack.config.{js,ts,mjs,mts,cjs,cts}',
  '@nx/rollup/plugin': '**/rollup.config.{js,cjs,mjs,ts,cts,mts}',
  '@nx/next/plugin': '**/next.config.{ts,js,cjs,mjs}',
  '@nx/remix/plugin': '**/{remix,vite}.config.{js,cjs,mjs,ts,cts,mts}',
  '@nx/react/router-plugin': '**/react-router.config.{js,ts,mjs,mts,cjs,cts}',
  '@nx/storybook/plugin': '**/.storybook/main.{js,ts,mjs,mts,cjs,cts}',
  '@nx/nuxt/plugin': '**/nuxt.config.{js,ts,mjs,mts,cjs,cts}',
  '@nx/rsbuild': '**/rsbuild.config.{js,ts,mjs,mts,cjs,cts}',
  '@nx/expo/plugin': '**/app.{json,config.js,config.ts}',
  '@nx/react-native/plugin': '**/app.json',
  '@nx/detox/plugin': '**/{detox.config,.detoxrc}.{json,js}',
  '@nx/docker': '**/Dockerfile',
  '@nx/gradle': '**/build.{gradle.kts,gradle}',
};

/** Configs loaded as code (or naming code) by tools the host runs on its own: the editor's ESLint and Prettier, test runners, bundlers, compilers. */
export const TOOL_CONFIG_GLOBS: readonly string[] = [
  '**/{vite,vitest,jest,playwright,cypress,webpack,rspack,rollup,rsbuild,next,nuxt,remix,svelte,astro,babel,postcss,tailwind,esbuild,tsup,commitlint,stylelint}.config.{js,cjs,mjs,ts,cts,mts,json}',
  '**/{eslint,prettier}.config.{js,cjs,mjs,ts,cts,mts}',
  '**/{.eslintrc,.prettierrc,.babelrc,.stylelintrc,.commitlintrc,.mocharc,.swcrc}{,.js,.cjs,.mjs,.ts,.json,.json5,.yaml,.yml,.toml}',
  '**/tsconfig*.json',
  '**/jsconfig*.json',
];

/** Git hook managers: the hooks they install run on commit, push and checkout. */
export const HOOK_MANAGER_GLOBS: readonly string[] = [
  '**/{lefthook,.lefthook,lefthook-local,.lefthook-local}.{yml,yaml,json,toml}',
  '**/.lefthook/**',
  '**/.pre-commit-config.{yaml,yml}',
  '**/.pre-commit-hooks.{yaml,yml}',
  '**/{.lintstagedrc,.lintstagedrc.*,lint-staged.config.*}',
  '**/{.simple-git-hooks,simple-git-hooks}.{js,cjs,mjs,json}',
  '**/.huskyrc{,.js,.json}',
];

/** Package managers' configs, plugins and lockfiles: what npm, yarn, pnpm and bun load or install without asking. */
export const PACKAGE_MANAGER_GLOBS: readonly string[] = [
  '**/{.yarnrc,.yarnrc.yml,.yarnrc.yaml}',
  '**/.yarn/{plugins,releases,patches,sdks}/**',
  '**/.pnpmfile.{cjs,mjs,js}',
  '**/pnpm-workspace.yaml',
  '**/bunfig.toml',
  '**/{package-lock.json,npm-shrinkwrap.json,yarn.lock,pnpm-lock.yaml,bun.lock,bun.lockb}',
  '**/.node-version',
  '**/.nvmrc',
  '**/.tool-versions',
];

const OPTIONS = { dot: true };
const regexp = (glob: string) => minimatch.makeRe(glob, OPTIONS) || /$^/;

/**
 * A test of relative paths against globs, cheap enough for every file of a large workspace: each
 * glob brace-expanded; a pattern of a base name anywhere (`**` then `/name`) tested on the base name (one regular expression for
 * all of them); a pattern with folders tested whole, only on paths that hold its first folder.
 */
const matcher = (globs: readonly string[]) => {
  const exact = new Set<string>();
  const names: string[] = [];
  const paths: { needle: string; re: RegExp }[] = [];
  for (const pattern of globs.flatMap((glob) => minimatch.braceExpand(glob))) {
    const rest = pattern.startsWith('**/') ? pattern.slice(3) : pattern;
    if (pattern.startsWith('**/') && !rest.includes('/')) {
      if (/[*?[\]{}!+@()\\]/.test(rest)) names.push(regexp(rest).source);
      else exact.add(rest);
    } else {
      const first = rest.split('/')[0];
      paths.push({ needle: /[*?[\]{}!+@()]/.test(first) ? '/' : `/${first}/`, re: regexp(pattern) });
    }
  }
  const name = names.length > 0 ? new RegExp(names.join('|')) : undefined;
  return (rel: string) => {
    const base = rel.slice(rel.lastIndexOf('/') + 1);
    if (exact.has(base) || name?.test(base)) return true;
    const slashed = `/${rel}`;
    return paths.some(({ needle, re }) => slashed.includes(needle) && re.test(rel));
  };
};

export const isToolConfig = matcher(TOOL_CONFIG_GLOBS);
export const isHookManagerFile = matcher(HOOK_MANAGER_GLOBS);
export const isPackageManagerFile = matcher(PACKAGE_MANAGER_GLOBS);

/** The graph-time globs of the plugins nx.json names (their specifiers), and the ones it names we know nothing of. */
export function graphConfigMatcher(plugins: readonly string[]): { matches: (rel: string) => boolean; unknown: string[] } {
  const globs: string[] = [];
  const unknown: string[] = [];
  for (const plugin of plugins) {
    const glob = NX_PLUGIN_GLOBS[plugin];
    if (glob) globs.push(glob);
    else unknown.push(plugin);
  }
  return { matches: matcher(globs), unknown };
}
