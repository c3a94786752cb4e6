import { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { validateCompose } from '../../testing/schemas';
import { DOCKERFILE } from '../../sandbox/vocabulary';
import { expectValid, generated, run } from '../../testing/generated-sandbox';
import { workspaceWithProjects } from '../../testing/workspace';
import { INITIALIZE_SCRIPT } from '../common/render';
import { FILL_NODE_MODULES_SCRIPT } from '../../sandbox/node-modules';

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
      // The engine's socket and who may use it come from .env (up-worktree learns them from inside the engine).
      expect(proxy.volumes).toEqual(['${DEVSEC_DOCKER_SOCKET:-/var/run/docker.sock}:/var/run/docker.sock:ro']);
      expect(proxy.user).toBe('${DEVSEC_DOCKER_PROXY_USER:-node}');
      expect(proxy.group_add).toEqual(['${DEVSEC_DOCKER_GID:-0}']);
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
        SCOPE_LABEL: 'com.docker.compose.project=${COMPOSE_PROJECT_NAME},org.devsec.scope=dev',
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
        GIT_CONFIG_GLOBAL: '/home/node/.config/devsec/gitconfig',
        GIT_CONFIG_NOSYSTEM: '1',
        DOCKER_CONFIG: '/home/node/.config/devsec/docker',
        DEVSEC_WORKSPACE: '${DEVSEC_WORKSPACE:-/workspace}',
        DEVSEC_HOST_PLATFORM: '${DEVSEC_HOST_PLATFORM:-unknown}',
        HTTP_PROXY: 'http://egress-proxy:3128',
        HTTPS_PROXY: 'http://egress-proxy:3128',
        http_proxy: 'http://egress-proxy:3128',
        https_proxy: 'http://egress-proxy:3128',
        NO_PROXY: 'localhost,127.0.0.1,::1,docker-proxy',
        no_proxy: 'localhost,127.0.0.1,::1,docker-proxy',
        NODE_USE_ENV_PROXY: '1',
      });
      expect(app.volumes).toEqual([
        '${DEVSEC_WORKSPACE:-../../..}:${DEVSEC_WORKSPACE:-/workspace}',
        // Read-only as a whole: docker-compose.worktree.yml makes writable only what a commit needs.
        '${DEVSEC_GIT_COMMON_DIR:-../../../.git}:${DEVSEC_GIT_COMMON_DIR:-/workspace/.git}:ro',
        './:${DEVSEC_WORKSPACE:-/workspace}/apps/app/.devcontainer:ro',
        'node_modules:${DEVSEC_WORKSPACE:-/workspace}/node_modules',
        'nx-state:${DEVSEC_WORKSPACE:-/workspace}/.nx',
        // The host's install, read-only: what the volume is filled from on the first start.
        '${DEVSEC_WORKSPACE:-../../..}/node_modules:/devsec/host-node_modules:ro',
      ]);
      // The volumes take their owner from the image, built for the workspace's path.
      expect(app.build.args).toEqual({ DEVSEC_WORKSPACE: '${DEVSEC_WORKSPACE:-/workspace}' });
      expect(app.networks).toEqual(['sandbox', 'shared']);
      expect(compose.networks.shared).toEqual({ name: 'dev', external: true });
      expect(app.security_opt).toEqual(['no-new-privileges:true']);
      expect(app.privileged).toBeUndefined();
      expect(app.depends_on).toEqual({ 'docker-proxy': { condition: 'service_healthy' }, 'egress-proxy': { condition: 'service_healthy' } });
      expect(Object.keys(compose.volumes)).toEqual(['node_modules', 'nx-state']);
    });

    it("labels every service as ours; the proxy's scope is this stack's compose project and the shared services, not a label of the stack", () => {
      const { compose } = generated(tree);
      for (const service of ['docker-proxy', 'egress-proxy']) {
        // org.devsec.scope on a stack container would put it in every other stack's scope.
        expect(compose.services[service].labels).toEqual({ 'org.devsec.managed': 'true', 'org.devsec.project': 'app' });
      }
      // The dev container also says how it reaches the outside: the gate and the audit read it.
      expect(compose.services.app.labels).toEqual({ 'org.devsec.managed': 'true', 'org.devsec.project': 'app', 'org.devsec.egress': 'allowlist' });
    });

    it('points devcontainer.json at the compose service, non-root, left running', () => {
      const { devcontainer } = generated(tree);
      expect(devcontainer).toEqual({
        name: 'app (devsec sandbox)',
        dockerComposeFile: ['docker-compose.yml', 'docker-compose.services.yml', 'docker-compose.worktree.yml'],
        service: 'app',
        runServices: ['docker-proxy', 'app'],
        initializeCommand: ['node', '-e', INITIALIZE_SCRIPT, 'apps/app'],
        postStartCommand: ['sh', '-c', FILL_NODE_MODULES_SCRIPT],
        workspaceFolder: '${localWorkspaceFolder}',
        shutdownAction: 'none',
        remoteUser: 'node',
        // VS Code's channels to the host blanked where devcontainer.json can (README: the user settings close the rest).
        remoteEnv: {
          SSH_AUTH_SOCK: '',
          GIT_ASKPASS: '',
          VSCODE_GIT_ASKPASS_MAIN: '',
          VSCODE_GIT_ASKPASS_NODE: '',
          VSCODE_GIT_ASKPASS_EXTRA_ARGS: '',
          VSCODE_GIT_IPC_HANDLE: '',
        },
        customizations: { vscode: { settings: { 'git.terminalAuthentication': false, 'github.gitAuthentication': false, 'git.useIntegratedAskPass': false } } },
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
      expect(compose.services['docker-proxy'].environment.SCOPE_LABEL).toBe('com.docker.compose.project=${COMPOSE_PROJECT_NAME},org.devsec.scope=team_net.1');
      expect(compose.services.app.labels).not.toHaveProperty('org.devsec.scope');
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
      expect(compose.services.app.volumes).toHaveLength(6);
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
});
