/**
 * Real engine: Compose v2 itself accepts what the generator writes, for every combination of
 * options, and our rules pass on the effective model it computes.
 */
import { Tree } from '@nx/devkit';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describeWithDocker, docker } from '../../../../../tools/testing/docker';
import { checkSandbox, checkStack, StackContext } from '../../rules/compose-rules';
import { realPath } from '../../host/guard/gate';
import { readGitLayout } from '../../host/git/git-layout';
import { gitMounts } from '../../host/git/git-mounts';
import { findOurDevcontainers, worktreeOverrideFile } from '../../host/git/worktree';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { localhostProxyGenerator } from '../localhost-proxy/generator';
import { secureDevcontainerGenerator } from './generator';
import type { SecureDevcontainerGeneratorSchema } from './schema';

jest.setTimeout(120_000);

const projects = [
  ['app', 'apps/app'],
  ['frontend', 'apps/web/frontend'],
  ['@acme/web', 'packages/web'],
] as const;
const agents = ['claude', 'codex', 'none'] as const;
const variants: Array<Partial<SecureDevcontainerGeneratorSchema>> = [
  {},
  { network: 'team.net_2', baseImage: 'example.com:5000/node:24-trixie', aptPackages: ['jq', 'postgresql-client'], IMAGES: false, INFO: false, EVENTS: false },
];

const combinations = projects.flatMap(([project, root]) =>
  agents.flatMap((agent) => variants.map((variant, index) => [`${project} agent=${agent} variant=${index}`, { project, agent, ...variant }, root] as const)),
);

function writeToDisk(tree: Tree, dir: string) {
  for (const [path, content] of Object.entries(snapshot(tree))) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  // The proxy's build context, as `nx add` installs it.
  mkdirSync(join(dir, 'node_modules/@org/devsec-socket-proxy'), { recursive: true });
}

