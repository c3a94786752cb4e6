import { readProjectConfiguration, Tree } from '@nx/devkit';
import { FsTree } from 'nx/src/generators/tree';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkSandbox, ComposeModel } from '../../rules/compose-rules';
import { parseJsonc } from '../../sandbox/jsonc';
import { DOCKERFILE } from '../../sandbox/vocabulary';
import { validateCompose, validateDevcontainer } from '../../testing/schemas';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from './generator';
import { INITIALIZE_SCRIPT } from './render';
import type { SecureDevcontainerGeneratorSchema } from './schema';

const run = (tree: Tree, options: Partial<SecureDevcontainerGeneratorSchema> = {}) =>
  secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true, ...options } as SecureDevcontainerGeneratorSchema);

function generated(tree: Tree, root = 'apps/app') {
  const dir = `${root}/.devcontainer`;
  const composeText = tree.read(`${dir}/docker-compose.yml`, 'utf-8') as string;
  const devcontainerText = tree.read(`${dir}/devcontainer.json`, 'utf-8') as string;
  return {
    composeText,
    compose: parse(composeText) as ComposeModel & { services: Record<string, any>; networks: Record<string, any>; volumes: Record<string, any> },
    devcontainer: parseJsonc<Record<string, any>>(devcontainerText),
    dockerfile: tree.read(`${dir}/${DOCKERFILE}`, 'utf-8') as string,
  };
}

/** Both schemas and our own rules. */
function expectValid(tree: Tree, root = 'apps/app') {
  const { compose, devcontainer } = generated(tree, root);
  expect(validateCompose(compose)).toEqual([]);
  expect(validateDevcontainer(devcontainer)).toEqual([]);
  expect(
    checkSandbox({
      composeFile: `${root}/.devcontainer/docker-compose.yml`,
      compose,
      devcontainerFile: `${root}/.devcontainer/devcontainer.json`,
      devcontainer,
    }),
  ).toEqual([]);
}

