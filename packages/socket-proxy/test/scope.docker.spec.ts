/**
 * Scope by stack on a real engine, through the real docker CLI: two worktrees' stacks on one
 * shared network, a shared Postgres and another repository's container. Each stack's proxy
 * shows its own stack (its user's services included) and the shared services, never the other
 * stack nor the other repository.
 */
import { describeWithDocker, docker, dockerOk, requireImage, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { POSTGRES_IMAGE, Stack, startTwoStacks, TwoStacks } from './two-stacks';

jest.setTimeout(180_000);

describeWithDocker('scope by stack, with the real docker CLI', () => {
  let t: TwoStacks;

  beforeAll(async () => {
    requireImage(ROOTFS_IMAGE);
    requireImage(POSTGRES_IMAGE);
    t = await startTwoStacks();
  });

  afterAll(async () => {
    await t?.remove();
  });

  const via = (stack: Stack, args: string[], timeout?: number) => docker(args, { host: stack.proxy.host, timeout });
  /** Each stack, with the other one. */
  const pairs = (): Array<[Stack, Stack]> => [
    [t.a, t.b],
    [t.b, t.a],
  ];
  const own = (stack: Stack) => [...Object.values(stack.names), ...(stack === t.a ? [t.mounted] : [])];
  const outsiders = (theirs: Stack) => [...Object.values(theirs.names), t.other];
  const lines = (text: string) => text.trim().split('\n').filter(Boolean);

  it.each(['a', 'b'])("docker ps from stack %s: its own containers and the shared Postgres, in the engine's order", (key) => {
    const [mine, theirs] = pairs()[key === 'a' ? 0 : 1];
    const expected = new Set([...own(mine), t.postgres]);
    const listed = via(mine, ['ps', '-a', '--format', '{{.Names}}']);
    expect(listed.stderr).toBe('');
    expect(new Set(lines(listed.stdout))).toEqual(expected);
    // The engine's own order (newest first) of the same containers, asked directly.
    const engineOrder = lines(dockerOk(['ps', '-a', '--format', '{{.Names}}'])).filter((name) => expected.has(name));
    expect(lines(listed.stdout)).toEqual(engineOrder);
    expect(lines(via(mine, ['ps', '-a', '-n', '2', '--format', '{{.Names}}']).stdout)).toEqual(engineOrder.slice(0, 2));
    const wide = via(mine, ['ps', '-a', '--no-trunc']).stdout;
    for (const name of outsiders(theirs)) {
      expect(wide).not.toContain(name);
      expect(wide).not.toContain(t.ids.get(name));
    }
    // The engine has them all: the filter is the proxy's.
    const everything = dockerOk(['ps', '-a', '--format', '{{.Names}}']);
    for (const name of outsiders(theirs)) expect(everything).toContain(name);
  });

  it('docker inspect and logs: own and shared containers are read (env values redacted); the others are "No such object"', () => {
    for (const [mine, theirs] of pairs()) {
      for (const name of [mine.names.app, mine.names.web, t.postgres]) expect(via(mine, ['inspect', name]).status).toBe(0);
      const [postgres] = JSON.parse(via(mine, ['inspect', t.postgres]).stdout);
      expect(postgres.Config.Env).toContain('POSTGRES_PASSWORD=<redacted>');
      expect(via(mine, ['logs', mine.names.app]).stdout).toContain(`hello-from-${mine.project}`);
      const postgresLogs = via(mine, ['logs', t.postgres]);
      expect(`${postgresLogs.stdout}${postgresLogs.stderr}`).toContain('ready to accept connections');
      for (const name of outsiders(theirs)) {
        for (const ref of [name, t.ids.get(name) as string]) {
          const inspected = via(mine, ['inspect', ref]);
          expect(inspected.status).not.toBe(0);
          expect(inspected.stderr).toMatch(/No such object/);
          const logs = via(mine, ['logs', ref]);
          expect(logs.status).not.toBe(0);
          expect(logs.stderr).toMatch(/No such container/);
        }
      }
    }
  });

  it('docker events: own and shared containers only, and the command line of an exec hidden', () => {
    const secret = `exec-secret-${t.run}`;
    const since = Math.floor(Date.now() / 1000) - 1;
    for (const name of [t.a.names.web, t.b.names.web, t.postgres, t.other]) {
      dockerOk(['pause', name]);
      dockerOk(['unpause', name]);
    }
    dockerOk(['exec', t.a.names.app, 'sh', '-c', `echo ${secret}`]);
    const until = Math.floor(Date.now() / 1000) + 1;
    const eventsVia = (stack?: Stack) =>
      docker(['events', '--since', String(since), '--until', String(until), '--format', '{{.Actor.Attributes.name}} {{.Action}}'], { host: stack?.proxy.host });
    // Directly, the engine shows everything, the secret included.
    expect(eventsVia().stdout).toContain(secret);
    for (const [mine, theirs] of pairs()) {
      const events = eventsVia(mine);
      expect(events.status).toBe(0);
      expect(events.stdout).toContain(`${mine.names.web} pause`);
      expect(events.stdout).toContain(`${t.postgres} unpause`);
      for (const name of outsiders(theirs)) expect(events.stdout).not.toContain(name);
      expect(events.stdout).not.toContain(secret);
    }
    expect(eventsVia(t.a).stdout).toContain(`${t.a.names.app} exec_create: <redacted>`);
    expect(eventsVia(t.b).stdout).not.toContain('exec_create');
  });

  it("docker network inspect of the shared network: the stack's dev container and the shared Postgres", () => {
    for (const [mine] of pairs()) {
      const inspected = via(mine, ['network', 'inspect', t.network]);
      expect(inspected.status).toBe(0);
      const [network] = JSON.parse(inspected.stdout);
      const names = Object.values(network.Containers as Record<string, { Name: string }>).map((container) => container.Name);
      expect(names.sort()).toEqual([mine.names.app, t.postgres].sort());
    }
    // Directly: both stacks and the other repository are on it.
    expect(Object.keys(JSON.parse(dockerOk(['network', 'inspect', t.network]))[0].Containers)).toHaveLength(4);
  });

  it("docker compose ps: a stack's services, its user's own included, and nothing of the other stack", () => {
    const services = (project: string, stack: Stack) =>
      lines(docker(['compose', '-p', project, 'ps', '-a', '--format', '{{.Service}}'], { host: stack.proxy.host }).stdout).sort();
    expect(services(t.a.project, t.a)).toEqual(['app', 'docker-proxy', 'web']);
    expect(services(t.b.project, t.a)).toEqual([]);
    expect(services(t.b.project, t.b)).toEqual(['app', 'docker-proxy', 'web']);
  });
});
