/**
 * The proxy on a real engine, driven by the real docker CLI (and docker compose).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeWithDocker, docker, dockerOk, engineEventsSince, engineNow, requireImage, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { RunningProxy, stackProxyEnv, startProxy } from './proxy-process';

jest.setTimeout(120_000);

const run = randomBytes(4).toString('hex');
const scopeValue = `proxytest-${run}`;
const scopeLabel = `org.devsec.scope=${scopeValue}`;
const canary = `devsec-canary-${run}`;
const outsider = `devsec-outsider-${run}`;
const envSecret = `env-secret-${run}`;
const fileSecret = `file-secret-${run}`;
const composeProject = `devsec-proxytest-${run}`;

/** Marks what a refused command would have made, so the engine's record of it is this suite's alone. */
const mark = `devsec-proxytest=${run}`;

describeWithDocker('socket proxy with the real docker CLI', () => {
  let proxy: RunningProxy;
  let composeDir: string;
  const viaProxy = (args: string[], timeout?: number) => docker(args, { host: proxy.host, timeout });

  beforeAll(async () => {
    requireImage(ROOTFS_IMAGE);
    dockerOk([
      'run',
      '-d',
      '--name',
      canary,
      '--label',
      scopeLabel,
      '--label',
      'org.devsec.test=proxy',
      '-e',
      `SECRET=${envSecret}`,
      ROOTFS_IMAGE,
      'bash',
      '-c',
      `echo ${fileSecret} > /secret.txt; echo hello-from-canary; exec sleep infinity`,
    ]);
    dockerOk(['run', '-d', '--name', outsider, '--label', 'org.devsec.test=proxy', ROOTFS_IMAGE, 'sleep', 'infinity']);
    composeDir = mkdtempSync(join(tmpdir(), 'devsec-compose-'));
    writeFileSync(
      join(composeDir, 'compose.yaml'),
      [
        'services:',
        '  svc:',
        `    image: ${ROOTFS_IMAGE}`,
        '    command: ["bash", "-c", "echo hello-from-compose; exec sleep infinity"]',
        '    labels:',
        `      org.devsec.scope: ${scopeValue}`,
        '',
      ].join('\n'),
    );
    dockerOk(['compose', '-p', composeProject, 'up', '-d'], { cwd: composeDir });
    proxy = await startProxy(stackProxyEnv(scopeLabel, { LOG_LEVEL: 'info' }));
  });

  afterAll(async () => {
    await proxy?.stop();
    docker(['rm', '-f', canary, outsider]);
    if (composeDir) {
      docker(['compose', '-p', composeProject, 'down', '--volumes', '--timeout', '1'], { cwd: composeDir });
      rmSync(composeDir, { recursive: true, force: true });
    }
  });

  it('lists only containers in scope with docker ps', () => {
    const names = viaProxy(['ps', '-a', '--format', '{{.Names}}']);
    expect(names.status).toBe(0);
    expect(names.stdout).toContain(canary);
    expect(names.stdout).toContain(`${composeProject}-svc-1`);
    expect(names.stdout).not.toContain(outsider);
    // The engine itself does have the outsider: the filter is the proxy's.
    expect(dockerOk(['ps', '-a', '--format', '{{.Names}}'])).toContain(outsider);
  });

  it("ANDs the client's own filters with the scope", () => {
    const filtered = viaProxy(['ps', '-a', '--filter', 'label=org.devsec.test=proxy', '--format', '{{.Names}}']);
    expect(filtered.stdout.trim().split('\n')).toEqual([canary]);
  });

  it('shows logs, and follows them until the client goes', async () => {
    expect(viaProxy(['logs', canary]).stdout).toContain('hello-from-canary');
    const follower = spawn('docker', ['logs', '-f', canary], { env: { ...process.env, DOCKER_HOST: proxy.host } });
    const seen = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no log line through logs -f: ${out}`)), 15_000);
      follower.stdout.on('data', (chunk) => {
        out += chunk;
        if (out.includes('hello-from-canary')) {
          clearTimeout(timer);
          resolve(out);
        }
      });
    });
    expect(seen).toContain('hello-from-canary');
    // Still streaming after the first line: the client, not a timeout, ends it.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(follower.exitCode).toBeNull();
    follower.kill('SIGTERM');
    await new Promise((resolve) => follower.once('exit', resolve));
  });

  it('inspects with env values redacted and names kept', () => {
    const inspected = viaProxy(['inspect', canary]);
    expect(inspected.status).toBe(0);
    const [container] = JSON.parse(inspected.stdout);
    expect(container.Config.Env).toContain('SECRET=<redacted>');
    expect(inspected.stdout).not.toContain(envSecret);
    // Direct access would have shown it: the redaction is the proxy's.
    expect(dockerOk(['inspect', canary])).toContain(envSecret);
  });

  it('hides containers outside the scope, and docker inspect still ends in a clean "No such object"', () => {
    const inspected = viaProxy(['inspect', outsider]);
    expect(inspected.status).not.toBe(0);
    expect(inspected.stderr).toMatch(/No such object: /);
    expect(inspected.stderr).not.toMatch(/policy/);
    const typed = viaProxy(['container', 'inspect', outsider]);
    expect(typed.stderr).toMatch(/No such container/);
    const logs = viaProxy(['logs', outsider]);
    expect(logs.status).not.toBe(0);
    expect(logs.stderr).toMatch(/No such container/);
    // And a name that does not exist at all reads the same.
    expect(viaProxy(['container', 'inspect', `nothing-${run}`]).stderr).toMatch(/No such container/);
  });

  it('carries only events of containers in scope', () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    dockerOk(['pause', canary]);
    dockerOk(['unpause', canary]);
    dockerOk(['pause', outsider]);
    dockerOk(['unpause', outsider]);
    const until = Math.floor(Date.now() / 1000) + 1;
    const events = viaProxy(['events', '--since', String(since), '--until', String(until), '--format', '{{.Actor.Attributes.name}} {{.Action}}']);
    expect(events.status).toBe(0);
    expect(events.stdout).toContain(`${canary} pause`);
    expect(events.stdout).toContain(`${canary} unpause`);
    expect(events.stdout).not.toContain(outsider);
  });

  it.each([
    [['images']],
    [['info']],
    [['version']],
    [['network', 'ls']],
    [['volume', 'ls']],
    [['image', 'inspect', ROOTFS_IMAGE]],
    [['network', 'inspect', 'bridge']],
  ])('docker %p works', (args) => {
    const result = viaProxy(args);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('hides out-of-scope containers from a network inspect', () => {
    const network = JSON.parse(viaProxy(['network', 'inspect', 'bridge']).stdout)[0];
    const names = Object.values(network.Containers as Record<string, { Name: string }>).map((c) => c.Name);
    expect(names).toContain(canary);
    expect(names).not.toContain(outsider);
  });

  it('serves docker compose ps and logs', () => {
    const ps = docker(['compose', '-p', composeProject, 'ps', '--format', '{{.Service}} {{.State}}'], { host: proxy.host, cwd: composeDir });
    expect(ps.stderr).toBe('');
    expect(ps.stdout.trim()).toBe('svc running');
    const logs = docker(['compose', '-p', composeProject, 'logs', '--no-color'], { host: proxy.host, cwd: composeDir });
    expect(logs.status).toBe(0);
    expect(logs.stdout).toContain('hello-from-compose');
  });

  describe('refuses every write, with the policy message, and the engine is unchanged', () => {
    let since: string;
    let hostFile: string;
    beforeAll(() => {
      since = engineNow();
      hostFile = join(composeDir, 'planted.txt');
      writeFileSync(hostFile, 'planted');
      writeFileSync(join(composeDir, 'Dockerfile'), `FROM ${ROOTFS_IMAGE}\nRUN touch /built\n`);
    });

    it.each([
      ['run', () => ['run', '--rm', '--label', mark, ROOTFS_IMAGE, 'true']],
      ['run --privileged', () => ['run', '--privileged', '--label', mark, '--pid=host', '-v', '/:/host', ROOTFS_IMAGE, 'chroot', '/host']],
      ['exec', () => ['exec', canary, 'cat', '/secret.txt']],
      ['build', () => ['build', '-q', '--label', mark, '-t', `devsec-should-not-exist-${run}`, composeDir]],
      ['cp from a container', () => ['cp', `${canary}:/secret.txt`, join(composeDir, 'stolen.txt')]],
      ['cp into a container', () => ['cp', hostFile, `${canary}:/planted.txt`]],
      ['export', () => ['export', '-o', join(composeDir, 'export.tar'), canary]],
      ['save', () => ['save', '-o', join(composeDir, 'save.tar'), ROOTFS_IMAGE]],
      ['pull', () => ['pull', 'alpine:3']],
      ['volume create', () => ['volume', 'create', `devsec-should-not-exist-${run}`]],
      ['network create', () => ['network', 'create', `devsec-should-not-exist-${run}`]],
      ['stop', () => ['stop', '-t', '1', canary]],
      ['kill', () => ['kill', canary]],
      ['rm', () => ['rm', '-f', canary]],
      ['commit', () => ['commit', canary, `devsec-should-not-exist-${run}`]],
      ['swarm init', () => ['swarm', 'init']],
    ])('docker %s', (_name, args) => {
      const result = viaProxy(args(), 30_000);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('devsec sandbox policy');
      expect(result.stdout).not.toContain(fileSecret);
    });

    it('docker attach (an upgrade to a raw stream) is refused', () => {
      const result = viaProxy(['attach', '--no-stdin', canary], 30_000);
      expect(result.status).not.toBe(0);
      // The CLI prints only the status of a refused upgrade.
      expect(result.stderr).toMatch(/unable to upgrade to tcp, received 403/);
      expect(result.stdout).not.toContain(fileSecret);
    });

    afterAll(() => {
      // What each refused command would have left in the engine's record: an event on the canary
      // (exec, cp, export, stop, kill, rm, commit, attach), a container or image with this suite's
      // mark (run, build), the pulled, saved or named image, volume or network. Not a diff of the
      // whole engine: other suites run beside this one.
      const nothing = `devsec-should-not-exist-${run}`;
      expect(
        engineEventsSince(since, [
          { container: canary },
          { label: mark },
          { image: 'alpine' },
          { image: nothing },
          { type: 'image', event: 'save' },
          { volume: nothing },
          { network: nothing },
        ]),
      ).toEqual([]);
      expect(dockerOk(['info', '--format', '{{.Swarm.LocalNodeState}}']).trim()).toBe('inactive');
      expect(dockerOk(['exec', canary, 'cat', '/secret.txt']).trim()).toBe(fileSecret);
    });
  });

  it('wrote one structured access-log line per request', () => {
    const lines = proxy
      .output()
      .split('\n')
      .filter((line) => line.includes('"decision"'))
      .map((line) => JSON.parse(line));
    expect(lines.length).toBeGreaterThan(20);
    expect(lines.find((l) => l.decision === 'deny' && l.rule === 'read-only' && l.method === 'POST')).toBeDefined();
    expect(lines.find((l) => l.decision === 'allow' && l.rule === 'container-list')).toMatchObject({ status: 200 });
    for (const line of lines) expect(Object.keys(line)).toEqual(expect.arrayContaining(['time', 'level', 'method', 'path', 'decision', 'rule', 'status']));
  });
});
