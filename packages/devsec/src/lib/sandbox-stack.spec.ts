import { CommandResult, Runner } from './run';
import { ensureSharedNetwork, GATE_RULES, policyGate, preflight, removeSharedNetworkIfUnused, SandboxError, SandboxStack, waitUntilHealthy } from './sandbox-stack';

/** A runner that answers from a table keyed by the joined arguments' start. */
function stubRunner(answers: Array<[RegExp, Partial<CommandResult>]>): Runner & { calls: string[] } {
  const calls: string[] = [];
  const runner = ((command: string, args: string[]) => {
    const line = `${command} ${args.join(' ')}`;
    calls.push(line);
    const found = answers.find(([pattern]) => pattern.test(line));
    return { status: 0, stdout: '', stderr: '', ...(found?.[1] ?? {}) };
  }) as Runner & { calls: string[] };
  runner.calls = calls;
  return runner;
}

const enoent = Object.assign(new Error('spawn docker ENOENT'), { code: 'ENOENT' });

describe('preflight', () => {
  it.each<[string, Array<[RegExp, Partial<CommandResult>]>, RegExp]>([
    ['docker CLI missing', [[/^docker version/, { status: null, error: enoent }]], /docker CLI is not installed/],
    ['daemon down', [[/^docker version/, { status: 1, stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' }]], /daemon does not answer: Cannot connect.*Start it/],
    ['Compose v1 only', [[/^docker compose version/, { status: 0, stdout: '1.29.2\n' }]], /Compose v2 .* is needed.*Found Compose 1\.29\.2.*Debian 12's docker-compose is v1/],
    ['no compose at all', [[/^docker compose version/, { status: 1, stderr: "docker: 'compose' is not a docker command." }]], /Compose v2 .* is needed/],
  ])('%s: a clear error with the fix', (_name, answers, message) => {
    expect(() => preflight(stubRunner(answers))).toThrow(message);
  });

  it('passes with an engine and Compose v2', () => {
    expect(() => preflight(stubRunner([[/^docker compose version/, { stdout: 'v2.26.1\n' }]]))).not.toThrow();
  });
});

describe('ensureSharedNetwork', () => {
  it('creates a missing network, labelled as ours', () => {
    const run = stubRunner([[/network inspect/, { status: 1, stderr: 'Error: No such network: dev' }]]);
    const said: string[] = [];
    ensureSharedNetwork('dev', run, (line) => said.push(line));
    expect(run.calls[1]).toBe('docker network create --driver bridge --label org.devsec.managed=true dev');
    expect(said).toEqual(['Created the shared network "dev".']);
  });

  it('uses an unlabelled bridge network and says so', () => {
    const said: string[] = [];
    ensureSharedNetwork('dev', stubRunner([[/network inspect/, { stdout: 'bridge <no value>\n' }]]), (line) => said.push(line));
    expect(said).toEqual(['Using the existing network "dev" (not created by @org/devsec).']);
  });

  it('refuses a network of another driver, naming the fix', () => {
    expect(() => ensureSharedNetwork('dev', stubRunner([[/network inspect/, { stdout: 'macvlan <no value>\n' }]]))).toThrow(
      /"dev" exists with driver "macvlan", not bridge. Remove it \(docker network rm dev\) or pick another name/,
    );
  });

  it('accepts a network another worktree created at the same moment', () => {
    const run = stubRunner([
      [/network inspect/, { status: 1 }],
      [/network create/, { status: 1, stderr: 'Error response from daemon: network with name dev already exists' }],
    ]);
    expect(() => ensureSharedNetwork('dev', run, () => undefined)).not.toThrow();
  });
});

describe('policyGate', () => {
  const stack: SandboxStack = {
    identity: { workspaceRoot: '/w', gitCommonDir: '/w/.git', branch: 'main', gitName: undefined, gitEmail: undefined, composeProjectName: 'app-w-12345678' },
    devcontainerDir: '/w/apps/app/.devcontainer',
    composeFiles: ['/w/apps/app/.devcontainer/docker-compose.yml', '/w/apps/app/.devcontainer/docker-compose.worktree.yml'],
    project: 'app',
  };
  const model = (app: object) =>
    JSON.stringify({
      services: { 'docker-proxy': { networks: { sandbox: {} }, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] }, app },
      networks: { sandbox: { name: 'x_sandbox' }, shared: { name: 'dev', external: true } },
    });

  it('reads the effective model and lets a clean stack through', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ networks: { sandbox: {}, shared: {} } }) }]]);
    expect(policyGate(stack, [], run).allowed).toEqual([]);
    expect(run.calls[0]).toBe(
      'docker compose -p app-w-12345678 -f /w/apps/app/.devcontainer/docker-compose.yml -f /w/apps/app/.devcontainer/docker-compose.worktree.yml config --format json',
    );
  });

  it('refuses a weakened stack, naming the file, the service and the key', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ privileged: true, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] }) }]]);
    expect(() => policyGate(stack, [], run)).toThrow(SandboxError);
    expect(() => policyGate(stack, [], run)).toThrow(
      /docker-compose\.yml: services\.app\.volumes \(socket-mount\)[\s\S]*services\.app\.privileged \(privileged\)[\s\S]*--unsafe-allow=<rule>/,
    );
  });

  it('lets one rule through when allowed explicitly, and only that one', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ privileged: true }) }]]);
    expect(policyGate(stack, ['privileged'], run).allowed.map((f) => f.rule)).toEqual(['privileged']);
    expect(() => policyGate(stack, ['socket-mount'], run)).toThrow(/privileged/);
    expect(() => policyGate(stack, ['everything'], run)).toThrow(/--unsafe-allow=everything: unknown rule/);
  });
});

