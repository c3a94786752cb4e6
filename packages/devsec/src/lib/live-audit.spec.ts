import { FORBIDDEN_CALLS, gatherProbeInput, liveFindings, liveSummary, Observations } from './live-audit';
import type { Runner } from './run';
import type { SandboxStack } from './sandbox-stack';

const where = { composeFile: 'apps/app/.devcontainer/docker-compose.yml', container: 'app-ws-1234abcd-app-1' };

/** What the probe sees in a generated stack: the fixture every rule must pass. */
function clean(): Observations {
  const refusedCalls = FORBIDDEN_CALLS.map((call) => ({ method: call.method, path: call.path, answer: { status: 403, body: '{"message":"devsec sandbox policy: …"}' } }));
  return {
    uid: 1000,
    gid: 1000,
    user: 'node',
    status: { capEff: '0000000000000000', noNewPrivs: '1' },
    privilegeTools: [],
    credentials: { files: [], helpers: [], env: [] },
    writable: [
      { path: '/ws/apps/app/.devcontainer', writable: false, error: 'EROFS' },
      { path: '/ws/.git/hooks', writable: false, error: 'EROFS' },
      { path: '/ws/docker-compose.shared.yml', writable: false, missing: true, error: 'ENOENT' },
    ],
    endpoints: [{ name: 'DOCKER_HOST=tcp://docker-proxy:2375', docker: true, ping: { status: 200, apiVersion: '1.41', body: 'OK' }, calls: refusedCalls, env: [] }],
    sockets: [],
    network: [
      { host: '172.18.0.1', port: 2375, label: 'the gateway of network dev', answer: { error: 'ECONNREFUSED' } },
      { host: '172.20.0.2', port: 2375, label: "another sandbox's proxy (app-b-1-docker-proxy-1) on network app-b_sandbox", answer: { error: 'timeout' } },
    ],
  };
}

const rulesOf = (observations: Observations) => liveFindings(observations, where).map((finding) => `${finding.severity} ${finding.rule}`);

describe('liveFindings', () => {
  it('finds nothing in what a generated stack shows', () => {
    expect(liveFindings(clean(), where)).toEqual([]);
  });

  // Each rule: the smallest change to the clean observations that trips it.
  const cases: Array<[string, (seen: Observations) => void, string[]]> = [
    ['root', (seen) => (seen.uid = 0), ['high live-root']],
    ['capabilities', (seen) => (seen.status.capEff = '00000000a80425fb'), ['high live-capabilities']],
    ['no-new-privileges off', (seen) => (seen.status.noNewPrivs = '0'), ['medium live-new-privileges']],
    ['sudo, setuid root', (seen) => seen.privilegeTools.push({ name: 'sudo', path: '/usr/bin/sudo', setuidRoot: true, works: false }), ['high live-sudo']],
    ['an SSH agent', (seen) => (seen.credentials.sshAgent = { path: '/tmp/vscode-ssh-auth.sock', exists: true }), ['high live-ssh-agent']],
    ['SSH keys', (seen) => seen.credentials.files.push('/home/node/.ssh'), ['high live-ssh-keys']],
    ['cloud credentials', (seen) => seen.credentials.files.push('/home/node/.aws'), ['high live-credentials']],
    ['a git credential helper', (seen) => seen.credentials.helpers.push('file:/etc/gitconfig credential.helper !f() { /vscode/git-cred; }; f'), ['high live-credential-helper']],
    ['a token in the environment', (seen) => seen.credentials.env.push('GITHUB_TOKEN'), ['high live-credential-env']],
    ['writable git hooks', (seen) => (seen.writable[1] = { path: '/ws/.git/hooks', writable: true }), ['high live-writable']],
    [
      'a forbidden call that reached an engine',
      (seen) => (seen.endpoints[0].calls![3].answer = { status: 404, body: '{"message":"No such container"}' }),
      ['high live-docker-api'],
    ],
    ['env values in clear', (seen) => seen.endpoints[0].env!.push({ container: 'postgres-1', names: ['POSTGRES_PASSWORD'] }), ['high live-env-readable']],
    ['the proxy down', (seen) => (seen.endpoints[0] = { name: 'DOCKER_HOST=tcp://docker-proxy:2375', docker: false, ping: { error: 'ENOTFOUND' } }), ['medium live-proxy-down']],
    ['a Docker socket that answers', (seen) => seen.sockets.push({ path: '/var/run/docker.sock', docker: true }), ['high live-docker-socket']],
    ['a Docker socket this user cannot open', (seen) => seen.sockets.push({ path: '/var/run/docker.sock', docker: false, error: 'EACCES' }), ['high live-docker-socket']],
    ['some other socket', (seen) => seen.sockets.push({ path: '/tmp/vscode-ipc-1.sock', docker: false, error: 'ECONNREFUSED' }), ['medium live-unknown-socket']],
    ["another sandbox's proxy that answers", (seen) => (seen.network[1].answer = { status: 200, apiVersion: '1.41', body: 'OK' }), ['high live-proxy-reachable']],
    ['an engine on the gateway', (seen) => (seen.network[0].answer = { status: 200, apiVersion: '1.41', body: 'OK' }), ['high live-engine-reachable']],
    ['a TLS endpoint on the gateway', (seen) => (seen.network[0].answer = { status: 400, body: 'Client sent an HTTP request to an HTTPS server.' }), ['medium live-engine-reachable']],
  ];
  it.each(cases)('%s', (_name, weaken, expected) => {
    const seen = clean();
    weaken(seen);
    expect(rulesOf(seen)).toEqual(expected);
  });

  it('points what the image holds at the Dockerfile', () => {
    const seen = clean();
    seen.privilegeTools.push({ name: 'sudo', path: '/usr/bin/sudo', setuidRoot: true, works: true });
    expect(liveFindings(seen, where)[0]).toMatchObject({ file: 'apps/app/.devcontainer/Dockerfile', message: expect.stringContaining('works without a password') });
  });

  it('names the container, and never a secret value', () => {
    const seen = clean();
    seen.endpoints[0].env!.push({ container: 'postgres-1', names: ['POSTGRES_PASSWORD'] });
    const [finding] = liveFindings(seen, where);
    expect(finding).toMatchObject({ file: where.composeFile, service: 'app' });
    expect(finding.message).toMatch(/^Inside app-ws-1234abcd-app-1: .*POSTGRES_PASSWORD/);
  });

  it('says what it looked at', () => {
    expect(liveSummary(clean(), where.container)).toBe(
      `Live probe in ${where.container} as node (uid 1000): ${FORBIDDEN_CALLS.length} of ${FORBIDDEN_CALLS.length} forbidden Docker calls refused; ` +
        "0 socket file(s) found; 2 of 2 addresses without any HTTP answer (1 of them other sandboxes' proxies); 2 of 2 sandbox paths read-only.",
    );
  });
});

