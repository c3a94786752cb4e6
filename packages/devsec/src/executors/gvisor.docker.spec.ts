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
import { readFileSync } from 'node:fs';
import { describeWithDocker, dockerOk } from '../../../../tools/testing/docker';
import { LISTED, outsideListedStack, POSTGRES_CLIENT, startOutsideServer, UNLISTED } from '../../../../tools/testing/egress-outside';
import { captureOutput, COMPOSE_FILE, createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import audit from './audit/executor';

jest.setTimeout(600_000);

describeWithDocker('gVisor: a sandbox generated with no option runs its dev container on runsc, and everything works there', () => {
  let stack: SandboxStackFixture;
  let said: string;
  const inside = (script: string) => stack.inside(script);

  beforeAll(async () => {
    // Defaults: no --runtime.
    stack = await createSandboxStack('gvisor', outsideListedStack({ generator: { testContainers: true } }));
    expect(await stack.upShared()).toEqual({ success: true });
    const up = await stack.up();
    said = up.said;
    if (!up.success) throw new Error(`up-worktree failed:\n${said}`);
    startOutsideServer(stack);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('runs the dev container on runsc (the proxies on the default runtime), and says so at the start', () => {
    const runtime = (service: string) => dockerOk(['inspect', `${stack.project}-${service}-1`, '--format', '{{.HostConfig.Runtime}}']).trim();
    expect(runtime('app')).toBe('runsc');
    expect(runtime('docker-proxy')).not.toBe('runsc');
    expect(runtime('egress-proxy')).not.toBe('runsc');
    expect(said).toMatch(/Kernel: gVisor \(runsc [^)\s]+\)/);
    // gVisor's kernel answers inside, not the host's.
    expect(inside('cat /proc/version').stdout.trim()).not.toBe(readFileSync('/proc/version', 'utf-8').trim());
    expect(inside('cat /proc/version').stdout).toMatch(/^Linux version 4\.4\.0/);
  });

  it('keeps what the agent does working there: docker through the proxy, git commit, npm, the shared Postgres', () => {
    expect(inside('docker ps --format "{{.Names}}"').stdout).toContain(`${stack.project}-docker-proxy-1`);
    const commit = inside(`cd ${stack.dir} && git commit -q --allow-empty -m "on gVisor" && git log -1 --format=%s`);
    expect([commit.stdout.trim(), commit.stderr]).toEqual(['on gVisor', '']);
    expect(inside('npm --version').stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    expect(inside('psql "$DATABASE_URL" -tAc "select 1"').stdout.trim()).toBe('1');
  });

  it("runs the agent's own containers on runsc too, and refuses a child on another runtime", () => {
    const child = stack.name('child');
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
    const live = await captureOutput(() => audit({ composeFile: COMPOSE_FILE, live: true }, stack.context('audit')));
    expect(live.text).toMatch(/Kernel: gVisor \(runtime runsc; inside, \/proc\/version reads "Linux version 4\.4\.0/);
    // --testContainers is a medium note of its own; nothing high.
    expect(live.text).not.toMatch(/^HIGH/m);
    expect(live.text).toMatch(/^MEDIUM .* test-containers: /m);
    expect(live.result).toEqual({ success: true });
    await stack.generate({ ...POSTGRES_CLIENT, runtime: 'runc' });
    const runc = await captureOutput(() => audit({ composeFile: COMPOSE_FILE }, stack.context('audit')));
    expect(runc.text).toMatch(/MEDIUM\s+\S*docker-compose\.yml:\d+\s+shared-kernel: The sandbox is generated with --runtime=runc[^\n]*the engine has gVisor/);
  });
});