describeWithDocker('generated compose files under docker compose config (Compose v2)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(combinations)('%s', async (_name, options, root) => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { skipFormat: true, ...options } as SecureDevcontainerGeneratorSchema);
    const workspace = join(dir, `${Math.random().toString(36).slice(2)}`);
    writeToDisk(tree, workspace);
    const composeFile = join(workspace, root, '.devcontainer/docker-compose.yml');
    const config = docker(['compose', '-f', composeFile, 'config', '--format', 'json']);
    expect(config.stderr).toBe('');
    expect(config.status).toBe(0);
    const model = JSON.parse(config.stdout);
    expect(checkSandbox({ composeFile, compose: model })).toEqual([]);
    // The stack rules with the workspace known: the compose file alone keeps .git and node_modules from the agent.
    expect(checkStack(model, { kind: 'worktree', composeFile, workspaceRoot: workspace, gitCommonDir: join(workspace, '.git'), realPath })).toEqual([]);
    // Relative paths resolve to the workspace root and the installed proxy package.
    const workspaceMount = model.services.app.volumes.find((v: { target: string }) => v.target === '/workspace');
    const definition = model.services.app.volumes.find((v: { target: string }) => v.target === `/workspace/${root}/.devcontainer`);
    expect(definition).toMatchObject({ source: join(workspace, root, '.devcontainer'), read_only: true });
    expect(workspaceMount.source).toBe(workspace);
    expect(model.services['docker-proxy'].build.context).toBe(join(workspace, 'node_modules/@org/devsec-socket-proxy'));
    // Compose's reading of the proxy's bounds: 128 MiB, 64 tasks, one CPU.
    expect(model.services['docker-proxy']).toMatchObject({ mem_limit: '134217728', pids_limit: 64, cpus: 1 });
    expect(model.services['egress-proxy']).toMatchObject({ mem_limit: '134217728', pids_limit: 64, cpus: 1 });
    expect(model.networks.shared).toMatchObject({ name: options.network ?? 'dev', external: true });
    // The proxy's scope names this very stack, as Compose labels its containers, and the shared services.
    expect(model.services['docker-proxy'].environment.SCOPE_LABEL).toBe(
      `com.docker.compose.project=${model.name},org.devsec.scope=${options.network ?? 'dev'}`,
    );
  });

  it('--testContainers: the proxy gets the write policy for this very stack, and the gate passes it', async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true, testContainers: true });
    const workspace = join(dir, 'test-containers');
    writeToDisk(tree, workspace);
    const composeFile = join(workspace, 'apps/app/.devcontainer/docker-compose.yml');
    const config = docker(['compose', '-f', composeFile, 'config', '--format', 'json']);
    expect(config.stderr).toBe('');
    const model = JSON.parse(config.stdout);
    expect(model.services['docker-proxy'].environment).toMatchObject({
      WRITE_POLICY: '1',
      WRITE_OWNER: model.name,
      CHILDREN_NETWORK: `${model.name}_children`,
      ALLOW_REGISTRIES: 'docker.io',
    });
    expect(model.networks.children).toMatchObject({ name: `${model.name}_children`, internal: true });
    const context: StackContext = { kind: 'worktree', composeFile, workspaceRoot: workspace, gitCommonDir: join(workspace, '.git'), realPath };
    expect(checkStack(model, context)).toEqual([]);
    // The same variables by hand, without the stored option, are refused.
    delete model['x-devsec'].options.testContainers;
    expect(checkStack(model, context).map((f) => f.rule)).toEqual(['proxy-write-policy']);
  });

  it('gives the localhost-proxy forwarder its bounds too', async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    tree.write('apps/app/.devcontainer/docker-compose.services.yml', 'services:\n  web:\n    image: node:24-trixie-slim\n    networks: [sandbox]\n');
    await localhostProxyGenerator(tree, { project: 'app', skipFormat: true });
    const workspace = join(dir, 'forwarder');
    writeToDisk(tree, workspace);
    const files = ['docker-compose.yml', 'docker-compose.services.yml'].flatMap((file) => ['-f', join(workspace, 'apps/app/.devcontainer', file)]);
    const config = docker(['compose', ...files, 'config', '--format', 'json']);
    expect(config.stderr).toBe('');
    const model = JSON.parse(config.stdout);
    expect(model.services['localhost-proxy']).toMatchObject({ mem_limit: '134217728', pids_limit: 64, cpus: 1 });
  });

  /** What prepareWorktree writes for the worktree at `root`: .env, and the override with the read-only pins and the git mounts. */
  function prepare(root: string, devcontainer: string, stateDir: string, commonDir: string) {
    writeFileSync(join(devcontainer, '.env'), `DEVSEC_WORKSPACE=${root}\nDEVSEC_GIT_COMMON_DIR=${commonDir}\n`);
    writeFileSync(join(root, 'docker-compose.shared.yml'), 'services: {}\n');
    const pins = [...findOurDevcontainers(root).map((folder) => join(root, folder)), join(root, 'docker-compose.shared.yml')];
    const mounts = [...pins.map((path) => ({ source: path, target: path, readOnly: true })), ...gitMounts(readGitLayout(root), join(stateDir, 'git'))];
    writeFileSync(join(devcontainer, 'docker-compose.worktree.yml'), worktreeOverrideFile(mounts));
  }

  it.each(['main', 'linked'])("passes the gate's stack rules with up-worktree's git mounts laid over it, in a %s worktree", async (kind) => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', agent: 'claude', skipFormat: true });
    const main = realPath(join(dir, `git-${kind}`));
    writeToDisk(tree, main);
    const git = (cwd: string, ...args: string[]) =>
      expect(spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf-8' }).status).toBe(0);
    git(main, 'init', '-q');
    git(main, 'add', '-A');
    git(main, 'commit', '-qm', 'sandbox');
    const root = kind === 'main' ? main : `${main}-linked`;
    if (kind === 'linked') git(main, 'worktree', 'add', '-q', root);
    mkdirSync(join(root, 'node_modules/@org/devsec-socket-proxy'), { recursive: true });
    const devcontainer = join(root, 'apps/app/.devcontainer');
    const stateDir = join(dir, `state-${kind}`);
    prepare(root, devcontainer, stateDir, join(main, '.git'));
    const files = ['docker-compose.yml', 'docker-compose.worktree.yml'].flatMap((file) => ['-f', join(devcontainer, file)]);
    const config = docker(['compose', ...files, 'config', '--format', 'json']);
    expect(config.stderr).toBe('');
    const model = JSON.parse(config.stdout);
    const context: StackContext = {
      kind: 'worktree',
      composeFile: join(devcontainer, 'docker-compose.yml'),
      workspaceRoot: root,
      gitCommonDir: join(main, '.git'),
      devcontainerDir: devcontainer,
      stateDir,
      realPath,
    };
    expect(checkStack(model, context)).toEqual([]);
    // And the same stack with the whole git dir writable at .git, as the generated file was before up-worktree's own git dir, is refused.
    const dotGit = model.services.app.volumes.find((v: { target: string }) => v.target === join(root, '.git'));
    Object.assign(dotGit, { source: join(main, '.git'), read_only: false });
    expect(checkStack(model, context).map((f) => f.rule)).toContain('git-hooks-writable');
  });
});
