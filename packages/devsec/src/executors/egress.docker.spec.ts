/**
 * Egress on the real engine, tried from inside as the agent would: a server on the host listens
 * on every address, and the dev container's user tries it on every gateway and address of the
 * host, tries an outside name, and goes through the egress proxy to a stand-in "outside" server
 * (on the stack's outside network, known by a listed name and by an unlisted one). Pass: no
 * direct route answers, only the listed name gets through, and what the sandbox needs inside
 * (the shared Postgres, docker through the socket proxy) still works. --egress=open restores a
 * route out, and says so.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { bridgeGateway, HostService, ownAddresses, startHostService } from '../../../../tools/testing/host-side';
import { LISTED, outsideListedStack, POSTGRES_CLIENT, startOutsideServer, UNLISTED } from '../../../../tools/testing/egress-outside';
import { captureOutput, COMPOSE_FILE, createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import audit from './audit/executor';

jest.setTimeout(600_000);

const REMOTE_HOST = 'git.devsec.test';

describeWithDocker('egress: the agent reaches only the listed hosts, through the egress proxy', () => {
  let stack: SandboxStackFixture;
  let hostService: HostService;
  let outside: string;
  const inside = (script: string) => stack.inside(script);
  /** A direct TCP connection from inside: connected, refused (both: a route), or why not. */
  const connectInside = (host: string, port: number) =>
    inside(
      `node -e "const s=require('net').connect(${port},'${host}');s.setTimeout(2000,()=>{console.log('silent');process.exit()});` +
        `s.on('connect',()=>{console.log('connected');process.exit()});s.on('error',e=>{console.log(e.code);process.exit()})"`,
    ).stdout.trim();
  const up = async () => {
    const started = await stack.up();
    if (!started.success) throw new Error(`up-worktree failed:\n${started.said}`);
    return started.said;
  };
  /** Every gateway of the dev container's networks and of the engine's default bridge, and this host's own addresses. */
  const hostSideAddresses = () => {
    const networks = JSON.parse(dockerOk(['inspect', stack.app, '--format', '{{json .NetworkSettings.Networks}}'])) as Record<string, { Gateway: string }>;
    const gateways = Object.values(networks).map((settings) => settings.Gateway);
    return [...new Set([...gateways, bridgeGateway(), ...ownAddresses()].filter(Boolean))];
  };

  beforeAll(async () => {
    // A host service listening on every address: what a sandbox must not reach.
    hostService = await startHostService();

    stack = await createSandboxStack(
      'egress',
      outsideListedStack({ prepare: (_dir, ws) => ws.git('remote', 'add', 'origin', `https://${REMOTE_HOST}/acme/shop.git`) }),
    );
    expect(await stack.upShared()).toEqual({ success: true });
    await up();
    outside = startOutsideServer(stack);
  });

  afterAll(async () => {
    hostService?.close();
    await stack?.stop();
  });

  it('puts the dev container on internal networks only, the shared one created internal and without a gateway', () => {
    const networks = Object.keys(JSON.parse(dockerOk(['inspect', stack.app, '--format', '{{json .NetworkSettings.Networks}}'])));
    expect(networks.sort()).toEqual([stack.network, `${stack.project}_sandbox`].sort());
    for (const name of networks) {
      const [internal, noGateway] = dockerOk([
        'network',
        'inspect',
        name,
        '--format',
        '{{.Internal}} {{index .Options "com.docker.network.bridge.inhibit_ipv4"}}',
      ])
        .trim()
        .split(' ');
      expect([name, internal, noGateway]).toEqual([name, 'true', 'true']);
    }
  });

  it('reaches no host service directly: no gateway, no address of this host, no public address answers', () => {
    const addresses = hostSideAddresses();
    // The control: from a container with a route (the egress proxy's outside network), the host service answers.
    const control = docker([
      'exec',
      outside,
      'node',
      '-e',
      `require('net').connect(${hostService.port},'${addresses[addresses.length - 1]}').on('connect',()=>{console.log('connected');process.exit()}).on('error',e=>{console.log(e.code);process.exit()})`,
    ]);
    expect(control.stdout.trim()).toBe('connected');
    for (const address of [...addresses, '1.1.1.1']) {
      const outcome = connectInside(address, address === '1.1.1.1' ? 443 : hostService.port);
      expect([address, outcome]).toEqual([address, expect.stringMatching(/^(EHOSTUNREACH|ENETUNREACH|silent)$/)]);
    }
  });

  it('lets the listed host through the egress proxy, over plain HTTP and CONNECT, and refuses the unlisted one naming it', () => {
    expect(inside(`curl -sS http://${LISTED}/plain`).stdout).toBe('outside /plain');
    expect(inside(`curl -sS -p http://${LISTED}/tunnel`).stdout).toBe('outside /tunnel');
    const plain = inside(`curl -sS -w '\\n%{http_code}' http://${UNLISTED}/`);
    expect(plain.stdout).toMatch(new RegExp(`${UNLISTED.replace(/\./g, '\\.')}[\\s\\S]*\\n403$`));
    const tunnel = inside(`curl -sS -p -o /dev/null -w '%{http_connect}' http://${UNLISTED}/`);
    expect(tunnel.stdout).toBe('403');
    // Without the proxy there is no way: the name does not even resolve inside.
    expect(inside(`curl -sS --noproxy '*' --max-time 5 http://${LISTED}/`).status).not.toBe(0);
  });

  it("sends git's and npm's requests through the egress proxy: they reach the listed host, which no name inside resolves", () => {
    const allowedLines = () =>
      docker(['logs', `${stack.project}-egress-proxy-1`])
        .stdout.split('\n')
        .filter((line) => line.includes(`"host":"${LISTED}"`) && line.includes('"decision":"allow"')).length;
    for (const command of [
      // The stand-in answers text, so each client then fails on what it got back: the request went out.
      `git ls-remote http://${LISTED}/acme/shop.git`,
      `npm view left-pad --registry=http://${LISTED}/ --fetch-retries=0 --cache=/tmp/npm-cache`,
    ]) {
      const before = allowedLines();
      const result = inside(command);
      expect([command, `${result.stdout}${result.stderr}`]).not.toEqual([command, expect.stringMatching(/resolve host|ENOTFOUND|EAI_AGAIN/)]);
      expect([command, allowedLines() > before]).toEqual([command, true]);
    }
  });

  it('resolves no outside name, not even a listed one (only the proxy resolves)', () => {
    for (const name of ['example.com', LISTED]) expect([name, inside(`timeout 5 getent hosts ${name}`).status === 0]).toEqual([name, false]);
  });

  it("keeps what the sandbox needs: the shared Postgres, docker through the socket proxy; the repository's https remote is listed", () => {
    expect(inside('psql "$DATABASE_URL" -tAc "select 1"').stdout.trim()).toBe('1');
    expect(inside('docker ps --format "{{.Names}}"').stdout).toContain(`${stack.project}-egress-proxy-1`);
    const env = JSON.parse(dockerOk(['inspect', `${stack.project}-egress-proxy-1`, '--format', '{{json .Config.Env}}'])) as string[];
    expect(
      env
        .find((entry) => entry.startsWith('EGRESS_ALLOW='))
        ?.split('=')[1]
        .split(' '),
    ).toEqual(['registry.npmjs.org', LISTED, REMOTE_HOST]);
    expect(inside('echo $NO_PROXY').stdout.trim().split(',')).toEqual(expect.arrayContaining(['docker-proxy', 'postgres', `${stack.project}-docker-proxy-1`]));
  });

  it('audit --live holds: no finding, and its summary says the ways out are closed', async () => {
    const { result, printed: report } = await captureOutput(() => audit({ composeFile: COMPOSE_FILE, live: true }, stack.context('audit')));
    expect(report).toMatch(
      /(\d+) of \1 direct routes out closed; no outside name resolves; the egress proxy refused an unlisted name; registry\.npmjs\.org (let through by the list|passed the list, then the proxy answered)/,
    );
    expect(report).toContain('No findings');
    expect(result).toEqual({ success: true });
  });

  it('with --egress=open: a route out again, said loudly at every start', async () => {
    await stack.generate({ ...POSTGRES_CLIENT, egress: 'open', force: true });
    // No egress proxy to configure any more.
    writeFileSync(join(stack.dir, 'apps/app/.devcontainer/docker-compose.services.yml'), 'services: {}\n');
    const said = await up();
    expect(said).toMatch(/EGRESS OPEN: app's sandbox was generated with --egress=open/);
    const gateway = JSON.parse(dockerOk(['inspect', stack.app, '--format', '{{json .NetworkSettings.Networks}}']))[`${stack.project}_egress`].Gateway;
    expect(connectInside(gateway, hostService.port)).toBe('connected');
  });
});
