import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { readRepository } from './repository';
import { HOST_EXECUTED_SURFACE, scanSurface, SurfaceRuleId } from './list';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-WORKSPACE';

const write = (root: string, rel: string, content = `${rel}\n`) => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
};

/** One workspace holding at least one file of every rule, and files that are not on the surface. */
const FIXTURES: Record<SurfaceRuleId, string[]> = {
  'nx-json': ['nx.json'],
  'project-json': ['apps/app/project.json'],
  'package-json': ['package.json', 'libs/lib/package.json'],
  dotenv: ['.env', '.local.env', '.env.local', 'apps/app/.env', 'apps/app/.env.build.production', 'apps/app/.build.local.env', 'apps/app/.env.deploy/eu'],
  envrc: ['.envrc', 'apps/app/.envrc'],
  npmrc: ['.npmrc', 'libs/lib/.npmrc'],
  nxignore: ['.nxignore'],
  'nx-plugin': [
    'tools/my-plugin/src/index.ts',
    'tools/aliased/src/index.ts',
    'dist/built-plugin/index.js',
    'libs/util/a.ts',
    'libs/util/b.js',
    'libs/deep/c.cjs',
  ],
  'nx-graph-config': [
    'eslint.config.mjs',
    'packages/foo/jest.config.js',
    'apps/web/vite.config.mts',
    'apps/web-e2e/playwright.config.ts',
    'apps/web/.eslintrc.yaml',
  ],
  'tool-config': ['apps/app/babel.config.js', 'prettier.config.js', 'tsconfig.base.json', 'apps/app/tsconfig.app.json', '.prettierrc'],
  'hook-manager': ['lefthook.yml', '.pre-commit-config.yaml', '.lintstagedrc.json', 'lint-staged.config.mjs'],
  'package-manager': ['.yarnrc.yml', '.yarn/plugins/plugin.cjs', 'tools/yarn/yarn-9.cjs', '.pnpmfile.cjs', 'package-lock.json'],
  vscode: [
    '.vscode/tasks.json',
    '.vscode/launch.json',
    '.vscode/settings.json',
    '.vscode/extensions.json',
    'apps/app/.vscode/tasks.json',
    'repo.code-workspace',
  ],
  husky: ['.husky/pre-commit', '.husky/_/h'],
  'hooks-path': ['.githooks/pre-push'],
  gitattributes: ['.gitattributes'],
  gitmodules: ['.gitmodules'],
  'nested-git': ['vendor/cloned/.git', 'vendor/cloned/.git/config', 'vendor/cloned/.git/hooks/post-checkout', 'vendor/worktree/.git'],
  'nested-node-modules': ['libs/lib/node_modules'],
  'shared-compose': ['docker-compose.shared.yml'],
  devcontainer: ['apps/app/.devcontainer/devcontainer.json', 'apps/app/.devcontainer/Dockerfile', '.devcontainer.json'],
  symlink: ['src/link-out'],
  // In the index only (no folder): git lists them, the walk does not (dist/ is skipped).
  gitlink: ['libs/linked', 'dist/linked'],
};
/** Every other file the sandbox can write: recorded, shown after the list. */
const OTHER_FILES = ['src/main.ts', 'README.md', 'apps/app/src/app.ts', 'dist/main.js', 'tmp/notes.txt', 'libs/lib/node_modules/pkg/index.js'];
/** The stack's own volumes at the root, and the host's git: not the sandbox's, never recorded. */
const NOT_THE_SANDBOXS = ['.nx/cache/project.json', 'node_modules/pkg/package.json'];
/** Under the root's dist/ and tmp/, which the sandbox writes too: on the list as anywhere else. */
const UNDER_DIST_AND_TMP: Record<string, SurfaceRuleId> = {
  'dist/package.json': 'package-json',
  'tmp/.env': 'dotenv',
  'tmp/evil/project.json': 'project-json',
  'dist/.git/config': 'nested-git',
};

