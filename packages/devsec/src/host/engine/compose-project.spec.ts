import { ComposeProject, inspectContainers, waitUntilHealthy } from './compose-project';
import type { Runner } from './run';

describe('waitUntilHealthy', () => {
  const stack: ComposeProject = { name: 'app-ws-1', files: [], cwd: '/x', prefix: '[app] ' };
  const container = (service: string, state: string, status: string) =>
    JSON.stringify({
      Names: `app-ws-1-${service}-1`,
      State: state,
      Status: status,
      Labels: `com.docker.compose.project=app-ws-1,com.docker.compose.service=${service}`,
    });
  /** Answers each `docker ps` with the next snapshot (the last one repeats), and logs with a line. */
  const snapshots = (...lists: string[][]): Runner & { polls: number } => {
    const runner = ((_command: string, args: string[]) => {
      if (args[0] === 'ps') return { status: 0, stdout: `${lists[Math.min(runner.polls++, lists.length - 1)].join('\n')}\n`, stderr: '' };
      return { status: 0, stdout: 'db-1  | FATAL: bad config\n', stderr: '' };
    }) as Runner & { polls: number };
    runner.polls = 0;
    return runner;
  };

  it('returns at the first look when everything already runs, with service and health per container', async () => {
    const run = snapshots([container('docker-proxy', 'running', 'Up 2 minutes (healthy)'), container('app', 'running', 'Up 2 minutes')]);
    expect(await waitUntilHealthy(stack, 5_000, run)).toEqual([
      expect.objectContaining({ Service: 'app', Health: '', State: 'running' }),
      expect.objectContaining({ Service: 'docker-proxy', Health: 'healthy' }),
    ]);
    expect(run.polls).toBe(1);
  });

  it('waits while a health check is starting; a one-shot that exited 0 counts as done', async () => {
    const run = snapshots(
      [container('db', 'running', 'Up 1 second (health: starting)'), container('migrate', 'exited', 'Exited (0) 1 second ago')],
      [container('db', 'running', 'Up 2 seconds (healthy)'), container('migrate', 'exited', 'Exited (0) 2 seconds ago')],
    );
    expect((await waitUntilHealthy(stack, 5_000, run)).map((entry) => entry.Health)).toEqual(['healthy', '']);
    expect(run.polls).toBe(2);
  });

  it('fails on an unhealthy or crashed service, naming it and showing its last log lines', async () => {
    await expect(waitUntilHealthy(stack, 5_000, snapshots([container('db', 'running', 'Up 9 seconds (unhealthy)')]))).rejects.toThrow(
      /db is unhealthy\. Its last log lines:\ndb-1 {2}\| FATAL: bad config/,
    );
    await expect(waitUntilHealthy(stack, 5_000, snapshots([container('db', 'exited', 'Exited (1) 2 seconds ago')]))).rejects.toThrow(
      /db is not running \(Exited \(1\) 2 seconds ago\)/,
    );
  });

  it('gives up after the timeout, naming what it waited for', async () => {
    await expect(waitUntilHealthy(stack, 600, snapshots([container('db', 'running', 'Up 1 second (health: starting)')]))).rejects.toThrow(
      /Still waiting for db after 0.6 s/,
    );
  });
});

describe('inspectContainers: the stack as it was last found, in one docker inspect', () => {
  const stack: ComposeProject = { name: 'app-ws-1', files: [], cwd: '/x', prefix: '[app] ' };
  const inspected = (service: string, state: object, project = 'app-ws-1') => ({
    Id: `id-${service}`,
    Name: `/app-ws-1-${service}-1`,
    Config: { Labels: { 'com.docker.compose.project': project, 'com.docker.compose.service': service } },
    State: { StartedAt: '2026-12-07T02:00:00.1Z', ExitCode: 0, ...state },
  });
  const engine = (status: number, answer: unknown) => {
    const calls: string[][] = [];
    const run: Runner = (_command, args) => (
      calls.push(args),
      { status, stdout: JSON.stringify(answer), stderr: status ? 'Error: No such container: id-db' : '' }
    );
    return { calls, run };
  };

  it('reads service, name, state, health and start of each, as the wait reads docker ps', async () => {
    const { calls, run } = engine(0, [
      inspected('docker-proxy', { Status: 'running', Health: { Status: 'healthy' } }),
      inspected('app', { Status: 'running' }),
      inspected('migrate', { Status: 'exited', ExitCode: 0 }),
    ]);
    const look = inspectContainers(stack, ['id-docker-proxy', 'id-app', 'id-migrate'], run);
    expect(calls).toEqual([['inspect', '--type', 'container', 'id-docker-proxy', 'id-app', 'id-migrate']]);
    expect(look).toEqual([
      { ID: 'id-app', Service: 'app', Name: 'app-ws-1-app-1', State: 'running', Health: '', Status: 'running', StartedAt: '2026-12-07T02:00:00.1Z' },
      expect.objectContaining({ Service: 'docker-proxy', Health: 'healthy' }),
      expect.objectContaining({ Service: 'migrate', State: 'exited', Status: 'Exited (0)' }),
    ]);
    // The wait takes it as its first look, and asks docker ps nothing more when all is up.
    const never: Runner = () => {
      throw new Error('docker ps asked');
    };
    expect(await waitUntilHealthy(stack, 5_000, never, look)).toBe(look);
  });

  it('the wait looks again with docker ps when the first look is not done, and fails on a crashed one', async () => {
    const starting = inspectContainers(stack, ['id-db'], engine(0, [inspected('db', { Status: 'running', Health: { Status: 'starting' } })]).run);
    expect(starting?.[0].Health).toBe('starting');
    const ps = engine(0, {});
    const healthy = JSON.stringify({ Names: 'app-ws-1-db-1', State: 'running', Status: 'Up 3 seconds (healthy)', Labels: 'com.docker.compose.service=db' });
    const run: Runner = (command, args) => (args[0] === 'ps' ? { status: 0, stdout: `${healthy}\n`, stderr: '' } : ps.run(command, args));
    expect(await waitUntilHealthy(stack, 5_000, run, starting)).toEqual([expect.objectContaining({ Service: 'db', Health: 'healthy' })]);
    const crashed = inspectContainers(stack, ['id-db'], engine(0, [inspected('db', { Status: 'exited', ExitCode: 1 })]).run);
    await expect(waitUntilHealthy(stack, 5_000, run, crashed)).rejects.toThrow(/db is not running \(Exited \(1\)\)/);
  });

  it('is undefined when the set changed: a container gone, or not the project’s, or none remembered', () => {
    expect(inspectContainers(stack, ['id-app', 'id-db'], engine(1, [inspected('app', { Status: 'running' })]).run)).toBeUndefined();
    expect(inspectContainers(stack, ['id-app'], engine(0, [inspected('app', { Status: 'running' }, 'other-ws-1')]).run)).toBeUndefined();
    expect(inspectContainers(stack, ['id-app', 'id-db'], engine(0, [inspected('app', { Status: 'running' })]).run)).toBeUndefined();
    const none = engine(0, []);
    expect(inspectContainers(stack, [], none.run)).toBeUndefined();
    expect(none.calls).toEqual([]);
  });
});
