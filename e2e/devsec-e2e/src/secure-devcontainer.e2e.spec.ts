/**
 * End to end, on the real engine: a workspace made by create-nx-workspace@23.2.1, the packed
 * plugin added with `nx add`, `secure-devcontainer` generated, then the sandbox started with
 * `nx run app:up-worktree` and probed from inside, as the agent would.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { describeWithDocker, docker, dockerOk, requireImage } from '../../../tools/testing/docker';
import { checkSandbox } from '../../../packages/devsec/src/rules/compose-rules';
import { parseJsonc } from '../../../packages/devsec/src/sandbox/jsonc';
import { validateCompose, validateDevcontainer } from '../../../packages/devsec/src/testing/schemas';
import { chownToCheckoutUser, createTestWorkspace, generateSandbox, REPO_ROOT, TestWorkspace } from './workspace';

jest.setTimeout(600_000);

describeWithDocker('secure-devcontainer in a fresh Nx workspace, on a real engine', () => {
  let ws: TestWorkspace;
  let project: string;
  let app: string;
  const inside = (script: string) => docker(['exec', '-u', 'node', app, 'bash', '-lc', script]);

  beforeAll(() => {
    requireImage('node:24-trixie-slim');
    ws = createTestWorkspace();
    generateSandbox(ws);
  });

  afterAll(() => {
    if (!ws) return;
    ws.run('npx', ['nx', 'run', 'app:down-worktree', '--volumes'], { allowFailure: true });
    ws.run('npx', ['nx', 'run', 'shared-infra:down-shared', '--volumes'], { allowFailure: true });
    rmSync(dirname(ws.dir), { recursive: true, force: true });
  });

  it('registered the plugin with nx add', () => {
    const nxJson = JSON.parse(readFileSync(join(ws.dir, 'nx.json'), 'utf-8'));
    expect(nxJson.plugins).toContainEqual({ plugin: '@org/devsec', options: {} });
  });

  it('wrote files that pass both schemas, our rules and docker compose config', () => {
    const dir = join(ws.dir, 'apps/app/.devcontainer');
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
    const shown = JSON.parse(ws.run('npx', ['nx', 'show', 'project', 'app', '--json']).stdout);
    expect(shown.targets['up-worktree']).toMatchObject({ executor: '@org/devsec:up-worktree' });
    expect(shown.targets['down-worktree']).toMatchObject({ executor: '@org/devsec:down-worktree' });
  });

  it('changes nothing when the generators run again', () => {
    ws.run('npx', ['nx', 'g', '@org/devsec:secure-devcontainer', '--project=app', '--aptPackages=postgresql-client,redis-tools', '--no-interactive']);
    ws.run('npx', ['nx', 'g', '@org/devsec:shared-service', 'postgres', '--no-interactive']);
    expect(ws.run('git', ['status', '--porcelain']).stdout).toBe('');
  });

  it('audits clean, and names file and line when a copy of the stack is weakened', () => {
    expect(ws.run('npx', ['nx', 'run', 'app:audit']).stdout).toContain('No findings');
    const services = join(ws.dir, 'apps/app/.devcontainer/docker-compose.services.yml');
    const original = readFileSync(services, 'utf-8');
    writeFileSync(
      services,
      original.replace('    networks: [sandbox]', '    networks: [sandbox]\n    privileged: true\n    volumes: ["/var/run/docker.sock:/var/run/docker.sock"]'),
    );
    try {
      // The report file, not stdout: Nx decorates its output differently in CI.
      const audit = ws.run('npx', ['nx', 'run', 'app:audit', '--format=json', '--outputFile=tmp-audit.json'], { allowFailure: true });
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
    beforeAll(() => {
      chownToCheckoutUser(ws);
      const up = ws.run('npx', ['nx', 'run', 'app:up-worktree']);
      expect(up.stdout).toMatch(/docker exec -it \S+-app-1 bash/);
      const env = readFileSync(join(ws.dir, 'apps/app/.devcontainer/.env'), 'utf-8');
      project = /COMPOSE_PROJECT_NAME=(\S+)/.exec(env)?.[1] as string;
      app = `${project}-app-1`;
    });

    it('started the shared services first (up-worktree depends on up-shared), healthy', () => {
      const shared = dockerOk(['ps', '--filter', 'label=com.docker.compose.project=ws-source-shared', '--format', '{{.Names}} {{.Status}}']);
      expect(shared).toMatch(/postgres-1 Up .*\(healthy\)/);
      expect(shared).toMatch(/redis-1 Up .*\(healthy\)/);
      // The generated password lives in the git common dir, not in the work tree.
      expect(readFileSync(join(ws.dir, '.git/devsec/shared.env'), 'utf-8')).toMatch(/^DEVSEC_POSTGRES_PASSWORD=\S{20,}$/m);
      const password = /^DEVSEC_POSTGRES_PASSWORD=(\S+)$/m.exec(readFileSync(join(ws.dir, '.git/devsec/shared.env'), 'utf-8'))![1];
      // git grep exits 1 when nothing matches: no committed file holds the password.
      expect(ws.run('git', ['grep', '-n', password], { allowFailure: true }).status).toBe(1);
    });

    it('reaches postgres and redis by hostname with the generated credentials', () => {
      const pg = inside(
        'psql "$DATABASE_URL" -tAc "create table if not exists notes(t text); insert into notes values (\'from one\'); select count(*) from notes"',
      );
      expect(pg.stderr).toBe('');
      expect(pg.stdout.trim().split('\n').pop()).toBe('1');
      expect(inside('echo "$DATABASE_URL"').stdout).toMatch(/^postgresql:\/\/postgres:[^@]+@postgres:5432\/app$/m);
      expect(inside('redis-cli -u "$REDIS_URL" ping').stdout.trim()).toBe('PONG');
    });

    it("reaches the stack's own web service at localhost:3000, over IPv4 and IPv6", () => {
      const web = dockerOk(['inspect', '-f', '{{.Config.Hostname}}', `${project}-web-1`]).trim();
      expect(inside('curl -s -m 5 http://localhost:3000').stdout).toBe(`web ${web}`);
      expect(inside('curl -s -m 5 http://127.0.0.1:3000').stdout).toBe(`web ${web}`);
      expect(inside('curl -s -m 5 -g "http://[::1]:3000"').stdout).toBe(`web ${web}`);
    });

    it('names the stack after the project and the worktree, and git-ignores its per-machine files', () => {
      expect(project).toMatch(/^app-ws-[0-9a-f]{8}$/);
      expect(ws.run('git', ['status', '--porcelain']).stdout).toBe('');
    });

    it('lets the agent see its siblings through the proxy', () => {
      const ps = inside('docker ps --format "{{.Names}}"');
      expect(ps.status).toBe(0);
      expect(ps.stdout.split('\n')).toEqual(expect.arrayContaining([`${project}-app-1`, `${project}-docker-proxy-1`]));
      expect(inside(`docker logs ${project}-docker-proxy-1`).stdout).toContain('"msg":"listening"');
      const inspected = inside(`docker inspect ${project}-docker-proxy-1`);
      expect(inspected.stdout).toContain('SCOPE_LABEL=<redacted>');
    });

    it('sees the shared services (postgres logs included) and nothing outside its scope', () => {
      const outsider = `devsec-e2e-outsider-${project}`;
      dockerOk(['run', '-d', '--name', outsider, 'devsec-rootfs:trixie', 'sleep', 'infinity']);
      try {
        const names = inside('docker ps -a --format "{{.Names}}"').stdout;
        expect(names).toContain('ws-source-shared-postgres-1');
        expect(names).not.toContain(outsider);
        expect(inside('docker logs ws-source-shared-postgres-1 2>&1').stdout).toContain('database system is ready to accept connections');
        const hidden = inside(`docker inspect ${outsider}`);
        expect(hidden.status).not.toBe(0);
        expect(hidden.stderr).toMatch(/No such object/);
      } finally {
        docker(['rm', '-f', outsider]);
      }
    });

    let engineBefore: string;
    const engineState = () =>
      [dockerOk(['ps', '-aq', '--no-trunc']), dockerOk(['images', '-aq', '--no-trunc']), dockerOk(['volume', 'ls', '-q']), dockerOk(['network', 'ls', '-q'])]
        .map((list) => list.split('\n').sort().join(','))
        .join(' | ');

    it.each([
      ['docker run', () => 'docker run --rm node:24-trixie-slim true'],
      ['docker exec', () => `docker exec ${project}-docker-proxy-1 true`],
      ['docker build', () => 'mkdir -p /tmp/b && echo "FROM node:24-trixie-slim" > /tmp/b/Dockerfile && docker build -q /tmp/b'],
      ['docker cp', () => `docker cp ${project}-docker-proxy-1:/etc/hostname /tmp/h`],
    ])('refuses %s with the policy message', (_name, script) => {
      engineBefore ??= engineState();
      const result = inside(script());
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('devsec sandbox policy');
    });

    it('left the engine as it was after those refusals', () => {
      expect(engineState()).toBe(engineBefore);
    });

    it('reaches no Docker engine on any gateway (2375/2376), and has nothing to push with', () => {
      const gateways = ['dev', `${project}_sandbox`]
        .map((network) => dockerOk(['network', 'inspect', network, '-f', '{{range .IPAM.Config}}{{.Gateway}} {{end}}']).trim())
        .join(' ')
        .split(/\s+/)
        .filter(Boolean);
      expect(gateways.length).toBeGreaterThan(0);
      for (const gateway of gateways) {
        for (const port of [2375, 2376]) expect(inside(`curl -s -m 2 http://${gateway}:${port}/_ping`).status).not.toBe(0);
      }
      const push = inside('git push git@github.com:devsec/never.git HEAD');
      expect(push.status).not.toBe(0);
      expect(push.stderr).toMatch(/ssh|Could not read from remote repository/);
      expect(
        inside(
          'git config --get credential.helper; ls ~/.git-credentials ~/.config/gh 2>/dev/null; env | grep -iE "^(GH_|GITHUB_|GIT_ASKPASS|SSH_)" || true',
        ).stdout.trim(),
      ).toBe('');
    });

    it('runs as a non-root user without sudo, SSH agent or keys, and without the Docker socket', () => {
      expect(inside('id -u').stdout.trim()).toBe('1000');
      expect(inside('command -v sudo').status).not.toBe(0);
      expect(inside('echo "[$SSH_AUTH_SOCK]"; ls ~/.ssh').stdout).toContain('[]');
      expect(inside('test -e ~/.ssh').status).not.toBe(0);
      expect(inside('test -e /var/run/docker.sock || test -e /run/docker.sock').status).not.toBe(0);
    });

    it('lets git commit, and keeps hooks, git config and the sandbox definition read-only', () => {
      const commit = inside('git commit -q --allow-empty -m "from the sandbox" && git log -1 --format="%s by %an <%ae>"');
      expect(commit.stderr).toBe('');
      // The host user's git identity, carried by .env.
      expect(commit.stdout.trim()).toBe('from the sandbox by devsec e2e <e2e@devsec.invalid>');
      for (const path of ['.git/hooks/pre-commit', '.git/config', 'apps/app/.devcontainer/docker-compose.yml', 'apps/app/.devcontainer/evil']) {
        const write = inside(`echo evil >> ${path}`);
        expect(write.status).not.toBe(0);
        expect(write.stderr).toMatch(/Read-only file system/);
      }
    });

    it('is a no-op when run again: the same containers keep running', () => {
      const ids = () =>
        dockerOk(['ps', '-q', '--no-trunc', '--filter', `label=com.docker.compose.project=${project}`])
          .split('\n')
          .sort();
      const before = ids();
      ws.run('npx', ['nx', 'run', 'app:up-worktree']);
      expect(ids()).toEqual(before);
    });

    let secondProject = '';
    const secondProjectName = () => secondProject;

    describe('with a second git worktree up at the same time', () => {
      let second: string;
      const insideSecond = (script: string) => docker(['exec', '-u', 'node', `${secondProject}-app-1`, 'bash', '-lc', script]);

      beforeAll(() => {
        second = join(dirname(ws.dir), 'agent-2');
        ws.run('git', ['worktree', 'add', '-q', '-b', 'agent/two', second]);
        ws.run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: second });
        // `git worktree add` ran as root: hand the new worktree and its gitdir to the user too.
        chownToCheckoutUser({ ...ws, dir: second });
        chownToCheckoutUser({ ...ws, dir: join(ws.dir, '.git') });
        ws.run('npx', ['nx', 'run', 'app:up-worktree'], { cwd: second });
        secondProject = /COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(second, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1] as string;
      });

      afterAll(() => {
        ws.run('npx', ['nx', 'run', 'app:down-worktree', '--volumes'], { cwd: second, allowFailure: true });
      });

      it("forwards localhost to its own web service, not the other worktree's", () => {
        const web = dockerOk(['inspect', '-f', '{{.Config.Hostname}}', `${secondProject}-web-1`]).trim();
        expect(insideSecond('curl -s -m 5 http://localhost:3000').stdout).toBe(`web ${web}`);
        expect(inside('curl -s -m 5 http://localhost:3000').stdout).not.toBe(`web ${web}`);
      });

      it('uses the same postgres', () => {
        expect(insideSecond('psql "$DATABASE_URL" -tAc "select t from notes"').stdout.trim()).toBe('from one');
      });

      it('runs as a stack of its own', () => {
        expect(secondProject).toMatch(/^app-agent-2-[0-9a-f]{8}$/);
        expect(secondProject).not.toBe(project);
        expect(insideSecond('docker ps --format "{{.Names}}"').stdout).toContain(`${secondProject}-docker-proxy-1`);
      });

      it("reaches its own proxy and not the other worktree's", () => {
        const ip = (container: string) => dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', container]).trim();
        const ownProxy = ip(`${secondProject}-docker-proxy-1`);
        const otherProxy = ip(`${project}-docker-proxy-1`);
        expect(insideSecond('getent hosts docker-proxy').stdout.trim().split(/\s+/)[0]).toBe(ownProxy);
        expect(insideSecond(`curl -s -m 3 http://${ownProxy}:2375/_ping`).stdout).toBe('OK');
        const reach = insideSecond(`curl -s -m 3 http://${otherProxy}:2375/_ping`);
        expect(reach.status).not.toBe(0);
        expect(inside(`curl -s -m 3 http://${ownProxy}:2375/_ping`).status).not.toBe(0);
      });

      it("audit --live holds in both worktrees: every forbidden call refused, the other's proxy silent, no finding", () => {
        for (const cwd of [ws.dir, second]) {
          const audit = ws.run('npx', ['nx', 'run', 'app:audit', '--live'], { cwd });
          const summary =
            /(\d+) of (\d+) forbidden Docker calls refused; (\d+) socket file\(s\) found; (\d+) of (\d+) addresses without any HTTP answer \((\d+) of them other sandboxes' proxies\); (\d+) of (\d+) sandbox paths read-only/.exec(
              audit.stdout,
            );
          expect(summary).not.toBeNull();
          const [refused, calls, sockets, silent, addresses, otherProxies, readOnly, paths] = summary!.slice(1).map(Number);
          expect([refused, sockets, silent, readOnly]).toEqual([calls, 0, addresses, paths]);
          expect(calls).toBeGreaterThan(20);
          expect(otherProxies).toBeGreaterThanOrEqual(1);
          expect(audit.stdout).toContain('No findings');
        }
      });

      it('runs git inside the linked worktree, with the common dir mounted at its host path', () => {
        const commit = insideSecond('git status --short && git commit -q --allow-empty -m "from worktree two" && git branch --show-current');
        expect(commit.stderr).toBe('');
        expect(commit.stdout.trim()).toBe('agent/two');
        expect(ws.run('git', ['log', '-1', '--format=%s', 'agent/two']).stdout.trim()).toBe('from worktree two');
        expect(insideSecond(`echo evil >> ${join(ws.dir, '.git/hooks/post-checkout')}`).stderr).toMatch(/Read-only file system/);
      });
    });

    describe('with the devcontainer CLI as the client', () => {
      const cli = join(REPO_ROOT, 'node_modules', '.bin', 'devcontainer');
      const config = () => ['--workspace-folder', ws.dir, '--config', join(ws.dir, 'apps/app/.devcontainer/devcontainer.json')];

      it('brings the same stack up with devcontainer up, and runs docker ps through the proxy with devcontainer exec', () => {
        // From nothing: no running stack, no .env — initializeCommand must write what compose needs.
        ws.run('npx', ['nx', 'run', 'app:down-worktree']);
        for (const file of ['.env', 'docker-compose.worktree.yml']) rmSync(join(ws.dir, 'apps/app/.devcontainer', file));
        const up = ws.run(cli, ['up', ...config()]);
        const outcome = JSON.parse(up.stdout.trim().split('\n').pop() as string);
        expect(outcome).toMatchObject({ outcome: 'success', composeProjectName: project, remoteUser: 'node', remoteWorkspaceFolder: ws.dir });
        const ps = ws.run(cli, ['exec', ...config(), 'docker', 'ps', '--format', '{{.Names}}']);
        expect(ps.stdout).toContain(`${project}-docker-proxy-1`);
        expect(ws.run(cli, ['exec', ...config(), 'id', '-u']).stdout.trim()).toBe('1000');
        const refused = ws.run(cli, ['exec', ...config(), 'docker', 'run', '--rm', 'node:24-trixie-slim', 'true'], { allowFailure: true });
        expect(refused.status).not.toBe(0);
        expect(refused.stderr + refused.stdout).toContain('devsec sandbox policy');
      });
    });

    describe('teardown', () => {
      it('down-worktree --volumes leaves nothing of the stack behind', () => {
        ws.run('npx', ['nx', 'run', 'app:down-worktree', '--volumes']);
        const filter = ['--filter', `label=com.docker.compose.project=${project}`];
        expect(dockerOk(['ps', '-aq', ...filter]).trim()).toBe('');
        expect(dockerOk(['network', 'ls', '-q', ...filter]).trim()).toBe('');
        expect(dockerOk(['volume', 'ls', '-q', ...filter]).trim()).toBe('');
      });

      it('down-shared --volumes removes the shared services, their data and the shared network: nothing of the test is left', () => {
        ws.run('npx', ['nx', 'run', 'shared-infra:down-shared', '--volumes']);
        for (const name of [project, secondProjectName(), 'ws-source-shared']) {
          const filter = ['--filter', `label=com.docker.compose.project=${name}`];
          expect(dockerOk(['ps', '-aq', ...filter]).trim()).toBe('');
          expect(dockerOk(['volume', 'ls', '-q', ...filter]).trim()).toBe('');
          expect(dockerOk(['network', 'ls', '-q', ...filter]).trim()).toBe('');
        }
        // The shared network too (other suites running beside this one use networks of their own).
        expect(docker(['network', 'inspect', 'dev']).status).not.toBe(0);
      });
    });
  });
});
