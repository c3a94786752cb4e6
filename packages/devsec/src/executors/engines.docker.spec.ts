/**
 * The sandbox on the engines users have besides rootful Docker, as their users run it: the
 * engine's daemon runs as an ordinary user (rootless Docker), the workspace and the state
 * directory are that user's, and `devsec up` runs as that user with the DOCKER_HOST the engine
 * gives. The journey: up, `docker ps` through the proxy inside, down. And the proof that the
 * socket's group comes from inside the engine: on rootless Docker the host's `stat` of the socket
 * shows a subordinate group (100104 here) that no container sees.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { alternateEngineProblem, AlternateEngine, describeOnEngine, startAlternateEngine } from '../../../../tools/testing/alternate-engine';
import { CHECKOUT_UID, createSandboxWorkspace, installPlugin } from '../../../../tools/testing/sandbox-workspace';
import { DEFAULT_BASE_IMAGE } from '../sandbox/vocabulary';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';

jest.setTimeout(900_000);

const run = Math.random().toString(36).slice(2, 8);

interface EngineCase {
  name: string;
  script: string;
  user: string;
  needs: string[];
  /** How the engine's name reads on up's Engine line. */
  engineName: RegExp;
  /** The host's view of the socket's group differs from the engine's (a user namespace). */
  hostGroupDiffers: boolean;
  /** What up must warn of on this engine (its table row says why). */
  warnings: RegExp[];
  /** A gate rule this engine breaks by itself: the start is refused naming it, then allowed with --unsafe-allow. */
  refused?: { rule: string; message: RegExp };
  /** Who owns the workspace: the engine's user, or the checkout user the dev container's user matches. */
  workspaceUid: 'engine' | number;
  /** The proxy's user on this engine: the image's node with the socket's group, or the socket's owner. */
  proxyUser: RegExp;
}

const CASES: EngineCase[] = [
  {
    name: 'rootless Docker',
    script: 'rootless-docker.sh',
    user: 'devsec-rootless',
    needs: ['/usr/share/docker.io/contrib/dockerd-rootless.sh', '/usr/bin/rootlesskit', '/usr/bin/slirp4netns', '/usr/bin/newuidmap'],
    engineName: /Engine: Docker Engine, rootless via DOCKER_HOST=unix:\/\/\/run\/user\/\d+\/docker\.sock; the proxy mounts \/run\/user\/\d+\/docker\.sock/,
    hostGroupDiffers: true,
    // This machine is cgroup v1: the rootless engine has no cgroup driver.
    warnings: [/your uid is root inside its user namespace/, /accepts mem_limit, pids_limit and cpus without enforcing them/],
    workspaceUid: 'engine',
    proxyUser: /^node$/,
  },
  {
    name: 'rootful Podman (Docker API service)',
    script: 'podman.sh',
    user: 'root',
    needs: ['/usr/bin/podman', '/usr/sbin/runc', '/usr/lib/podman/netavark'],
    engineName:
      /Engine: Podman \(rootful\), Docker API service via DOCKER_HOST=unix:\/\/\/run\/podman\/podman\.sock; the proxy mounts \/run\/podman\/podman\.sock as \/var\/run\/docker\.sock \(user 0:0, group 0\)/,
    hostGroupDiffers: false,
    warnings: [],
    // Podman 4.3 ignores the no-gateway option: the sandbox network's gateway is this host.
    refused: { rule: 'egress-unfiltered', message: /Podman \(rootful\), Docker API service ignores com\.docker\.network\.bridge\.inhibit_ipv4/ },
    workspaceUid: CHECKOUT_UID,
    // podman system service makes its socket root's, 0600: only the owner may use it.
    proxyUser: /^0:0$/,
  },
  {
    name: 'rootless Podman 4.3 (Docker API service)',
    script: 'podman-rootless.sh',
    user: 'devsec-podman',
    needs: ['/usr/bin/podman', '/usr/sbin/runc', '/usr/bin/fuse-overlayfs', '/usr/bin/slirp4netns', '/usr/bin/newuidmap'],
    engineName:
      /Engine: Podman, rootless, Docker API service via DOCKER_HOST=unix:\/\/\/run\/user\/\d+\/podman\/podman\.sock; the proxy mounts \/run\/user\/\d+\/podman\/podman\.sock as \/var\/run\/docker\.sock \(user 0:0, group 0\)/,
    // The host's stat says 1991:1991; containers see root, 0600.
    hostGroupDiffers: true,
    warnings: [/your uid is root inside its user namespace/, /accepts mem_limit, pids_limit and cpus without enforcing them/],
    refused: { rule: 'egress-unfiltered', message: /Podman, rootless, Docker API service ignores com\.docker\.network\.bridge\.inhibit_ipv4/ },
    workspaceUid: 'engine',
    proxyUser: /^0:0$/,
  },
];

