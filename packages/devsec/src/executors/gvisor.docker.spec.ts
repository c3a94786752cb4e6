/**
 * The kernel boundary on the real engine, which has gVisor registered (.ci/setup-engine.sh): a
 * sandbox generated with no option runs its dev container on runsc, says so at the start, and
 * everything the agent does there still works (docker through the proxy, git commit, npm, the
 * shared Postgres, the egress proxy for a listed host, a 403 for an unlisted one); the proxies
 * stay on the engine's default runtime. audit --live reads gVisor's kernel from inside; the
 * static audit reports a sandbox generated with --runtime=runc.
 *
 * Generated with --testContainers: the agent's own containers run on runsc too (the proxy forces
 * the stack's runtime and refuses another).
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { createSandboxWorkspace, installPlugin, SandboxWorkspace, trustCheckoutsAsRoot } from '../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import type { SecureDevcontainerGeneratorSchema } from '../generators/secure-devcontainer/schema';
import audit from './audit/executor';
import downShared from './down-shared/executor';
import downWorktree from './down-worktree/executor';
import upShared from './up-shared/executor';
import upWorktree from './up-worktree/executor';

jest.setTimeout(600_000);

const run = Math.random().toString(36).slice(2, 8);
const network = `devsec-gvisor-${run}`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';
const LISTED = 'allowed.devsec.test';
const UNLISTED = 'denied.devsec.test';

describeWithDocker('gVisor: a sandbox generated with no option runs its dev container on runsc, and everything works there', () => {
  let ws: SandboxWorkspace;
  let dir: string;
  let project: string;
  let stateHome: string;
  let said: string;
  const outside = `devsec-gvisor-outside-${run}`;
  const context = (targetName = 'up-worktree') => ({ root: dir, cwd: dir, projectName: 'app', targetName, isVerbose: false }) as ExecutorContext;
  const app = () => `${project}-app-1`;
  const inside = (script: string) => docker(['exec', '-u', 'node', app(), 'bash', '-c', script]);
  const generate = async (options: Partial<SecureDevcontainerGeneratorSchema>) => {
    const tree = new FsTree(dir, false);
    await secureDevcontainerGenerator(tree, { project: 'app', network, aptPackages: ['postgresql-client'], skipFormat: true, ...options } as never);
    flushChanges(dir, tree.listChanges());
  };
  /** Runs an executor with logger and stdout captured: its result and what it said. */
  const capture = async <T>(body: () => Promise<T>): Promise<{ result: T; text: string }> => {
    const out: string[] = [];
    const spies = [
      ...(['info', 'warn', 'error'] as const).map((level) =>
        jest.spyOn(logger, level).mockImplementation((...args: unknown[]) => void out.push(String(args[0]))),
      ),
      jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => Boolean(out.push(String(chunk)))),
    ];
    try {
      return { result: await body(), text: out.join('\n') };
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
  };

  beforeAll(async () => {
    stateHome = mkdtempSync(join(tmpdir(), 'devsec-gvisor-state-'));
    process.env.XDG_STATE_HOME = stateHome;
    trustCheckoutsAsRoot();
    ws = createSandboxWorkspace('devsec-gvisor-', `gvisor-${run}`);
    dir = ws.dir;
    installPlugin(dir);
    // Defaults: no --runtime.
    await generate({ allowHosts: [LISTED], testContainers: true });
    const tree = new FsTree(dir, false);
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    flushChanges(dir, tree.listChanges());
    // The stand-in outside server has a private address: the user lets the egress proxy reach it by name.
    writeFileSync(
      join(dir, 'apps/app/.devcontainer/docker-compose.services.yml'),
      `services:\n  egress-proxy:\n    environment:\n      EGRESS_ALLOW_PRIVATE: ${LISTED}\n`,
    );
    ws.git('add', '-A');
    ws.git('commit', '-q', '-m', 'sandbox with postgres');
    ws.chownToCheckoutUser();
    expect(await upShared({}, context('up-shared'))).toEqual({ success: true });
    const up = await capture(() => upWorktree({ composeFile }, context()));
    said = up.text;
    project = readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1];
    if (!up.result.success) throw new Error(`up-worktree failed:\n${said}`);
    dockerOk([
      'run',
      '-d',
      '--name',
      outside,
      '--network',
      `${project}_egress`,
      '--network-alias',
      LISTED,
      '--network-alias',
      UNLISTED,
      'node:24-trixie-slim',
      'node',
      '-e',
      "require('http').createServer((q,s)=>s.end('outside '+q.url)).listen(80)",
    ]);
  });

  afterAll(async () => {
    if (!dir) return;
    docker(['rm', '-f', outside]);
    await downWorktree({ composeFile, volumes: true, images: true }, context('down-worktree'));
    await downShared({ volumes: true }, context('down-shared'));
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateHome, { recursive: true, force: true });
    delete process.env.XDG_STATE_HOME;
  });

  it('runs the dev container on runsc (the proxies on the default runtime), and says so at the start', () => {
    const runtime = (service: string) => dockerOk(['inspect', `${project}-${service}-1`, '--format', '{{.HostConfig.Runtime}}']).trim();
    expect(runtime('app')).toBe('runsc');
    expect(runtime('docker-proxy')).not.toBe('runsc');
    expect(runtime('egress-proxy')).not.toBe('runsc');
    expect(said).toMatch(/Kernel: gVisor \(runsc [^)\s]+\)/);
    // gVisor's kernel answers inside, not the host's.
    expect(inside('cat /proc/version').stdout.trim()).not.toBe(readFileSync('/proc/version', 'utf-8').trim());
    expect(inside('cat /proc/version').stdout).toMatch(/^Linux version 4\.4\.0/);
  });

  it('keeps what the agent does working there: docker through the proxy, git commit, npm, the shared Postgres', () => {
    expect(inside('docker ps --format "{{.Names}}"').stdout).toContain(`${project}-docker-proxy-1`);
    const commit = inside(`cd ${dir} && git commit -q --allow-empty -m "on gVisor" && git log -1 --format=%s`);
    expect([commit.stdout.trim(), commit.stderr]).toEqual(['on gVisor', '']);
    expect(inside('npm --version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(inside('psql "$DATABASE_URL" -tAc "select 1"').stdout.trim()).toBe('1');
  });

  it("runs the agent's own containers on runsc too, and refuses a child on another runtime", () => {
    const child = `devsec-gvisor-child-${run}`;
    const started = inside(`docker run -d --name ${child} devsec-rootfs:trixie sleep 120 && docker exec ${child} cat /proc/version`);
    expect([started.status, started.stderr]).toEqual([0, '']);
    expect(started.stdout).toMatch(/Linux version 4\.4\.0/);
    expect(dockerOk(['inspect', child, '--format', '{{.HostConfig.Runtime}}']).trim()).toBe('runsc');
    const runc = inside('docker run --rm --runtime=runc devsec-rootfs:trixie true');
    expect(runc.status).not.toBe(0);
    expect(runc.stderr).toMatch(/"runc" is refused: children run with the stack's runtime \(runsc\)/);
    expect(inside(`docker rm -f ${child}`).status).toBe(0);
  });

  it('goes out through the egress proxy to the listed host only', () => {
    expect(inside(`curl -sS http://${LISTED}/plain`).stdout).toBe('outside /plain');
    expect(inside(`curl -sS -p -o /dev/null -w '%{http_connect}' http://${UNLISTED}/`).stdout).toBe('403');
    expect(inside(`curl -sS --noproxy '*' --max-time 5 http://${LISTED}/`).status).not.toBe(0);
  });

  it('audit --live holds and reads gVisor from inside; the static audit reports --runtime=runc', async () => {
    const live = await capture(() => audit({ composeFile, live: true }, context('audit')));
    expect(live.text).toMatch(/Kernel: gVisor \(runtime runsc; inside, \/proc\/version reads "Linux version 4\.4\.0/);
    // --testContainers is a medium note of its own; nothing high.
    expect(live.text).not.toMatch(/^HIGH/m);
    expect(live.text).toMatch(/^MEDIUM .* test-containers: /m);
    expect(live.result).toEqual({ success: true });
    await generate({ runtime: 'runc' });
    const runc = await capture(() => audit({ composeFile }, context('audit')));
    expect(runc.text).toMatch(/MEDIUM\s+\S*docker-compose\.yml:\d+\s+shared-kernel: The sandbox is generated with --runtime=runc[^\n]*the engine has gVisor/);
  });
});
