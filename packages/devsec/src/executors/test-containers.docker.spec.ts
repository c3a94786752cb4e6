/**
 * --testContainers on the real engine, as the agent uses it: a sandbox generated with that option
 * and nothing else; inside the dev container (as its user), Testcontainers for Node (installed in
 * the workspace on the host, with npm) starts Postgres with its defaults, queries it through the
 * mapped port, execs into it and stops it. Meanwhile the host checks what the engine really holds:
 * the child has no host port, sits on the stack's children network only, with no-new-privileges
 * and the owner label. down-worktree leaves nothing of the agent's behind.
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { bridgeGateway, HostService, ownAddresses, startHostService } from '../../../../tools/testing/host-side';
import { captureOutput, COMPOSE_FILE, createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import audit from './audit/executor';
import downWorktree from './down-worktree/executor';

jest.setTimeout(300_000);

const run = Math.random().toString(36).slice(2, 8);
const OWNER_LABEL = 'org.devsec.owner';
/** What the test workspace installs on the host: the versions the repository pins. */
const TEST_PACKAGES = ['testcontainers', '@testcontainers/postgresql', 'pg'];
/** The agent's own containers and compose project: names unique to this run (container names are the engine's). */
const own = `devsec-tc-${run}-own`;
const probe = `devsec-tc-${run}-probe`;
const composeProject = `devsec-tc-${run}-compose`;
const IMAGE = 'devsec-rootfs:trixie';
const COMPOSE_TEST = `services:\n  web:\n    image: ${IMAGE}\n    command: ["bash", "-c", "echo compose-web-up; exec sleep infinity"]\n`;

/**
 * The agent's test: Postgres by Testcontainers with its defaults. It prints one JSON line once the
 * container is up and queried, then waits for a line on stdin (the host's checks) before stopping.
 * The stand-in postgres:17 creates only the `postgres` role (POSTGRES_USER is the official image's
 * and not the stand-in's), so the client logs in as postgres with the container's password.
 */
const JOURNEY = `
const { PostgreSqlContainer } = require('@testcontainers/postgresql');
const { Client } = require('pg');
(async () => {
  const container = await new PostgreSqlContainer('postgres:17').start();
  const client = new Client({ host: container.getHost(), port: container.getPort(), user: 'postgres', password: container.getPassword(), database: container.getDatabase() });
  await client.connect();
  const select = (await client.query('select 1 as one')).rows[0].one;
  await client.end();
  const exec = await container.exec(['psql', '-U', 'postgres', '-tAc', 'select 2']);
  console.log(JSON.stringify({ id: container.getId(), host: container.getHost(), port: container.getPort(), select, exec: exec.output.trim(), execExit: exec.exitCode }));
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
  await container.stop();
  console.log(JSON.stringify({ stopped: true }));
})().catch((error) => { console.error('JOURNEY FAILED', error); process.exit(1); });
`;

