import { ComposeProject, waitUntilHealthy } from './compose-project';
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