for (const engineCase of CASES) {
  describeOnEngine(
    `the sandbox on ${engineCase.name}: up, docker ps through the proxy inside, down`,
    alternateEngineProblem(engineCase.script, engineCase.needs),
    () => {
      let engine: AlternateEngine;
      let dir: string;
      let stateHome: string;
      let project = '';
      let up: { status: number | null; stdout: string; stderr: string };
      let refusedStart: typeof up | undefined;
      const devsec = (...args: string[]) =>
        engine.asUser(process.execPath, [join(dir, 'node_modules/@org/devsec/src/bin/devsec.js'), ...args], {
          cwd: dir,
          // git as root on a checkout of another user needs safe.directory, as on the other suites.
          env: { XDG_STATE_HOME: stateHome, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' },
        });
      const app = () => `${project}-app-1`;

      beforeAll(async () => {
        engine = startAlternateEngine(engineCase.script, engineCase.user);
        const ws = createSandboxWorkspace('devsec-engines-', `engines-${run}`);
        dir = ws.dir;
        installPlugin(dir);
        const tree = new FsTree(dir, false);
        await secureDevcontainerGenerator(tree, { project: 'app', network: `devsec-engines-${run}`, skipFormat: true } as never);
        flushChanges(dir, tree.listChanges());
        ws.git('add', '-A');
        ws.git('commit', '-q', '-m', 'sandbox');
        stateHome = mkdtempSync(join(tmpdir(), 'devsec-engines-state-'));
        // The workspace and the state are the engine's user's, as on that user's machine.
        const owner = engineCase.workspaceUid === 'engine' ? engine.uid : engineCase.workspaceUid;
        execFileSync('chown', ['-R', `${owner}:${owner}`, dir]);
        execFileSync('chown', ['-R', `${engine.uid}:${engine.uid}`, stateHome]);
        if (engineCase.refused) {
          refusedStart = devsec('up', 'app');
          up = devsec('up', 'app', `--unsafe-allow=${engineCase.refused.rule}`);
        } else up = devsec('up', 'app');
        project = /COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1] ?? '';
      });

      afterAll(() => {
        if (dir) devsec('down', 'app', '--volumes');
        rmSync(dir, { recursive: true, force: true });
        rmSync(stateHome, { recursive: true, force: true });
        engine?.stop();
      });

      it('devsec up starts the stack, naming the engine and the socket it found', () => {
        if (up.status !== 0) throw new Error(`devsec up failed (${up.status}):\n${up.stdout.slice(-3000)}\n${up.stderr.slice(-3000)}`);
        expect(up.stdout).toMatch(engineCase.engineName);
        expect(up.stdout).toMatch(/docker exec -it \S+-app-1 bash/);
      });

      if (engineCase.refused)
        it(`refuses the start by itself (${engineCase.refused.rule}), naming the engine, and starts with --unsafe-allow`, () => {
          expect(refusedStart?.status).not.toBe(0);
          expect(refusedStart?.stderr).toMatch(engineCase.refused!.message);
          expect(up.stderr).toMatch(new RegExp(`UNSAFE: ${engineCase.refused!.rule} allowed by --unsafe-allow`));
        });

      it('warns of what differs on this engine, and the warnings are true', () => {
        for (const warning of engineCase.warnings) expect(up.stderr).toMatch(warning);
        if (engineCase.warnings.some((warning) => /user namespace/.test(warning.source))) {
          const write = engine.docker(['exec', '-u', 'node', app(), 'touch', join(dir, 'written-by-the-agent')]);
          expect(write.status).not.toBe(0);
          expect(write.stderr).toMatch(/Permission denied/);
        }
      });

      it("gives the proxy the socket's group as the engine's containers see it, not as this machine's file says", () => {
        const socket = /^DEVSEC_DOCKER_SOCKET=(\S+)$/m.exec(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1] ?? '';
        const seen = engine.docker(['run', '--rm', '--network', 'none', '-v', `${socket}:/s:ro`, DEFAULT_BASE_IMAGE, 'stat', '-c', '%g', '/s']).stdout.trim();
        expect(seen).toMatch(/^\d+$/);
        expect(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8')).toContain(`\nDEVSEC_DOCKER_GID=${seen}\n`);
        if (engineCase.hostGroupDiffers) expect(String(statSync(socket).gid)).not.toBe(seen);
        expect(/^DEVSEC_DOCKER_PROXY_USER=(\S+)$/m.exec(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1]).toMatch(engineCase.proxyUser);
      });

      it('the agent watches its stack through the proxy, and cannot exec', () => {
        const ps = engine.docker(['exec', '-u', 'node', app(), 'docker', 'ps', '--format', '{{.Names}}']);
        expect(ps.stderr).toBe('');
        expect(ps.stdout.split('\n')).toEqual(expect.arrayContaining([app(), `${project}-docker-proxy-1`]));
        const exec = engine.docker(['exec', '-u', 'node', app(), 'docker', 'exec', `${project}-docker-proxy-1`, 'true']);
        expect(exec.status).not.toBe(0);
        expect(exec.stderr).toMatch(/devsec/);
      });

      it('devsec down removes the stack from that engine', () => {
        const down = devsec('down', 'app', '--volumes');
        expect(down.status).toBe(0);
        expect(engine.docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Names}}']).stdout.trim()).toBe('');
      });
    },
  );
}
