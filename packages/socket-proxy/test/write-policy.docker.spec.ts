/**
 * The write policy on a real engine, driven by the real docker CLI through the compiled proxy:
 * the agent's own container runs, logs, execs, copies, stops and goes; hostile creates are
 * refused; siblings (a stack container, a shared service) stay read-only; nothing the agent
 * made is privileged, shares a host namespace, binds a host path or has a host port.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithDocker, docker, dockerOk, requireImage, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import type { RunningProxy } from './proxy-process';
import { ownedBy, startWriteProxy, stopWriteProxy, WriteSuite } from './write-proxy';

jest.setTimeout(120_000);

const run = randomBytes(4).toString('hex');
const owner = `wptest-${run}`;
const children = `wptest-${run}-children`;
const sharedScope = `wptest-${run}-shared`;
/** A shared service (the shared Postgres's label) and a stack container (the dev container's project label). */
const sharedService = `wptest-${run}-postgres`;
const devContainer = `wptest-${run}-dev`;
const child = `wptest-${run}-child`;

describeWithDocker('the write policy on a real engine', () => {
  let proxy: RunningProxy;
  let dir: string;
  const suite: WriteSuite = { owner, children, devContainer, scopeLabel: `com.docker.compose.project=${owner},org.devsec.scope=${sharedScope}` };
  const viaProxy = (args: string[], input?: string) => docker(args, { host: proxy.host, input });
  const ownContainers = () => ownedBy(owner, 'container');

  beforeAll(async () => {
    requireImage(ROOTFS_IMAGE);
    dir = mkdtempSync(join(tmpdir(), 'devsec-wptest-'));
    dockerOk(['run', '-d', '--name', sharedService, '--label', `org.devsec.scope=${sharedScope}`, ROOTFS_IMAGE, 'sleep', 'infinity']);
    proxy = await startWriteProxy(suite);
  });

  afterAll(async () => {
    docker(['rm', '-f', sharedService]);
    await stopWriteProxy(proxy, suite);
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs, reads, execs into, copies to and from, stops and removes its own container', () => {
    const id = viaProxy(['run', '-d', '--name', child, '-p', '8080:80', ROOTFS_IMAGE, 'bash', '-c', 'echo hello-from-child; exec sleep infinity']);
    expect(id.stderr).toBe('');
    expect(id.status).toBe(0);
    expect(viaProxy(['ps', '--format', '{{.Names}}']).stdout).toContain(child);
    expect(viaProxy(['logs', child]).stdout).toContain('hello-from-child');
    expect(viaProxy(['exec', child, 'echo', 'exec-ok']).stdout.trim()).toBe('exec-ok');
    expect(viaProxy(['exec', '-i', child, 'cat'], 'piped-in').stdout).toBe('piped-in');
    const status = viaProxy(['exec', child, 'grep', '-E', '^(NoNewPrivs|CapBnd)', '/proc/self/status']).stdout;
    expect(status).toMatch(/NoNewPrivs:\s+1/);
    // NET_RAW (bit 13) is dropped from the default set.
    expect(BigInt(`0x${/CapBnd:\s+([0-9a-f]+)/.exec(status)?.[1]}`) & (1n << 13n)).toBe(0n);
    writeFileSync(join(dir, 'in.txt'), 'copied-in');
    expect(viaProxy(['cp', join(dir, 'in.txt'), `${child}:/tmp/in.txt`]).status).toBe(0);
    expect(viaProxy(['exec', child, 'cat', '/tmp/in.txt']).stdout).toBe('copied-in');
    expect(viaProxy(['cp', `${child}:/tmp/in.txt`, join(dir, 'out.txt')]).status).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('copied-in');
    const inspect = JSON.parse(dockerOk(['inspect', child]))[0];
    expect(inspect.Config.Labels['org.devsec.owner']).toBe(owner);
    expect(inspect.HostConfig).toMatchObject({
      Privileged: false,
      NetworkMode: children,
      PortBindings: {},
      PublishAllPorts: false,
      SecurityOpt: ['no-new-privileges'],
    });
    expect(inspect.HostConfig.Memory).toBeGreaterThan(0);
    expect(inspect.HostConfig.PidsLimit).toBeGreaterThan(0);
    expect(inspect.NetworkSettings.Ports['80/tcp'] ?? null).toBeNull();
    expect(viaProxy(['stop', '-t', '1', child]).status).toBe(0);
    expect(viaProxy(['rm', child]).status).toBe(0);
    expect(ownContainers()).toEqual([]);
  });

  it.each([
    ['privileged', ['--privileged']],
    ['a bind of /', ['-v', '/:/host']],
    ['the docker socket', ['-v', '/var/run/docker.sock:/var/run/docker.sock']],
    ['the host network', ['--network', 'host']],
    ['the host pid namespace', ['--pid', 'host']],
    ["a sibling's network namespace", ['--network', `container:${devContainer}`]],
    ['an added capability', ['--cap-add', 'SYS_ADMIN']],
    ['seccomp unconfined', ['--security-opt', 'seccomp=unconfined']],
    ['systempaths unconfined', ['--security-opt', 'systempaths=unconfined']],
    ['a device', ['--device', '/dev/null:/dev/x']],
    ['a sysctl', ['--sysctl', 'net.ipv4.ip_forward=1']],
    ['an owner label of its own', ['--label', `org.devsec.owner=${owner}`]],
  ])('refuses %s on the real engine, creating nothing', (_what, flags) => {
    const result = viaProxy(['run', '-d', ...flags, ROOTFS_IMAGE, 'true']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/devsec sandbox policy: .* (is refused|must)/);
    expect(ownContainers()).toEqual([]);
  });

  it.each([[devContainer], [sharedService]])('keeps %s read-only: stop, kill, exec, rm, cp refused', (sibling) => {
    for (const args of [
      ['stop', '-t', '1', sibling],
      ['kill', sibling],
      ['exec', sibling, 'true'],
      ['rm', '-f', sibling],
      ['cp', `${sibling}:/etc/hostname`, join(dir, 'stolen')],
      ['cp', join(dir, 'in.txt'), `${sibling}:/tmp/planted`],
      ['rename', sibling, 'renamed'],
      ['pause', sibling],
    ]) {
      const result = viaProxy(args);
      expect({ args, status: result.status }).toEqual({ args, status: 1 });
      expect(result.stderr).toMatch(/not a container this sandbox created/);
    }
    expect(dockerOk(['inspect', '--format', '{{.State.Running}} {{.State.Paused}}', sibling]).trim()).toBe('true false');
  });

  it("serves a child's mapped port itself (Postgres answers there), with no host port on the engine; gone with the child", async () => {
    const name = `wptest-${run}-pg`;
    const started = viaProxy(['run', '-d', '--name', name, '-p', '5432', '-e', 'POSTGRES_PASSWORD=x', 'postgres:17']);
    expect(started.stderr).toBe('');
    let ready = false;
    for (let i = 0; i < 60 && !ready; i++) {
      ready = viaProxy(['exec', name, 'pg_isready', '-h', '127.0.0.1', '-q']).status === 0;
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(ready).toBe(true);
    const seen = JSON.parse(viaProxy(['inspect', name]).stdout)[0];
    const [binding] = seen.NetworkSettings.Ports['5432/tcp'];
    // The unix-socket client is on this machine: the proxy listens on loopback, on a port of its own.
    expect(binding.HostIp).toBe('127.0.0.1');
    const port = Number(binding.HostPort);
    expect(port).toBeGreaterThan(0);
    expect(viaProxy(['port', name]).stdout).toContain(`127.0.0.1:${port}`);
    // Postgres's SSLRequest: a real server answers one byte, N or S, through the proxy's port.
    const answer = (await import('node:net')).connect(port, '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      answer.on('connect', () => answer.write(Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f])));
      answer.once('data', (chunk) => resolve(chunk.toString('latin1')));
      answer.on('error', reject);
    });
    answer.destroy();
    expect(reply).toMatch(/^[NS]$/);
    // The engine itself published nothing.
    const real = JSON.parse(dockerOk(['inspect', name]))[0];
    expect(real.HostConfig.PortBindings).toEqual({});
    expect(real.NetworkSettings.Ports['5432/tcp'] ?? null).toBeNull();
    expect(real.Config.Labels['org.devsec.publish']).toBe('5432/tcp');
    expect(viaProxy(['rm', '-f', name]).status).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const net = await import('node:net');
    const closed = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('connect', () => resolve('open'));
      socket.on('error', (error: Error & { code?: string }) => resolve(error.code ?? 'error'));
    });
    expect(closed).toBe('ECONNREFUSED');
  });

  it('creates its networks internal with no gateway on the host, and volumes local', () => {
    expect(viaProxy(['network', 'create', `${owner}-net`]).status).toBe(0);
    const network = JSON.parse(dockerOk(['network', 'inspect', `${owner}-net`]))[0];
    expect(network).toMatchObject({ Internal: true, Driver: 'bridge', Options: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } });
    expect(network.Labels['org.devsec.owner']).toBe(owner);
    expect(viaProxy(['volume', 'create', `${owner}-vol`]).status).toBe(0);
    const own = viaProxy(['run', '-d', '--network', `${owner}-net`, '-v', `${owner}-vol:/data`, ROOTFS_IMAGE, 'sleep', 'infinity']);
    expect(own.stderr).toBe('');
    expect(viaProxy(['rm', '-f', own.stdout.trim()]).status).toBe(0);
    expect(viaProxy(['network', 'rm', `${owner}-net`]).status).toBe(0);
    expect(viaProxy(['volume', 'rm', `${owner}-vol`]).status).toBe(0);
    expect(viaProxy(['network', 'create', '--internal=false', '-o', 'com.docker.network.bridge.enable_ip_masquerade=true', 'x']).stderr).toMatch(
      /Options is refused/,
    );
    expect(viaProxy(['volume', 'create', '-o', 'type=none', '-o', 'o=bind', '-o', 'device=/', 'x']).stderr).toMatch(/DriverOpts is refused/);
  });

  it('refuses builds, saying why', () => {
    writeFileSync(join(dir, 'Dockerfile'), `FROM ${ROOTFS_IMAGE}\nRUN true\n`);
    const result = docker(['build', '-q', dir], { host: proxy.host });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/docker build.*is refused.*engine's own network/);
  });

  it('answers 429 naming the limit at MAX_CHILDREN', () => {
    const made = [1, 2, 3, 4].map(() => viaProxy(['create', ROOTFS_IMAGE, 'true']));
    expect(made.map((result) => result.status)).toEqual([0, 0, 0, 0]);
    const over = viaProxy(['create', ROOTFS_IMAGE, 'true']);
    expect(over.status).not.toBe(0);
    expect(over.stderr).toMatch(/MAX_CHILDREN=4/);
    for (const id of ownContainers()) expect(viaProxy(['rm', id]).status).toBe(0);
  });
});
