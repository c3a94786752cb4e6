import { Tree } from '@nx/devkit';
import { generated, expectValid, run } from '../../testing/generated-sandbox';
import { readSpec } from '../../sandbox/spec';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';

describe('secure-devcontainer generator: --testContainers', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspaceWithProjects();
  });

  it('is off by default: the proxy stays read-only, no children network', async () => {
    await run(tree);
    const { compose } = generated(tree);
    expect(compose.services['docker-proxy'].environment.WRITE_POLICY).toBeUndefined();
    expect(compose.services.app.environment.TESTCONTAINERS_RYUK_DISABLED).toBeUndefined();
    expect(compose.networks.children).toBeUndefined();
    expect(generated(tree).dockerfile).not.toContain('docker-compose');
    expect(readSpec(tree, 'apps/app')?.testContainers).toBeUndefined();
  });

  it("turns on the proxy's write policy for this stack, with Ryuk off and an internal children network", async () => {
    await run(tree, { testContainers: true });
    const { compose } = generated(tree);
    expect(compose.services['docker-proxy'].environment).toMatchObject({
      CONTAINERS: '1',
      WRITE_POLICY: '1',
      WRITE_OWNER: '${COMPOSE_PROJECT_NAME}',
      CHILDREN_NETWORK: '${COMPOSE_PROJECT_NAME}_children',
      ALLOW_REGISTRIES: 'docker.io',
    });
    // The proxy is on the children's network to serve their mapped ports (ports.ts); it refuses API connections from a child (server.ts).
    expect(compose.services['docker-proxy'].networks).toEqual(['sandbox', 'children']);
    expect(compose.services.app.networks).toEqual(['sandbox', 'shared', 'children']);
    expect(compose.services.app.environment.TESTCONTAINERS_RYUK_DISABLED).toBe('true');
    expect(compose.networks.children).toMatchObject({ internal: true, driver_opts: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } });
    expect(readSpec(tree, 'apps/app')?.testContainers).toEqual({ allowRegistries: ['docker.io'] });
    // `docker compose` for the agent's own test services: Debian's plugin beside the client.
    expect(generated(tree).dockerfile).toMatch(/ripgrep docker-cli docker-compose \\/);
    expectValid(tree);
  });

  it('keeps the option and its registries on a re-run without them; --testContainers=false turns it off', async () => {
    await run(tree, { testContainers: true, allowRegistries: ['docker.io', 'GHCR.io'] });
    const before = snapshot(tree);
    await run(tree);
    expect(snapshot(tree)).toEqual(before);
    await run(tree, { testContainers: true });
    expect(generated(tree).compose.services['docker-proxy'].environment.ALLOW_REGISTRIES).toBe('docker.io,ghcr.io');
    await run(tree, { testContainers: false });
    expect(generated(tree).compose.services['docker-proxy'].environment.WRITE_POLICY).toBeUndefined();
  });

  it.each([
    [{ allowRegistries: ['ghcr.io'] }, /--allowRegistries: pulls are only served with --testContainers/],
    [{ testContainers: true, allowRegistries: ['evil.example/path'] }, /"evil.example\/path" is not a registry host/],
    [{ testContainers: true, CONTAINERS: false }, /--testContainers needs --CONTAINERS/],
  ])('refuses %j', async (options, message) => {
    await expect(run(tree, options)).rejects.toThrow(message);
  });
});

describe('the gate rule proxy-write-policy', () => {
  const { checkStack } = jest.requireActual('../../rules/stack-rules') as typeof import('../../rules/stack-rules');
  const context = { kind: 'worktree', composeFile: 'docker-compose.yml' } as unknown as Parameters<typeof checkStack>[1];
  const model = (environment: Record<string, string>, testContainers?: unknown) =>
    ({
      name: 'app-ws-1a2b',
      'x-devsec': { generator: 'secure-devcontainer', options: testContainers ? { testContainers } : {} },
      services: { 'docker-proxy': { image: 'p', environment } },
    }) as unknown as Parameters<typeof checkStack>[0];
  const rendered = { WRITE_POLICY: '1', WRITE_OWNER: 'app-ws-1a2b', CHILDREN_NETWORK: 'app-ws-1a2b_children', ALLOW_REGISTRIES: 'docker.io' };
  const rules = (m: Parameters<typeof checkStack>[0]) => checkStack(m, context).filter((f) => f.rule === 'proxy-write-policy');

  it('accepts the variables --testContainers renders', () => expect(rules(model(rendered, { allowRegistries: ['docker.io'] }))).toEqual([]));

  it.each([
    ['WRITE_POLICY without the option', model({ WRITE_POLICY: '1' }), /does not ask for/],
    ['the rendered variables without the option', model(rendered), /does not ask for/],
    ["another stack's owner", model({ ...rendered, WRITE_OWNER: 'app-ws-other' }, { allowRegistries: ['docker.io'] }), /WRITE_OWNER=app-ws-other differ/],
    [
      'more registries than the spec',
      model({ ...rendered, ALLOW_REGISTRIES: 'docker.io,evil.example' }, { allowRegistries: ['docker.io'] }),
      /ALLOW_REGISTRIES/,
    ],
    ['a limit raised by hand', model({ ...rendered, CHILD_MEMORY: '64g' }, { allowRegistries: ['docker.io'] }), /CHILD_MEMORY=64g differ/],
  ])('refuses %s', (_what, m, message) => {
    const found = rules(m);
    expect(found).toHaveLength(1);
    expect(found[0].message).toMatch(message);
  });
});

describe('the static audit of a --testContainers sandbox', () => {
  it('reports test-containers (medium) and nothing else', async () => {
    const { auditSandbox } = jest.requireActual('../../rules/static-audit') as typeof import('../../rules/static-audit');
    const tree = workspaceWithProjects();
    await run(tree, { testContainers: true });
    const findings = auditSandbox('apps/app', (path) => tree.read(path, 'utf-8'));
    expect(findings.map((f) => [f.rule, f.severity])).toEqual([['test-containers', 'medium']]);
    expect(findings[0].message).toMatch(/pulls from docker\.io/);
  });
});
