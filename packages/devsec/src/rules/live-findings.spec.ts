import { FORBIDDEN_CALLS } from '../host/audit/live-audit';
import { liveFindings, liveSummary, Observations } from './live-findings';
import { DOCKERFILE } from '../sandbox/vocabulary';

const where = { composeFile: 'apps/app/.devcontainer/docker-compose.yml', container: 'app-ws-1234abcd-app-1' };

/** What the probe sees in a generated stack: the fixture every rule must pass. */
function clean(): Observations {
  const refusedCalls = FORBIDDEN_CALLS.map((call) => ({
    method: call.method,
    path: call.path,
    answer: { status: 403, body: '{"message":"devsec sandbox policy: …"}' },
  }));
  return {
    uid: 1000,
    gid: 1000,
    user: 'node',
    probeUid: 65534,
    status: { capEff: '0000000000000000', noNewPrivs: '1' },
    privilegeTools: [],
    credentials: { files: [], helpers: [], env: [] },
    writable: [
      { path: '/ws/apps/app/.devcontainer', writable: false, error: 'EROFS' },
      { path: '/ws/.git/hooks', writable: false, error: 'EROFS' },
      { path: '/ws/docker-compose.shared.yml', writable: false, missing: true, error: 'ENOENT' },
    ],
    endpoints: [
      { name: 'DOCKER_HOST=tcp://docker-proxy:2375', docker: true, ping: { status: 200, apiVersion: '1.41', body: 'OK' }, calls: refusedCalls, env: [] },
    ],
    sockets: [],
    hostMarkersSeen: [],
    vscode: { processes: [], gitconfigHelpers: [] },
    unsearched: [],
    network: [
      { host: '172.18.0.1', port: 2375, label: 'the gateway of network dev', answer: { error: 'ECONNREFUSED' } },
      { host: '172.20.0.2', port: 2375, label: "another sandbox's proxy (app-b-1-docker-proxy-1) on network app-b_sandbox", answer: { error: 'timeout' } },
    ],
    egress: {
      direct: [
        { host: '172.18.0.1', port: 9, label: 'the gateway of network dev', outcome: 'unreachable', error: 'EHOSTUNREACH' },
        { host: '10.0.0.5', port: 9, label: 'an address of this host', outcome: 'unreachable', error: 'ENETUNREACH' },
        { host: '1.1.1.1', port: 443, label: 'a public address', outcome: 'silent', error: 'timeout' },
      ],
      lookup: { name: 'example.com', error: 'EAI_AGAIN' },
      proxy: 'http://egress-proxy:3128',
      refused: { name: 'devsec-audit.invalid', status: 403 },
      // This machine resolves it to nothing: the list let it through, the lookup failed.
      allowed: { name: 'registry.npmjs.org', status: 502, proxyStatus: 'devsec-egress; error=dns_error; details="…"' },
    },
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
    ['sudo, setuid root', (seen) => seen.privilegeTools.push({ name: 'sudo', path: '/usr/bin/sudo', setuidRoot: true }), ['high live-sudo']],
    ['an SSH agent', (seen) => (seen.credentials.sshAgent = { path: '/tmp/vscode-ssh-auth.sock', exists: true }), ['high live-ssh-agent']],
    ['SSH keys', (seen) => seen.credentials.files.push('/home/node/.ssh'), ['high live-ssh-keys']],
    ['cloud credentials', (seen) => seen.credentials.files.push('/home/node/.aws'), ['high live-credentials']],
    [
      'a git credential helper',
      (seen) => seen.credentials.helpers.push('file:/etc/gitconfig credential.helper !f() { /vscode/git-cred; }; f'),
      ['high live-credential-helper'],
    ],
    ["a look at the agent's home whose answer was refused", (seen) => (seen.homeRefused = 'it is 2 lines'), ['high live-credentials']],
    ['a token in the environment', (seen) => seen.credentials.env.push('GITHUB_TOKEN'), ['high live-credential-env']],
    ['a gateway that answers', (seen) => (seen.egress!.direct[0].outcome = 'refused'), ['high live-egress-route']],
    ['a public address that answers', (seen) => (seen.egress!.direct[2].outcome = 'connected'), ['high live-egress-route']],
    ['an outside name that resolves', (seen) => (seen.egress!.lookup = { name: 'example.com', addresses: ['93.184.215.14'] }), ['medium live-egress-dns']],
    ['an egress proxy that lets an unlisted name through', (seen) => (seen.egress!.refused!.status = 200), ['high live-egress-proxy']],
    [
      'an egress proxy that refuses a listed name by its list',
      (seen) => (seen.egress!.allowed = { name: 'registry.npmjs.org', status: 403, proxyStatus: 'devsec-egress; error=http_request_denied; details="…"' }),
      ['high live-egress-proxy'],
    ],
    ['no egress proxy', (seen) => (seen.egress!.proxy = undefined), ['high live-egress-proxy']],
    ['writable git hooks', (seen) => (seen.writable[1] = { path: '/ws/.git/hooks', writable: true }), ['high live-writable']],
    [
      'a forbidden call that reached an engine',
      (seen) => (seen.endpoints[0].calls![3].answer = { status: 404, body: '{"message":"No such container"}' }),
      ['high live-docker-api'],
    ],
    ['env values in clear', (seen) => seen.endpoints[0].env!.push({ container: 'postgres-1', names: ['POSTGRES_PASSWORD'] }), ['high live-env-readable']],
    [
      'the proxy down',
      (seen) => (seen.endpoints[0] = { name: 'DOCKER_HOST=tcp://docker-proxy:2375', docker: false, ping: { error: 'ENOTFOUND' } }),
      ['medium live-proxy-down'],
    ],
    [
      'a Docker socket that answers',
      (seen) => seen.sockets.push({ path: '/var/run/docker.sock', docker: true, agentCanOpen: true }),
      ['high live-docker-socket'],
    ],
    [
      'a Docker socket the agent can open and the probe cannot',
      (seen) => seen.sockets.push({ path: '/var/run/docker.sock', docker: false, agentCanOpen: true, error: 'EACCES' }),
      ['high live-docker-socket'],
    ],
    [
      'a Docker socket the agent cannot open',
      (seen) => seen.sockets.push({ path: '/var/run/docker.sock', docker: false, agentCanOpen: false, error: 'EACCES' }),
      ['high live-docker-socket'],
    ],
    [
      'some other socket',
      (seen) => seen.sockets.push({ path: '/run/something/else.sock', docker: false, agentCanOpen: true, error: 'ECONNREFUSED' }),
      ['medium live-unknown-socket'],
    ],
    [
      "VS Code's IPC socket",
      (seen) => seen.sockets.push({ path: '/tmp/vscode-ipc-1.sock', docker: false, agentCanOpen: true, error: 'EACCES' }),
      ['high live-vscode-channel'],
    ],
    [
      "VS Code's server among the processes",
      (seen) =>
        (seen.vscode = {
          processes: [{ pid: 42, command: '/home/node/.vscode-server/bin/x/node /home/node/.vscode-server/bin/x/out/server-main.js' }],
          gitconfigHelpers: [],
        }),
      ['high live-vscode-channel'],
    ],
    [
      'a copied ~/.gitconfig with a credential helper',
      (seen) => (seen.vscode = { processes: [], gitconfigHelpers: ['helper = "/home/node/.vscode-server/bin/x/node /tmp/vscode-remote-containers-1.js"'] }),
      ['high live-vscode-channel'],
    ],
    [
      "another sandbox's proxy that answers",
      (seen) => (seen.network[1].answer = { status: 200, apiVersion: '1.41', body: 'OK' }),
      ['high live-proxy-reachable'],
    ],
    ["the host's own .nx folder inside", (seen) => (seen.hostMarkersSeen = ['/ws/.nx/.devsec-audit-1']), ['high live-host-folder']],
    ['an engine on the gateway', (seen) => (seen.network[0].answer = { status: 200, apiVersion: '1.41', body: 'OK' }), ['high live-engine-reachable']],
    [
      'a TLS endpoint on the gateway',
      (seen) => (seen.network[0].answer = { status: 400, body: 'Client sent an HTTP request to an HTTPS server.' }),
      ['medium live-tls-endpoint'],
    ],
  ];
  it.each(cases)('%s', (_name, weaken, expected) => {
    const seen = clean();
    weaken(seen);
    expect(rulesOf(seen)).toEqual(expected);
  });

  it('points what the image holds at the Dockerfile', () => {
    const seen = clean();
    seen.privilegeTools.push({ name: 'sudo', path: '/usr/bin/sudo', setuidRoot: true });
    seen.status.noNewPrivs = '0';
    expect(liveFindings(seen, where)).toContainEqual(
      expect.objectContaining({
        file: `apps/app/.devcontainer/${DOCKERFILE}`,
        message: expect.stringContaining('no-new-privileges is off: it raises privileges'),
      }),
    );
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
      `Live probe in ${where.container} (as uid 65534) for node (uid 1000): ${FORBIDDEN_CALLS.length} of ${FORBIDDEN_CALLS.length} forbidden Docker calls refused; ` +
        "0 socket file(s) found; 2 of 2 addresses without any HTTP answer (1 of them other sandboxes' proxies); 2 of 2 sandbox paths read-only; " +
        '3 of 3 direct routes out closed; no outside name resolves; the egress proxy refused an unlisted name; registry.npmjs.org passed the list, then the proxy answered 502 dns_error.',
    );
  });

  it('shows what came from inside as text: a user name with escapes, the folders it could not look into', () => {
    const seen = clean();
    seen.user = 'node\x1b[31m\x1b]0;pwned\x07';
    seen.unsearched = ['/home/node/private'];
    const summary = liveSummary(seen, where.container);
    expect(summary).toContain('for node\\x1b[31m\\x1b]0;pwned\\x07 (uid 1000)');
    expect([...summary].filter((char) => char.charCodeAt(0) < 0x20)).toEqual([]);
    expect(summary).toMatch(/; 1 folder\(s\) of the agent's the probe could not look into\.$/);
  });

  it('says a listed host was let through only when the proxy answered it so', () => {
    const seen = clean();
    seen.egress!.allowed = { name: 'registry.npmjs.org', status: 200 };
    expect(liveSummary(seen, where.container)).toMatch(/; registry\.npmjs\.org let through by the list \(200\)\.$/);
  });

  it('names each private host the list lets through (--allowPrivateHosts), reached or not', () => {
    const seen = clean();
    seen.egress!.privateHosts = [
      { name: 'npm.corp.example', status: 200 },
      { name: 'git.corp.example:8443', status: 502, proxyStatus: 'devsec-egress; error=connection_refused; details="…"' },
    ];
    expect(liveSummary(seen, where.container)).toMatch(
      /; private hosts it may reach \(--allowPrivateHosts\): npm\.corp\.example reached \(200\), git\.corp\.example:8443 NOT reached \(502 connection_refused\)\.$/,
    );
  });
});
