/**
 * `devsec check` over everything the sandbox can write (issue #26), tried as an attacker would,
 * on the real engine: the agent plants from inside a running sandbox (docker exec as the
 * container's user), then the host user runs `devsec check`, as the README says to before
 * anything else. Pass: check names the planted file first (among what the host runs or trusts
 * without asking), or among every other change, and exits 1. Each case then approves what it
 * planted (`devsec trust --yes`), so the next one starts from a clean snapshot. One workspace
 * and one sandbox for the whole suite.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describeWithDocker, docker } from '../../../../tools/testing/docker';
import { createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import { checkCommand } from '../cli/check';
import { trustCommand } from '../cli/trust';
import { CommandIO } from '../cli/surface-command';

jest.setTimeout(600_000);

const LISTED = /Executed or trusted by the host without asking \(\d+\): read these first\./;
const OTHERS = /Every other change \(\d+\)/;

describeWithDocker('devsec check over everything the sandbox can write: what the agent plants is named, exit 1', () => {
  let stack: SandboxStackFixture;
  let dir: string;
  let app: string;
  let stateHome: string;
  /** A shell script run inside the dev container as its user, in the workspace. */
  const plant = (script: string) =>
    expect(docker(['exec', '-u', 'node', '-w', dir, app, 'bash', '-c', `set -e; ${script}`])).toMatchObject({ status: 0, stderr: '' });
  const cli = async (command: typeof checkCommand, argv: string[] = []) => {
    const stdout = new PassThrough();
    let printed = '';
    stdout.on('data', (chunk) => (printed += chunk));
    const io: CommandIO = {
      stdout,
      stderr: new PassThrough(),
      stdin: new PassThrough(),
      isTTY: false,
      env: { ...process.env, XDG_STATE_HOME: stateHome },
      cwd: dir,
    };
    const code = await command(argv, io);
    return { code, stdout: printed };
  };
  /** devsec check on the host: its exit code, what it shows first (the host runs or trusts it) and the rest. */
  const check = async () => {
    const { code, stdout } = await cli(checkCommand);
    const [head, others = ''] = stdout.split(OTHERS);
    return { code, stdout, listed: LISTED.test(head) ? head.slice(head.search(LISTED)) : '', others };
  };
  /** What was planted, approved (the next case starts from a clean snapshot). */
  const approve = async () => {
    expect((await cli(trustCommand, ['--yes'])).code).toBe(0);
    expect((await check()).code).toBe(0);
  };

  beforeAll(async () => {
    stack = await createSandboxStack('check', {
      prepare: (dir) => {
        // What the host user set up (trusted): Nx plugins that read configs at graph time, a local
        // plugin whose import chain goes three levels down, and dist/ and tmp/ ignored by git.
        const nxJson = JSON.parse(readFileSync(join(dir, 'nx.json'), 'utf-8')) as { plugins?: unknown[] };
        nxJson.plugins = [...(nxJson.plugins ?? []), '@nx/jest/plugin', '@nx/vite/plugin', '@nx/eslint/plugin', '@nx/playwright/plugin', './tools/myplugin'];
        writeFileSync(join(dir, 'nx.json'), `${JSON.stringify(nxJson, null, 2)}\n`);
        mkdirSync(join(dir, 'tools/myplugin'), { recursive: true });
        writeFileSync(join(dir, 'tools/myplugin/index.js'), "const a = require('../../libs/a/a');\nexports.createNodes = ['**/never.json', () => a()];\n");
        for (const [from, to] of [
          ['a', "require('../b/b')"],
          ['b', "require('../c/c.js')"],
          ['c', '() => ({})'],
        ]) {
          mkdirSync(join(dir, `libs/${from}`), { recursive: true });
          writeFileSync(join(dir, `libs/${from}/${from}.js`), `module.exports = ${to};\n`);
        }
        const gitignore = join(dir, '.gitignore');
        writeFileSync(gitignore, `${existsSync(gitignore) ? readFileSync(gitignore, 'utf-8') : ''}node_modules\n.nx\ndist\ntmp\n`);
        mkdirSync(join(dir, 'tmp'), { recursive: true });
        mkdirSync(join(dir, 'dist'), { recursive: true });
      },
    });
    ({ dir, stateHome } = stack);
    expect(await stack.up()).toMatchObject({ success: true, errors: '' });
    app = stack.app;
    // The baseline: the host approves what it set up.
    expect((await cli(checkCommand)).code).toBe(0);
    expect((await check()).code).toBe(0);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('names packages/foo/jest.config.js, which @nx/jest/plugin in nx.json runs at graph time (nx show projects)', async () => {
    plant("mkdir -p packages/foo && echo \"require('child_process').execSync('id > /tmp/pwned');\" > packages/foo/jest.config.js");
    const { code, listed } = await check();
    expect(code).toBe(1);
    expect(listed).toContain('added packages/foo/jest.config.js: a file — Nx: the plugin reads it, and runs it');
    expect(listed).toContain("+require('child_process').execSync('id > /tmp/pwned');");
    await approve();
  });

  it('names the graph-time configs of @nx/vite, @nx/eslint and @nx/playwright', async () => {
    plant('for f in vite.config.ts eslint.config.mjs playwright.config.ts; do echo "export default {};" > apps/app/$f; done');
    const { code, listed } = await check();
    expect(code).toBe(1);
    for (const file of ['apps/app/vite.config.ts', 'apps/app/eslint.config.mjs', 'apps/app/playwright.config.ts'])
      expect(listed).toContain(`added ${file}: a file — Nx: the plugin reads it, and runs it`);
    await approve();
  });

  it('names a file three imports down from a local plugin nx.json names (Nx loads it in-process)', async () => {
    plant("echo \"module.exports = () => require('child_process').execSync('id > /tmp/pwned');\" > libs/c/c.js");
    const { code, listed } = await check();
    expect(code).toBe(1);
    expect(listed).toContain('changed libs/c/c.js — Nx: loads it in-process on every graph computation');
    await approve();
  });

  it('walks tmp/: tmp/evil/project.json (nx run-many -t build would run it) once tmp is out of .gitignore', async () => {
    plant(
      'sed -i \'/^tmp$/d\' .gitignore && mkdir -p tmp/evil && echo \'{ "name": "evil", "targets": { "build": { "command": "id > /tmp/pwned" } } }\' > tmp/evil/project.json',
    );
    const { code, listed, others } = await check();
    expect(code).toBe(1);
    expect(listed).toContain('added tmp/evil/project.json: a file — Nx: every target is a command the host runs');
    expect(others).toMatch(/changed +\.gitignore/);
    await approve();
  });

  it('walks dist/: dist/.git/config with core.fsmonitor (git -C dist status would run it)', async () => {
    plant('git -c init.defaultBranch=main init -q dist && printf \'[core]\\n\\tfsmonitor = "id > /tmp/pwned"\\n\' >> dist/.git/config');
    const { code, listed } = await check();
    expect(code).toBe(1);
    expect(listed).toContain('added dist/.git: a git folder');
    expect(listed).toMatch(/added dist\/\.git\/config: a file — git and VS Code[\s\S]*fsmonitor = "id > \/tmp\/pwned"/);
    await approve();
  });

  it('names a symlinked tmp by its target, never following it', async () => {
    plant('rm -rf tmp && ln -s /home/node tmp');
    const { code, listed } = await check();
    expect(code).toBe(1);
    expect(listed).toContain('added tmp: a symlink -> /home/node — any tool above that reads through it');
    expect(listed).toMatch(/deleted tmp\/evil\/project\.json/);
    await approve();
  });

  it(".yarnrc.yml's yarnPath and the file it names, and .pnpmfile.cjs, are shown first", async () => {
    plant(
      "printf 'yarnPath: scripts/yarn.cjs\\n' > .yarnrc.yml && mkdir -p scripts && echo \"require('child_process').execSync('id > /tmp/pwned');\" > scripts/yarn.cjs && echo 'module.exports = { hooks: { readPackage: (p) => p } };' > .pnpmfile.cjs",
    );
    const { code, listed } = await check();
    expect(code).toBe(1);
    expect(listed).toContain('added .yarnrc.yml: a file — yarn, pnpm');
    expect(listed).toContain('added scripts/yarn.cjs: a file — yarn, pnpm');
    expect(listed).toContain('added .pnpmfile.cjs: a file — yarn, pnpm');
    await approve();
  });

  it('shows every other change too, after the list, as one line each', async () => {
    plant('mkdir -p apps/app/src && echo "export const x = 1;" > apps/app/src/new.ts');
    const { code, listed, others } = await check();
    expect(code).toBe(1);
    expect(listed).toBe('');
    expect(others).toMatch(/added +apps\/app\/src\/new\.ts \| \+1 -0/);
    await approve();
  });
});