describe('gatherProbeInput', () => {
  const stack: SandboxStack = {
    identity: { workspaceRoot: '/nonexistent-ws', gitCommonDir: '/nonexistent-ws/.git', branch: 'main', gitName: undefined, gitEmail: undefined, composeProjectName: 'app-ws-1' },
    devcontainerDir: '/nonexistent-ws/apps/app/.devcontainer',
    composeFiles: [],
    project: 'app',
  };
  const container = (id: string, name: string, project: string, networks: Record<string, { IPAddress?: string; Gateway?: string }>) => ({
    Id: id,
    Name: `/${name}`,
    Config: { Labels: { 'com.docker.compose.project': project } },
    NetworkSettings: { Networks: networks },
  });
  const app = container('app', 'app-ws-1-app-1', 'app-ws-1', { 'app-ws-1_sandbox': { IPAddress: '172.30.0.3', Gateway: '172.30.0.1' }, dev: { IPAddress: '172.18.0.5', Gateway: '172.18.0.1' } });
  const ownProxy = container('p1', 'app-ws-1-docker-proxy-1', 'app-ws-1', { 'app-ws-1_sandbox': { IPAddress: '172.30.0.2' }, dev: { IPAddress: '172.18.0.9' } });
  const otherProxy = container('p2', 'app-ws-2-docker-proxy-1', 'app-ws-2', { 'app-ws-2_sandbox': { IPAddress: '172.31.0.2' } });
  const stub = (running: boolean): Runner => (command, args) => {
    const ok = (stdout: string) => ({ status: 0, stdout, stderr: '' });
    if (args[0] === 'ps') return ok(!running ? '' : args.includes('label=com.docker.compose.service=app') ? 'app\n' : 'p1\np2\n');
    if (args[0] === 'inspect') return ok(JSON.stringify(args.slice(1).map((id) => ({ app, p1: ownProxy, p2: otherProxy })[id])));
    if (args[0] === 'network') {
      const networks: Record<string, object> = {
        'app-ws-1_sandbox': { Name: 'app-ws-1_sandbox', Labels: { 'com.docker.compose.project': 'app-ws-1' }, Containers: {} },
        dev: {
          Name: 'dev',
          Labels: { 'org.devsec.managed': 'true' },
          Containers: { app: { Name: 'app-ws-1-app-1', IPv4Address: '172.18.0.5/16' }, p1: { Name: 'p', IPv4Address: '172.18.0.9/16' }, pg: { Name: 'ws-shared-postgres-1', IPv4Address: '172.18.0.2/16' } },
        },
      };
      return ok(JSON.stringify(args.slice(2).map((name) => networks[name])));
    }
    throw new Error(`unexpected ${command} ${args.join(' ')}`);
  };

  it("targets every proxy address but the stack's own private one, the other containers of its networks and the gateways", () => {
    const { container: found, input } = gatherProbeInput(stack, stub(true));
    expect(found.Name).toBe('/app-ws-1-app-1');
    expect(input.targets.map((target) => `${target.host}:${target.port} ${target.label}`)).toEqual([
      "172.18.0.9:2375 this stack's proxy on network dev",
      '172.31.0.2:2375 another sandbox\'s proxy (app-ws-2-docker-proxy-1) on network app-ws-2_sandbox',
      '172.18.0.2:2375 ws-shared-postgres-1 on network dev',
      '172.18.0.2:2376 ws-shared-postgres-1 on network dev',
      '172.30.0.1:2375 the gateway of network app-ws-1_sandbox',
      '172.30.0.1:2376 the gateway of network app-ws-1_sandbox',
      '172.18.0.1:2375 the gateway of network dev',
      '172.18.0.1:2376 the gateway of network dev',
    ]);
    expect(input.calls).toBe(FORBIDDEN_CALLS);
    expect(input.writable).toEqual(['/nonexistent-ws/docker-compose.shared.yml', '/nonexistent-ws/.git/hooks', '/nonexistent-ws/.git/config']);
  });

  it('refuses when the stack is not running, and says how to start it', () => {
    expect(() => gatherProbeInput(stack, stub(false))).toThrow(/not running \(compose project app-ws-1\)\. Start it with nx run app:up-worktree/);
  });
});

describe('FORBIDDEN_CALLS', () => {
  it('only name objects that do not exist, or carry bodies an engine rejects, so a leak changes nothing', () => {
    for (const call of FORBIDDEN_CALLS) {
      const harmless = /devsec-audit-no-such|not a valid name/.test(`${call.path} ${call.body ?? ''}`);
      expect([call.method, call.path, harmless]).toEqual([call.method, call.path, true]);
    }
  });
});