describe('the host-executed surface', () => {
  let dir: string;
  let root: string;
  beforeAll(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-surface-')));
    root = join(dir, 'ws');
    mkdirSync(root);
    execFileSync('git', ['init', '-q'], { cwd: root, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
    execFileSync('git', ['config', 'core.hooksPath', '.githooks'], { cwd: root });
    for (const [rule, paths] of Object.entries(FIXTURES)) {
      if (rule === 'nested-git' || rule === 'nested-node-modules' || rule === 'symlink' || rule === 'gitlink') continue;
      for (const path of paths) write(root, path);
    }
    write(
      root,
      'nx.json',
      JSON.stringify({
        plugins: [
          './tools/my-plugin',
          { plugin: '@org/aliased' },
          '@nx/js',
          '@nx/jest/plugin',
          { plugin: '@nx/vite/plugin', options: {} },
          '@nx/playwright/plugin',
          '@nx/eslint/plugin',
        ],
        tasksRunnerOptions: { x: { runner: './dist/built-plugin' } },
      }),
    );
    // The plugin imports, three levels down: a.ts (alias-free relative), b.js (require), c.cjs (dynamic import).
    write(root, 'tools/my-plugin/src/index.ts', "import { a } from '../../../libs/util/a';\nexport const createNodes = [a];\n");
    write(root, 'libs/util/a.ts', "export const a = require('./b.js');\n");
    write(root, 'libs/util/b.js', "module.exports = import('../deep/c.cjs');\n");
    write(root, 'libs/deep/c.cjs', "require('node:child_process').execSync('touch /tmp/pwned');\n");
    write(root, 'libs/deep/unrelated.cjs', 'not imported\n');
    write(root, '.yarnrc.yml', 'yarnPath: tools/yarn/yarn-9.cjs\n');
    for (const [path] of Object.entries(UNDER_DIST_AND_TMP)) write(root, path);
    write(root, 'tools/my-plugin/package.json', '{}');
    write(root, 'dist/built-plugin/package.json', '{}');
    write(root, 'tools/aliased/project.json', '{}');
    write(root, 'tsconfig.base.json', '// comments are fine\n{ "compilerOptions": { "paths": { "@org/aliased": ["tools/aliased/src/index.ts"] } } }');
    write(root, 'vendor/cloned/.git/config', '[core]\n\tfsmonitor = ./evil\n');
    write(root, 'vendor/cloned/.git/hooks/post-checkout', '#!/bin/sh\n');
    write(root, 'vendor/cloned/.git/objects/ab/cdef', 'not read');
    write(root, 'vendor/worktree/.git', 'gitdir: /somewhere\n');
    write(root, 'libs/lib/node_modules/pkg/package.json', '{"scripts":{"postinstall":"evil"}}');
    write(root, 'libs/lib/node_modules/@scope/inner/index.js');
    mkdirSync(join(root, 'libs/lib/node_modules/.bin'));
    symlinkSync('../pkg/cli.js', join(root, 'libs/lib/node_modules/.bin/pkg'));
    write(dir, 'outside/secret.txt', `${SECRET}\n`);
    write(dir, 'outside/tasks.json', `${SECRET}\n`);
    mkdirSync(join(root, 'src'), { recursive: true });
    symlinkSync(join(dir, 'outside/secret.txt'), join(root, 'src/link-out'));
    symlinkSync(join(dir, 'outside/secret.txt'), join(root, 'apps/app/package.json.link'));
    symlinkSync(join(dir, 'outside'), join(root, 'libs/lib/.vscode'));
    symlinkSync(join(dir, 'outside/secret.txt'), join(root, '__proto__'));
    for (const path of [...OTHER_FILES, ...NOT_THE_SANDBOXS]) write(root, path);
    for (const path of FIXTURES.gitlink) execFileSync('git', ['update-index', '--add', '--cacheinfo', `160000,${'1'.repeat(40)},${path}`], { cwd: root });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const scan = () => scanSurface(root, readRepository(root), { env: {} });

  it('has a fixture for every rule of the list, so a new rule comes with its test', () => {
    expect(Object.keys(FIXTURES).sort()).toEqual(HOST_EXECUTED_SURFACE.map((rule) => rule.id).sort());
  });

  it.each(Object.entries(FIXTURES))('detects each %s file', (rule, paths) => {
    const { entries } = scan();
    for (const path of paths) expect([path, entries[path]?.rule]).toEqual([path, rule]);
  });

  it('records every other file the sandbox can write, after the list, and leaves out only the stack’s volumes and the host’s git', () => {
    const { entries } = scan();
    for (const path of OTHER_FILES) expect([path, entries[path]?.rule]).toEqual([path, 'other']);
    expect(entries['libs/deep/unrelated.cjs']?.rule).toBe('other');
    for (const path of NOT_THE_SANDBOXS) expect(entries[path]).toBeUndefined();
    expect(Object.keys(entries).filter((path) => path.startsWith('vendor/cloned/.git/objects'))).toEqual([]);
  });

  it('walks the root’s dist/ and tmp/ as any other folder: what Nx and git run there is on the list', () => {
    const { entries } = scan();
    for (const [path, rule] of Object.entries(UNDER_DIST_AND_TMP)) expect([path, entries[path]?.rule]).toEqual([path, rule]);
    expect(entries['dist/.git']).toMatchObject({ kind: 'directory', rule: 'nested-git' });
  });

  it('reports a symlinked tmp by its target, never walking through it', () => {
    const other = join(dir, 'ws2');
    mkdirSync(other);
    execFileSync('git', ['init', '-q'], { cwd: other });
    write(other, 'nx.json', '{}');
    write(dir, 'elsewhere/project.json', '{"targets":{"build":{"command":"evil"}}}');
    symlinkSync(join(dir, 'elsewhere'), join(other, 'tmp'));
    const { entries } = scanSurface(other, readRepository(other), { env: {} });
    expect(entries['tmp']).toEqual({ kind: 'symlink', rule: 'symlink', target: join(dir, 'elsewhere') });
    expect(entries['tmp/project.json']).toBeUndefined();
  });

  it('reports symlinks with their target text and never follows them', () => {
    const result = scan();
    expect(result.entries['src/link-out']).toEqual({ kind: 'symlink', rule: 'symlink', target: join(dir, 'outside/secret.txt') });
    expect(result.entries['libs/lib/.vscode']).toEqual({ kind: 'symlink', rule: 'vscode', target: join(dir, 'outside') });
    expect(result.entries['__proto__']).toMatchObject({ kind: 'symlink' });
    expect(result.entries['libs/lib/.vscode/tasks.json']).toBeUndefined();
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });

  it('lists a nested node_modules first (its packages and .bin links), and records its files with the others', () => {
    const { entries } = scan();
    const entry = entries['libs/lib/node_modules'];
    expect(entry).toMatchObject({ kind: 'directory', text: '.bin/pkg -> ../pkg/cli.js\n@scope/inner/\npkg/\n' });
    expect(JSON.stringify(entry)).not.toContain('postinstall');
    expect(entries['libs/lib/node_modules/pkg/package.json']).toMatchObject({ rule: 'other', text: '{"scripts":{"postinstall":"evil"}}' });
    expect(entries['libs/lib/node_modules/.bin/pkg']).toMatchObject({ kind: 'symlink', rule: 'other' });
  });

  it('puts a package a local plugin imports from a nested node_modules on the list, whole', () => {
    write(root, 'tools/my-plugin/src/extra.ts', "import 'planted';\n");
    write(root, 'tools/my-plugin/node_modules/planted/index.js', 'evil()\n');
    try {
      expect(scan().entries['tools/my-plugin/node_modules/planted/index.js']?.rule).toBe('nx-plugin');
    } finally {
      rmSync(join(root, 'tools/my-plugin/src/extra.ts'));
      rmSync(join(root, 'tools/my-plugin/node_modules'), { recursive: true });
    }
  });

  it('keeps text files whole and hashes every file', () => {
    const entry = scan().entries['vendor/cloned/.git/config'];
    expect(entry).toMatchObject({ kind: 'file', text: '[core]\n\tfsmonitor = ./evil\n', binary: false, size: 27 });
    expect(entry.kind === 'file' && entry.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('records binary and oversized files as a hash only, and keeps UTF-8 with NUL bytes as text (shown escaped)', () => {
    write(root, 'apps/app/.env.bin', Buffer.from([0x41, 0x00, 0x42]) as unknown as string);
    write(root, 'apps/app/.env.latin1', Buffer.from([0x41, 0xe9, 0x42]) as unknown as string);
    write(root, 'apps/app/.env.big', 'x'.repeat(100));
    try {
      const { entries } = scanSurface(root, readRepository(root), { env: {}, textCap: 50 });
      expect(entries['apps/app/.env.bin']).toMatchObject({ kind: 'file', binary: true, text: 'A\0B', size: 3 });
      expect(entries['apps/app/.env.latin1']).toMatchObject({ kind: 'file', binary: true, text: undefined, size: 3 });
      expect(entries['apps/app/.env.big']).toMatchObject({ kind: 'file', binary: false, text: undefined, size: 100 });
    } finally {
      rmSync(join(root, 'apps/app/.env.bin'));
      rmSync(join(root, 'apps/app/.env.latin1'));
      rmSync(join(root, 'apps/app/.env.big'));
    }
  });

  it('records a FIFO without opening it', () => {
    execFileSync('mkfifo', [join(root, 'apps/app/.env.pipe')]);
    try {
      expect(scan().entries['apps/app/.env.pipe']).toEqual({ kind: 'other', rule: 'dotenv', type: 'FIFO' });
    } finally {
      rmSync(join(root, 'apps/app/.env.pipe'));
    }
  });

  it('says so when a cap stops the walk', () => {
    const capped = scanSurface(root, readRepository(root), { env: {}, maxEntries: 5 });
    expect(capped.incomplete).toEqual([expect.stringContaining('stopped after 5 entries: pass --max-entries=<n>')]);
    const shallow = scanSurface(root, readRepository(root), { env: {}, maxDepth: 1 });
    expect(shallow.incomplete).toContainEqual(expect.stringContaining('apps/app/ is deeper than 1 folders'));
    expect(scan().incomplete).toEqual([]);
  });

  it('notes plugins and hooks outside the workspace, which it does not check', () => {
    write(root, 'nx.json', JSON.stringify({ plugins: ['../elsewhere/plugin'] }));
    execFileSync('git', ['config', 'core.hooksPath', '/etc/hooks'], { cwd: root });
    try {
      expect(scan().notes).toEqual([
        expect.stringMatching(/names \.\.\/elsewhere\/plugin, at .*, outside the workspace/),
        expect.stringMatching(/core\.hooksPath is \/etc\/hooks, outside/),
      ]);
    } finally {
      execFileSync('git', ['config', 'core.hooksPath', '.githooks'], { cwd: root });
    }
  });
});