describeWithDocker('--testContainers: the agent runs its own containers, never stronger than itself', () => {
  let stack: SandboxStackFixture;
  let hostService: HostService;
  const app = () => stack.app;
  const inside = (script: string, timeout?: number) => stack.inside(script, timeout);
  const ownOnEngine = () =>
    dockerOk(['ps', '-aq', '--no-trunc', '--filter', `label=${OWNER_LABEL}=${stack.project}`])
      .split('\n')
      .filter(Boolean);

  beforeAll(async () => {
    // A host service listening on every address: what nothing the agent starts may reach.
    hostService = await startHostService();
    stack = await createSandboxStack('tc', {
      run,
      generator: { testContainers: true },
      prepare: (dir) => {
        // Testcontainers and pg, installed on the host with npm (the registry is not reachable from inside), at the repository's pins.
        // The stand-in node:24 image runs Debian's Node 20, where undici 8 (Testcontainers' HTTP wait strategy) does not load:
        // the repository overrides it with undici 7, and so does this install. The real node:24 image needs no override.
        const root = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', '..', 'package.json'), 'utf-8'));
        const pins = root.devDependencies as Record<string, string>;
        const install = mkdtempSync(join(tmpdir(), 'devsec-tc-npm-'));
        writeFileSync(
          join(install, 'package.json'),
          JSON.stringify({
            name: 'tc-install',
            private: true,
            dependencies: Object.fromEntries(TEST_PACKAGES.map((name) => [name, pins[name]])),
            overrides: root.overrides,
          }),
        );
        execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', '--omit=optional'], {
          cwd: install,
          stdio: 'inherit',
        });
        cpSync(join(install, 'node_modules'), join(dir, 'node_modules'), { recursive: true });
        rmSync(install, { recursive: true, force: true });
        writeFileSync(join(dir, 'tc-journey.js'), JOURNEY);
        writeFileSync(join(dir, 'compose.test.yml'), COMPOSE_TEST);
      },
    });
    const started = await stack.up();
    if (!started.success) throw new Error(`up-worktree failed:\n${started.said}`);
  });

  afterAll(async () => {
    hostService?.close();
    await stack?.stop();
  });

  it('runs Testcontainers Postgres inside with its defaults: started, queried through the mapped port, exec, stopped', async () => {
    expect(inside('echo "$TESTCONTAINERS_RYUK_DISABLED $DOCKER_HOST"').stdout.trim()).toBe('true tcp://docker-proxy:2375');
    const child = spawn('docker', ['exec', '-i', '-u', 'node', '-w', stack.dir, app(), 'node', 'tc-journey.js'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const started = await new Promise<Record<string, unknown>>((resolve, reject) => {
      child.stdout.on('data', (chunk) => {
        stdout += chunk;
        const line = stdout.split('\n').find((entry) => entry.startsWith('{'));
        if (line) resolve(JSON.parse(line));
      });
      child.on('exit', (code) => reject(new Error(`the journey ended (${code}) before Postgres was up:\n${stdout}\n${stderr}`)));
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(started).toMatchObject({ host: 'docker-proxy', select: 1, exec: '2', execExit: 0 });

    // What the engine really holds, seen from the host.
    const inspect = JSON.parse(dockerOk(['inspect', String(started.id)]))[0];
    expect(inspect.Config.Labels[OWNER_LABEL]).toBe(stack.project);
    expect(inspect.HostConfig.PortBindings ?? {}).toEqual({});
    expect(inspect.HostConfig.PublishAllPorts).toBe(false);
    expect(Object.values(inspect.NetworkSettings.Ports ?? {}).every((bindings) => bindings === null)).toBe(true);
    expect(inspect.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(inspect.HostConfig.Privileged).toBe(false);
    expect(Object.keys(inspect.NetworkSettings.Networks)).toEqual([`${stack.project}_children`]);
    expect(inspect.HostConfig.Binds ?? []).toEqual([]);

    // The go, then end of input: an open stdin would keep the journey's Node running after its stop.
    child.stdin.end('go\n');
    expect([await exited, stderr]).toEqual([0, expect.any(String)]);
    expect(stdout).toContain('"stopped":true');
  });

  it('runs, reads, execs into, stops and removes its own container with the docker CLI inside', () => {
    const result = inside(
      [
        'set -e',
        `docker run -d --name ${own} ${IMAGE} bash -c "echo hello-own; exec sleep infinity"`,
        `until docker logs ${own} | grep -q hello-own; do sleep 0.2; done`,
        `docker ps --format '{{.Names}}' | grep -x ${own}`,
        `docker exec ${own} echo exec-ok`,
        `docker stop -t 1 ${own}`,
        `docker rm ${own}`,
        // Attached, as most people type it: create, attach, start, wait, and the engine removes it.
        `docker run --rm ${IMAGE} echo run-attached`,
        'echo all-done',
      ].join('\n'),
    );
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/exec-ok\n[\s\S]*run-attached\nall-done/);
    expect(docker(['inspect', own]).status).not.toBe(0);
  });

  it('runs docker compose up -d, ps, logs, down of its own test services inside', () => {
    const compose = `docker compose -p ${composeProject} -f compose.test.yml`;
    const up = inside(`${compose} up -d && ${compose} ps --format '{{.Service}} {{.State}}' && sleep 1 && ${compose} logs web`);
    expect([up.status, up.stdout, up.stderr]).toEqual([0, expect.stringMatching(/web running[\s\S]*compose-web-up/), expect.any(String)]);
    const ids = dockerOk(['ps', '-q', '--filter', `label=com.docker.compose.project=${composeProject}`])
      .split('\n')
      .filter(Boolean);
    expect(ids.length).toBe(1);
    const [web] = JSON.parse(dockerOk(['inspect', ...ids]));
    expect(web.Config.Labels[OWNER_LABEL]).toBe(stack.project);
    expect(web.HostConfig.PortBindings ?? {}).toEqual({});
    const [net] = Object.keys(web.NetworkSettings.Networks).map((name) => JSON.parse(dockerOk(['network', 'inspect', name]))[0]);
    expect([net.Internal, net.Labels[OWNER_LABEL]]).toEqual([true, stack.project]);
    const down = inside(`${compose} down`);
    expect([down.status, down.stderr]).toEqual([0, expect.any(String)]);
    expect(dockerOk(['ps', '-aq', '--filter', `label=com.docker.compose.project=${composeProject}`]).trim()).toBe('');
  });

  it('from a child: no address of the host or outside answers, and the proxy only refuses (a listener in the dev container answers)', () => {
    const addresses = ownAddresses();
    const bridge = bridgeGateway();
    const proxy = JSON.parse(dockerOk(['inspect', `${stack.project}-docker-proxy-1`]))[0].NetworkSettings.Networks as Record<string, { IPAddress: string }>;
    const appOnChildren = JSON.parse(dockerOk(['inspect', app()]))[0].NetworkSettings.Networks[`${stack.project}_children`].IPAddress;
    const closed = [
      ...[...addresses, bridge].map((address) => `${address}:${hostService.port}`),
      '1.1.1.1:443',
      `${proxy[`${stack.project}_sandbox`].IPAddress}:2375`,
    ];
    const proxyOnChildren = `${proxy[`${stack.project}_children`].IPAddress}:2375`;
    // The control: the same check gets an answer from a listener in the dev container, on the children network.
    docker(['exec', '-d', '-u', 'node', app(), 'node', '-e', "require('net').createServer((s)=>s.end('listener-answered\\n')).listen(18080)"]);
    const targets = [`${appOnChildren}:18080`, proxyOnChildren, ...closed];
    // Each target: connect (3 s), ask for Docker's /_ping, print the first line of what came back.
    const check = targets
      .map(
        (target) =>
          `if line=$(timeout 3 bash -c 'exec 3<>/dev/tcp/${target.replace(':', '/')} && printf "GET /_ping HTTP/1.0\\r\\n\\r\\n" >&3 && head -n 1 <&3' 2>/dev/null); ` +
          `then echo "${target} answered: $line"; else echo "${target} closed"; fi`,
      )
      .join('\n');
    writeFileSync(join(stack.dir, 'check-reach.sh'), `${check}\n`);
    const result = inside(
      // On stdin: gVisor does not see a `docker cp` into a running container (it caches its view of the root filesystem).
      `docker run -d --name ${probe} ${IMAGE} sleep infinity >/dev/null && docker exec -i ${probe} bash -s < check-reach.sh`,
      120_000,
    );
    expect(
      result.stdout
        .trim()
        .split('\n')
        .map((line) => line.replace(/\r$/, '')),
    ).toEqual([
      `${appOnChildren}:18080 answered: listener-answered`,
      // The proxy listens there to serve mapped ports; its API refuses a child before reading the request (a 403, or the connection closed with nothing said).
      expect.stringMatching(new RegExp(`^${proxyOnChildren.replace(/\./g, '\\.')} (closed|answered: HTTP/1\\.1 403 |answered: $)`)),
      ...closed.map((target) => `${target} closed`),
    ]);
    inside(`docker rm -f ${probe}`);
  });

  it("refuses stop, exec, remove and copy on the stack's own containers (the dev container, the proxy)", () => {
    for (const sibling of [app(), `${stack.project}-docker-proxy-1`]) {
      for (const command of [
        `docker stop ${sibling}`,
        `docker exec ${sibling} true`,
        `docker rm -f ${sibling}`,
        `docker cp ${sibling}:/etc/hostname /tmp/x`,
        `docker kill ${sibling}`,
        `timeout 20 docker attach --no-stdin ${sibling}`,
      ]) {
        const result = inside(command);
        // The CLI shows an upgrade's refusal by its status only.
        expect([command, result.status === 0, result.stderr]).toEqual([
          command,
          false,
          expect.stringMatching(/devsec sandbox policy|unable to upgrade to tcp, received 403/),
        ]);
      }
    }
    expect(JSON.parse(dockerOk(['inspect', `${stack.project}-docker-proxy-1`]))[0].State.Running).toBe(true);
  });

  it('audit --live: the hostile creates and the calls on a sibling are refused, and nothing was created', async () => {
    const before = ownOnEngine();
    const { result, printed: report } = await captureOutput(() => audit({ composeFile: COMPOSE_FILE, live: true }, stack.context('audit')));
    const [, refused, total] = /(\d+) of (\d+) forbidden Docker calls refused/.exec(report) ?? [];
    expect([refused, Number(total) >= 30]).toEqual([total, true]);
    // The one finding is the mode itself (static, medium): nothing the live probe tried got through.
    // (Notes, such as shared-kernel on an engine without gVisor, are not findings.)
    expect([...report.matchAll(/^(LOW|MEDIUM|HIGH|CRITICAL)\s+\S+\s+([a-z-]+):/gm)].map((found) => `${found[1]} ${found[2]}`)).toEqual([
      'MEDIUM test-containers',
    ]);
    expect(result).toBeDefined();
    expect(ownOnEngine()).toEqual(before);
  });

  it('down-worktree leaves nothing the agent made behind', async () => {
    // The agent leaves a container running, as a test that crashed would.
    const left = inside('docker run -d devsec-rootfs:trixie sleep infinity');
    expect(left.stderr).toBe('');
    expect(ownOnEngine().length).toBeGreaterThan(0);
    const { result } = await captureOutput(() => downWorktree({ composeFile: COMPOSE_FILE }, stack.context('down-worktree')), { stdout: false });
    expect(result).toEqual({ success: true });
    expect(ownOnEngine()).toEqual([]);
  });
});
