/**
 * End to end, on the real engine: a workspace made by create-nx-workspace@23.2.1, the packed
 * plugin added with `nx add`, `secure-devcontainer` generated, then the sandbox started with
 * `nx run app:up-worktree` and used from inside as the agent would, and from the host as the
 * user would next. One workspace for the whole journey; its sections live in ./journey.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { describeWithDocker, docker, dockerOk, requireImage, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { checkSandbox } from '../../../packages/devsec/src/rules/compose-rules';
import { parseJsonc } from '../../../packages/devsec/src/sandbox/jsonc';
import { validateCompose, validateDevcontainer } from '../../../packages/devsec/src/testing/schemas';
import { describeAgentView } from './journey/agent-view';
import { journey, nx, sharedProject } from './journey/context';
import { describeDevcontainerCli } from './journey/devcontainer-cli';
import { describeDevsecCli } from './journey/devsec-cli';
import { describeGitAndTools } from './journey/git-and-tools';
import { describeHostBoundary } from './journey/host-boundary';
import { describeSecondWorktree } from './journey/second-worktree';
import { describeTeardown } from './journey/teardown';
import { chownToCheckoutUser, createTestWorkspace, generateSandbox } from './workspace';

jest.setTimeout(600_000);

describeWithDocker('secure-devcontainer in a fresh Nx workspace, on a real engine', () => {
  beforeAll(() => {
    requireImage('node:24-trixie-slim');
    journey.ws = createTestWorkspace();
    journey.stateHome = journey.ws.env.XDG_STATE_HOME as string;
    generateSandbox(journey.ws);
  });

  afterAll(() => {
    if (!journey.ws) return;
    nx(['run', 'app:down-worktree', '--volumes', '--images'], { allowFailure: true });
    nx(['run', 'shared-infra:down-shared', '--volumes'], { allowFailure: true });
    rmSync(dirname(journey.ws.dir), { recursive: true, force: true });
  });

  it('registered the plugin with nx add', () => {
    const nxJson = JSON.parse(readFileSync(join(journey.ws.dir, 'nx.json'), 'utf-8'));
    expect(nxJson.plugins).toContainEqual({ plugin: '@org/devsec', options: {} });
  });

  it('wrote files that pass both schemas, our rules and docker compose config', () => {
    const dir = join(journey.ws.dir, 'apps/app/.devcontainer');
    const compose = parse(readFileSync(join(dir, 'docker-compose.yml'), 'utf-8'));
    const devcontainer = parseJsonc<Record<string, unknown>>(readFileSync(join(dir, 'devcontainer.json'), 'utf-8'));
    expect(validateCompose(compose)).toEqual([]);
    expect(validateDevcontainer(devcontainer)).toEqual([]);
    expect(checkSandbox({ composeFile: 'docker-compose.yml', compose, devcontainerFile: 'devcontainer.json', devcontainer })).toEqual([]);
    const config = docker(['compose', '-f', join(dir, 'docker-compose.yml'), 'config', '--quiet']);
    expect(config.stderr).toBe('');
    expect(config.status).toBe(0);
  });

  it('shows the inferred targets in nx show project', () => {
    const shown = JSON.parse(nx(['show', 'project', 'app', '--json']).stdout);
    expect(shown.targets['up-worktree']).toMatchObject({ executor: '@org/devsec:up-worktree' });
    expect(shown.targets['down-worktree']).toMatchObject({ executor: '@org/devsec:down-worktree' });
  });

  it('changes nothing when the generators run again', () => {
    nx(['g', '@org/devsec:secure-devcontainer', '--project=app', '--aptPackages=postgresql-client,redis-tools', '--no-interactive']);
    nx(['g', '@org/devsec:shared-service', 'postgres', '--no-interactive']);
    expect(journey.ws.run('git', ['status', '--porcelain']).stdout).toBe('');
  });

  it('audits clean, and names file and line when a copy of the stack is weakened', () => {
    const { ws } = journey;
    expect(nx(['run', 'app:audit']).stdout).toContain('No findings');
    const services = join(ws.dir, 'apps/app/.devcontainer/docker-compose.services.yml');
    const original = readFileSync(services, 'utf-8');
    const weakened = '    networks: [sandbox]\n    privileged: true\n    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]';
    writeFileSync(services, original.replace('    networks: [sandbox]', weakened));
    try {
      // The report file, not stdout: Nx decorates its output differently in CI.
      const audit = nx(['run', 'app:audit', '--format=json', '--outputFile=tmp-audit.json'], { allowFailure: true });
      expect(audit.status).not.toBe(0);
      const findings = JSON.parse(readFileSync(join(ws.dir, 'tmp-audit.json'), 'utf-8'));
      expect(findings.map((f: { rule: string }) => f.rule)).toEqual(expect.arrayContaining(['privileged', 'socket-mount']));
      expect(findings[0].file).toBe('apps/app/.devcontainer/docker-compose.services.yml');
      expect(findings[0].line).toBeGreaterThan(0);
    } finally {
      writeFileSync(services, original);
      rmSync(join(ws.dir, 'tmp-audit.json'), { force: true });
    }
  });

  describe('after nx run app:up-worktree', () => {
    let engineLine = '';
    beforeAll(() => {
      chownToCheckoutUser(journey.ws);
      const up = nx(['run', 'app:up-worktree']);
      expect(up.stdout).toMatch(/docker exec -it \S+-app-1 bash/);
      expect(up.stdout).toMatch(/node_modules: copied from the host's install \(linux-x64-glibc\)/);
      const env = readFileSync(join(journey.ws.dir, 'apps/app/.devcontainer/.env'), 'utf-8');
      journey.project = /COMPOSE_PROJECT_NAME=(\S+)/.exec(env)?.[1] as string;
      journey.app = `${journey.project}-app-1`;
      engineLine = /^.*Engine: .*$/m.exec(up.stdout)?.[0] ?? '';
    });

    it("gave the proxy the socket's group as a container on this engine sees it", () => {
      // Another image than the proxy's base looks, independently of up-worktree's own look.
      const seen = dockerOk(['run', '--rm', '--network', 'none', '-v', '/var/run/docker.sock:/s:ro', ROOTFS_IMAGE, 'stat', '-c', '%g', '/s']).trim();
      const env = readFileSync(join(journey.ws.dir, 'apps/app/.devcontainer/.env'), 'utf-8');
      expect(env).toMatch(/^DEVSEC_DOCKER_SOCKET=\/var\/run\/docker\.sock$/m);
      expect(env).toMatch(/^DEVSEC_DOCKER_PROXY_USER=node$/m);
      expect(env).toContain(`\nDEVSEC_DOCKER_GID=${seen}\n`);
      expect(engineLine).toMatch(
        new RegExp(
          `Engine: Docker Engine on Linux \\(rootful\\) via the default context; the proxy mounts /var/run/docker\\.sock as /var/run/docker\\.sock \\(user node, group ${seen}\\)`,
        ),
      );
    });

    it('started the shared services first (up-worktree depends on up-shared), healthy', () => {
      const shared = docker(['ps', '--filter', `label=com.docker.compose.project=${sharedProject()}`, '--format', '{{.Names}} {{.Status}}']).stdout;
      expect(shared).toMatch(/postgres-1 Up .*\(healthy\)/);
      expect(shared).toMatch(/redis-1 Up .*\(healthy\)/);
    });

    describeAgentView();
    describeGitAndTools();
    describeHostBoundary();

    it('is a no-op when run again: the same containers keep running', () => {
      const ids = () =>
        docker(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${journey.project}`])
          .stdout.split('\n')
          .sort();
      const before = ids();
      nx(['run', 'app:up-worktree']);
      expect(ids()).toEqual(before);
    });

    describe('with a second git worktree up at the same time', describeSecondWorktree);
    describe('with the devcontainer CLI as the client', describeDevcontainerCli);
    describe('through devsec, which runs nothing of the workspace', describeDevsecCli);
    describe('teardown', describeTeardown);
  });
});
