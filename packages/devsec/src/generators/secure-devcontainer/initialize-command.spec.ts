/**
 * devcontainer.json's initializeCommand, run exactly as VS Code and the devcontainer CLI run it
 * (an array: no shell), from the workspace root and from the project folder, after the agent
 * planted a `.git` and a fake plugin in the project folder.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INITIALIZE_SCRIPT } from '../common/render';

describe('the initializeCommand', () => {
  let root: string;
  const project = 'apps/app';
  const plugin = (dir: string, marker: string) => {
    const bin = join(dir, 'node_modules/@org/devsec/src/bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'devsec.js'),
      `require('fs').writeFileSync(${JSON.stringify(marker)}, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd() }));`,
    );
  };
  const run = (cwd: string) => spawnSync('node', ['-e', INITIALIZE_SCRIPT, project], { cwd, encoding: 'utf-8' });

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-init-'));
    writeFileSync(join(root, 'nx.json'), '{}');
    mkdirSync(join(root, project, '.devcontainer'), { recursive: true });
    writeFileSync(join(root, project, '.devcontainer/devcontainer.json'), '{}');
    plugin(root, join(root, 'ran-root-plugin'));
    // The agent's plant: a repository and a plugin of its own in the project folder.
    mkdirSync(join(root, project, '.git'));
    writeFileSync(join(root, project, '.git/HEAD'), 'ref: refs/heads/main\n');
    plugin(join(root, project), join(root, 'ran-planted-plugin'));
    writeFileSync(join(root, project, 'nx.json'), '{}');
    mkdirSync(join(root, project, project, '.devcontainer'), { recursive: true });
    writeFileSync(join(root, project, project, '.devcontainer/devcontainer.json'), '{}');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it.each([
    ['the workspace root', () => root],
    ['the project folder', () => join(root, project)],
  ])('opened at %s, runs the root plugin from the root, never the planted one', (_name, cwd) => {
    const result = run(cwd());
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(existsSync(join(root, 'ran-planted-plugin'))).toBe(false);
    expect(JSON.parse(readFileSync(join(root, 'ran-root-plugin'), 'utf-8'))).toEqual({ argv: ['prepare', project], cwd: root });
  });

  it('refuses a folder that is neither, saying what to open', () => {
    const result = run(join(root, 'apps'));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/open the workspace root or apps\/app/);
    expect(existsSync(join(root, 'ran-root-plugin'))).toBe(false);
  });

  it("passes on the plugin's refusal", () => {
    writeFileSync(join(root, 'node_modules/@org/devsec/src/bin/devsec.js'), 'process.exit(1)');
    expect(run(root).status).toBe(1);
  });
});