describe('removeSharedNetworkIfUnused', () => {
  it('removes our network once nothing is attached', () => {
    const run = stubRunner([[/network inspect/, { stdout: 'true 0\n' }]]);
    removeSharedNetworkIfUnused('dev', run, () => undefined);
    expect(run.calls).toContain('docker network rm dev');
  });
  it.each([
    ['still in use', 'true 2\n'],
    ['not ours', '<no value> 0\n'],
  ])('keeps it when %s', (_name, stdout) => {
    const run = stubRunner([[/network inspect/, { stdout }]]);
    removeSharedNetworkIfUnused('dev', run, () => undefined);
    expect(run.calls.some((call) => call.includes('network rm'))).toBe(false);
  });
});

describe('--unsafe-allow', () => {
  it("offers exactly the gate's rules in the executor schema", () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const schema = require('../executors/up-worktree/schema.json');
    expect(schema.properties.unsafeAllow.items.enum).toEqual([...GATE_RULES]);
  });
});

describe('waitUntilHealthy', () => {
  const stack = { identity: { composeProjectName: 'app-ws-1' }, composeFiles: [], devcontainerDir: '/x', project: 'app' } as unknown as SandboxStack;
  const container = (service: string, state: string, status: string) =>
    JSON.stringify({ Names: `app-ws-1-${service}-1`, State: state, Status: status, Labels: `com.docker.compose.project=app-ws-1,com.docker.compose.service=${service}` });
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
    await expect(waitUntilHealthy(stack, 5_000, snapshots([container('db', 'running', 'Up 9 seconds (unhealthy)')]))).rejects.toThrow(/db is unhealthy\. Its last log lines:\ndb-1 {2}\| FATAL: bad config/);
    await expect(waitUntilHealthy(stack, 5_000, snapshots([container('db', 'exited', 'Exited (1) 2 seconds ago')]))).rejects.toThrow(/db is not running \(Exited \(1\) 2 seconds ago\)/);
  });

  it('gives up after the timeout, naming what it waited for', async () => {
    await expect(waitUntilHealthy(stack, 600, snapshots([container('db', 'running', 'Up 1 second (health: starting)')]))).rejects.toThrow(/Still waiting for db after 0.6 s/);
  });
});