describe('secure-devcontainer generator', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspaceWithProjects();
  });

  describe('default output', () => {
    beforeEach(() => run(tree));

    it('writes three managed files that pass the Compose and Dev Container schemas and our own rules, and one file for your services', () => {
      expect(tree.children('apps/app/.devcontainer').sort()).toEqual(
        ['devcontainer.json', 'docker-compose.services.yml', 'docker-compose.yml', DOCKERFILE].sort(),
      );
      expectValid(tree);
      const services = tree.read('apps/app/.devcontainer/docker-compose.services.yml', 'utf-8') as string;
      expect(parse(services)).toEqual({ services: {} });
      expect(validateCompose(parse(services))).toEqual([]);
      expect(services).not.toMatch(/managed file/);
    });

    it('writes the services file once and leaves it to the user', async () => {
      const path = 'apps/app/.devcontainer/docker-compose.services.yml';
      tree.write(path, 'services:\n  web:\n    image: node:24-trixie-slim\n');
      await run(tree, { network: 'other' });
      expect(tree.read(path, 'utf-8')).toBe('services:\n  web:\n    image: node:24-trixie-slim\n');
    });

    it('gives the socket to the proxy only, read-only, with every capability dropped, on a private network', () => {
      const { compose } = generated(tree);
      const proxy = compose.services['docker-proxy'];
      expect(proxy.volumes).toEqual(['/var/run/docker.sock:/var/run/docker.sock:ro']);
      expect(proxy.cap_drop).toEqual(['ALL']);
      expect(proxy.security_opt).toEqual(['no-new-privileges:true']);
      expect(proxy.read_only).toBe(true);
      expect(proxy.networks).toEqual(['sandbox']);
      expect(compose.networks.sandbox).toMatchObject({ internal: true });
      expect(proxy.build.context).toBe('../../../node_modules/@org/devsec-socket-proxy');
      expect(proxy.build.args).toEqual({ BASE_IMAGE: 'node:24-trixie-slim' });
      expect(proxy.environment).toMatchObject({
        CONTAINERS: '1',
        IMAGES: '1',
        INFO: '1',
        NETWORKS: '1',
        VOLUMES: '1',
        EVENTS: '1',
        PING: '1',
        VERSION: '1',
        SCOPE_LABEL: 'org.devsec.scope=dev',
      });
      for (const name of ['POST', 'EXEC', 'BUILD']) expect(proxy.environment).not.toHaveProperty(name);
      // Bounds that hold 3,000 concurrent GET /events (bench/README.md); the app has none of ours.
      expect(proxy).toMatchObject({ mem_limit: '128m', pids_limit: 64, cpus: 1 });
      expect(compose.services.app).not.toHaveProperty('mem_limit');
    });

    it('runs the dev container as a non-root user, through the proxy, on both networks, with its own node_modules', () => {
      const { compose } = generated(tree);
      const app = compose.services.app;
      expect(app.user).toBe('node');
      expect(app.environment).toEqual({
        DOCKER_HOST: 'tcp://docker-proxy:2375',
        GIT_AUTHOR_NAME: '${DEVSEC_GIT_NAME:-devsec sandbox}',
        GIT_AUTHOR_EMAIL: '${DEVSEC_GIT_EMAIL:-sandbox@devsec.invalid}',
        GIT_COMMITTER_NAME: '${DEVSEC_GIT_NAME:-devsec sandbox}',
        GIT_COMMITTER_EMAIL: '${DEVSEC_GIT_EMAIL:-sandbox@devsec.invalid}',
        NX_CACHE_DIRECTORY: '${DEVSEC_WORKSPACE:-/workspace}/.nx/cache',
        NX_WORKSPACE_DATA_DIRECTORY: '${DEVSEC_WORKSPACE:-/workspace}/.nx/workspace-data',
      });
      expect(app.volumes).toEqual([
        '${DEVSEC_WORKSPACE:-../../..}:${DEVSEC_WORKSPACE:-/workspace}',
        // Read-only as a whole: docker-compose.worktree.yml makes writable only what a commit needs.
        '${DEVSEC_GIT_COMMON_DIR:-../../../.git}:${DEVSEC_GIT_COMMON_DIR:-/workspace/.git}:ro',
        './:${DEVSEC_WORKSPACE:-/workspace}/apps/app/.devcontainer:ro',
        'node_modules:${DEVSEC_WORKSPACE:-/workspace}/node_modules',
        'nx-state:${DEVSEC_WORKSPACE:-/workspace}/.nx',
      ]);
      // The volumes take their owner from the image, built for the workspace's path.
      expect(app.build.args).toEqual({ DEVSEC_WORKSPACE: '${DEVSEC_WORKSPACE:-/workspace}' });
      expect(app.networks).toEqual(['sandbox', 'shared']);
      expect(compose.networks.shared).toEqual({ name: 'dev', external: true });
      expect(app.security_opt).toEqual(['no-new-privileges:true']);
      expect(app.privileged).toBeUndefined();
      expect(app.depends_on).toEqual({ 'docker-proxy': { condition: 'service_healthy' } });
      expect(Object.keys(compose.volumes)).toEqual(['node_modules', 'nx-state']);
    });

    it('labels every service as ours, in the proxy scope', () => {
      const { compose } = generated(tree);
      for (const service of ['docker-proxy', 'app']) {
        expect(compose.services[service].labels).toEqual({ 'org.devsec.managed': 'true', 'org.devsec.project': 'app', 'org.devsec.scope': 'dev' });
      }
    });

    it('points devcontainer.json at the compose service, non-root, left running', () => {
      const { devcontainer } = generated(tree);
      expect(devcontainer).toEqual({
        name: 'app (devsec sandbox)',
        dockerComposeFile: ['docker-compose.yml', 'docker-compose.services.yml', 'docker-compose.worktree.yml'],
        service: 'app',
        runServices: ['docker-proxy', 'app'],
        initializeCommand: ['node', '-e', INITIALIZE_SCRIPT, 'apps/app'],
        workspaceFolder: '${localWorkspaceFolder}',
        shutdownAction: 'none',
        remoteUser: 'node',
      });
      expect(devcontainer).not.toHaveProperty('features');
    });

    it('builds an image with git, ripgrep and the docker client, without sudo, ending as a non-root user', () => {
      const { dockerfile } = generated(tree);
      expect(dockerfile).toMatch(/apt-get install[^\n]*\\\n[^\n]*git[^\n]*ripgrep[^\n]*docker-cli/);
      expect(dockerfile).not.toMatch(/^[^#]*\bsudo\b/m);
      expect(dockerfile).not.toMatch(/docker\.io|docker-ce\b|dockerd/);
      const users = [...dockerfile.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
      expect(users[users.length - 1]).toBe('node');
      expect(dockerfile).toContain('ARG BASE_IMAGE=node:24-trixie-slim');
    });

    it('marks each file as managed, and git-ignores the per-machine .env', () => {
      const { composeText, dockerfile } = generated(tree);
      expect(composeText.split('\n')[0]).toMatch(/^# @org\/devsec managed file, fingerprint [0-9a-f]{12}\./);
      expect(dockerfile.split('\n')[0]).toMatch(/^# @org\/devsec managed file/);
      expect((tree.read('apps/app/.devcontainer/devcontainer.json', 'utf-8') as string).split('\n')[0]).toMatch(/^\/\/ @org\/devsec managed file/);
      expect(tree.read('.gitignore', 'utf-8')).toContain('apps/app/.devcontainer/.env\napps/app/.devcontainer/docker-compose.worktree.yml\n');
    });
  });

  describe('options', () => {
    it('uses the shared network given, in the network, the scope and the labels', () => {
      run(tree, { network: 'team_net.1' });
      const { compose } = generated(tree);
      expect(compose.networks.shared).toEqual({ name: 'team_net.1', external: true });
      expect(compose.services['docker-proxy'].environment.SCOPE_LABEL).toBe('org.devsec.scope=team_net.1');
      expect(compose.services.app.labels['org.devsec.scope']).toBe('team_net.1');
      expectValid(tree);
    });

    it('builds both images from the base image given', () => {
      run(tree, { baseImage: 'registry.example.com:5000/tools/node:24.11-trixie@sha256:' + 'a'.repeat(64) });
      const { compose, dockerfile } = generated(tree);
      expect(compose.services['docker-proxy'].build.args.BASE_IMAGE).toBe('registry.example.com:5000/tools/node:24.11-trixie@sha256:' + 'a'.repeat(64));
      expect(dockerfile).toContain('ARG BASE_IMAGE=registry.example.com:5000/tools/node:24.11-trixie@sha256:');
      expectValid(tree);
    });

    it('installs extra apt packages, given as a list or comma-separated', () => {
      run(tree, { aptPackages: ['postgresql-client,jq', 'g++'] });
      expect(generated(tree).dockerfile).toMatch(/docker-cli postgresql-client jq g\+\+ \\/);
    });

    it.each([
      ['claude', '/home/node/.claude', { CLAUDE_CONFIG_DIR: '/home/node/.claude' }, '@anthropic-ai/claude-code'],
      ['codex', '/home/node/.codex', { CODEX_HOME: '/home/node/.codex' }, '@openai/codex'],
    ] as const)('gives the %s agent its own config volume and CLI, and nothing of the host home', (agent, dir, env, npmPackage) => {
      run(tree, { agent });
      const { compose, composeText } = generated(tree);
      expect(compose.services.app.volumes).toContain(`agent-config:${dir}`);
      expect(compose.services.app.environment).toMatchObject(env);
      expect(compose.services.app.build.args).toEqual({ DEVSEC_WORKSPACE: '${DEVSEC_WORKSPACE:-/workspace}', AGENT_NPM_PACKAGE: npmPackage });
      expect(Object.keys(compose.volumes)).toEqual(['node_modules', 'nx-state', 'agent-config']);
      expect(composeText).not.toMatch(/~|\$\{?HOME|\.ssh|\.gnupg|\.aws|gcloud|\.docker\/config/);
      expectValid(tree);
    });

    it('mounts no agent config with --agent=none', () => {
      run(tree, { agent: 'none' });
      const { compose } = generated(tree);
      expect(compose.services.app.volumes).toHaveLength(5);
      expect(compose.services.app.build.args).toEqual({ DEVSEC_WORKSPACE: '${DEVSEC_WORKSPACE:-/workspace}' });
    });

    it('turns read switches off as asked, with Tecnativa names', () => {
      run(tree, { IMAGES: false, VOLUMES: false, EVENTS: false });
      expect(generated(tree).compose.services['docker-proxy'].environment).toMatchObject({ IMAGES: '0', VOLUMES: '0', EVENTS: '0', CONTAINERS: '1' });
    });

    it('handles nested project roots', () => {
      run(tree, { project: 'frontend' });
      const { compose } = generated(tree, 'apps/web/frontend');
      expect(compose.services.app.volumes[0]).toBe('${DEVSEC_WORKSPACE:-../../../..}:${DEVSEC_WORKSPACE:-/workspace}');
      expect(compose.services.app.volumes[2]).toBe('./:${DEVSEC_WORKSPACE:-/workspace}/apps/web/frontend/.devcontainer:ro');
      expect(compose.services['docker-proxy'].build.context).toBe('../../../../node_modules/@org/devsec-socket-proxy');
      expectValid(tree, 'apps/web/frontend');
    });

    it('handles scoped project names', () => {
      run(tree, { project: '@acme/web' });
      const { compose, devcontainer } = generated(tree, 'packages/web');
      expect(compose.services.app.labels['org.devsec.project']).toBe('@acme/web');
      expect(devcontainer.name).toBe('@acme/web (devsec sandbox)');
      expectValid(tree, 'packages/web');
    });
  });

  describe('re-runs and user edits', () => {
    it('changes nothing when run again with the same options', async () => {
      await run(tree, { agent: 'claude' });
      const before = snapshot(tree);
      await run(tree, { agent: 'claude' });
      expect(snapshot(tree)).toEqual(before);
    });

    it('records no change at all for a re-run on a committed workspace', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'devsec-rerun-'));
      try {
        writeFileSync(join(dir, 'nx.json'), '{}');
        writeFileSync(join(dir, 'package.json'), '{"name":"ws"}');
        mkdirSync(join(dir, 'apps/app'), { recursive: true });
        writeFileSync(join(dir, 'apps/app/project.json'), '{"name":"app","root":"apps/app"}');
        const first = new FsTree(dir, false);
        await run(first);
        const { flushChanges } = jest.requireActual('nx/src/generators/tree');
        flushChanges(dir, first.listChanges());
        const second = new FsTree(dir, false);
        await run(second);
        expect(second.listChanges().map((change) => `${change.type} ${change.path}`)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('regenerates an untouched file whose options changed', async () => {
      await run(tree);
      await run(tree, { network: 'other' });
      expect(generated(tree).compose.networks.shared.name).toBe('other');
    });

    it('stops, naming the file, instead of losing a hand edit; the tree is unchanged', async () => {
      await run(tree);
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      tree.write(path, (tree.read(path, 'utf-8') as string).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
      const before = snapshot(tree);
      await expect(run(tree, { network: 'other' })).rejects.toThrow(
        /edited by hand: apps\/app\/\.devcontainer\/docker-compose\.yml.*delete its "@org\/devsec managed file" line.*--force/,
      );
      expect(snapshot(tree)).toEqual(before);
    });

    it('does not count reformatting or comments as an edit', async () => {
      await run(tree);
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      const text = tree.read(path, 'utf-8') as string;
      tree.write(path, text.replace('LOG_LEVEL: info', "LOG_LEVEL: 'info'   # quoted by a formatter"));
      await expect(run(tree)).resolves.toBeDefined();
    });

    it('leaves a file alone once the user deletes its marker', async () => {
      await run(tree);
      const path = `apps/app/.devcontainer/${DOCKERFILE}`;
      const owned = (tree.read(path, 'utf-8') as string).split('\n').slice(1).join('\n') + 'RUN echo mine\n';
      tree.write(path, owned);
      await run(tree, { aptPackages: ['jq'] });
      expect(tree.read(path, 'utf-8')).toBe(owned);
    });

    it('replaces an edited file with --force', async () => {
      await run(tree);
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      tree.write(path, (tree.read(path, 'utf-8') as string).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
      await run(tree, { force: true });
      expect(tree.read(path, 'utf-8')).toContain('LOG_LEVEL: info');
    });
  });

  it('has no side effect outside the Tree (what --dry-run relies on)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsec-dry-'));
    try {
      writeFileSync(join(dir, 'nx.json'), '{}');
      mkdirSync(join(dir, 'apps/app'), { recursive: true });
      writeFileSync(join(dir, 'apps/app/project.json'), '{"name":"app","root":"apps/app"}');
      const list = () => readdirSync(dir, { recursive: true }).map(String).sort();
      const before = list();
      const dryTree = new FsTree(dir, false);
      await secureDevcontainerGenerator(dryTree, { project: 'app' });
      expect(dryTree.listChanges().length).toBeGreaterThan(0);
      expect(list()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('bad input: a clear error naming the option and the fix, and an unchanged tree', () => {
    it.each([
      [{ project: 'nope' }, /--project: no project named "nope".*Pick one of: @acme\/web, app, frontend/],
      [{ network: 'bad net' }, /--network: "bad net" is not a valid Docker network name.*--network=dev/],
      [{ network: '-dev' }, /--network: "-dev"/],
      [{ baseImage: 'node:24 trixie' }, /--baseImage: "node:24 trixie" is not an image reference.*--baseImage=node:24-trixie-slim/],
      [{ baseImage: 'Node:24' }, /--baseImage/],
      [{ agent: 'copilot' as never }, /--agent: "copilot" is not supported. Use one of: claude, codex, none/],
      [{ aptPackages: ['sudo'] }, /--aptPackages: sudo would let the agent become root/],
      [{ aptPackages: ['rm -rf'] }, /--aptPackages: "rm" is not|--aptPackages: "-rf" is not/],
      [{ POST: true }, /--POST: the socket proxy is read-only by construction/],
      [{ EXEC: true, BUILD: true }, /--BUILD, --EXEC|--EXEC, --BUILD/],
      [{ PING: false }, /--PING=false/],
    ])('%p', async (options, message) => {
      const before = snapshot(tree);
      await expect(run(tree, options)).rejects.toThrow(message);
      expect(snapshot(tree)).toEqual(before);
    });

    it('refuses a project that already has a foreign .devcontainer', async () => {
      tree.write('apps/app/.devcontainer/devcontainer.json', '{ "image": "mcr.microsoft.com/devcontainers/base" }');
      const before = snapshot(tree);
      await expect(run(tree)).rejects.toThrow(/apps\/app\/\.devcontainer already exists and was not created by @org\/devsec \(devcontainer\.json\).*git mv/);
      expect(snapshot(tree)).toEqual(before);
    });

    it('keeps the project configuration untouched', async () => {
      const before = readProjectConfiguration(tree, 'app');
      await run(tree);
      expect(readProjectConfiguration(tree, 'app')).toEqual(before);
    });
  });
});
