import { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { checkSandbox } from '../../rules/compose-rules';
import { parseJsonc } from '../../sandbox/jsonc';
import { validateCompose } from '../../testing/schemas';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from '../secure-devcontainer/generator';
import { localhostProxyGenerator } from './generator';
import type { LocalhostProxyGeneratorSchema } from './schema';

const SERVICES = 'apps/app/.devcontainer/docker-compose.services.yml';
const compose = (tree: Tree) => parse(tree.read('apps/app/.devcontainer/docker-compose.yml', 'utf-8') as string);
const run = (tree: Tree, options: Partial<LocalhostProxyGeneratorSchema> = {}) =>
  localhostProxyGenerator(tree, { project: 'app', skipFormat: true, ...options });

describe('localhost-proxy generator', () => {
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    tree.write(SERVICES, 'services:\n  web:\n    image: node:24-trixie-slim\n    networks: [sandbox]\n');
  });

  it("adds a forwarder in the dev container's network namespace, on 127.0.0.1 and ::1, to the stack's own service", async () => {
    await run(tree);
    const file = compose(tree);
    const forwarder = file.services['localhost-proxy'];
    expect(forwarder.network_mode).toBe('service:app');
    expect(forwarder).not.toHaveProperty('networks');
    expect(forwarder.environment).toEqual({ FORWARD: '3000:${COMPOSE_PROJECT_NAME:-devsec}-web-1:3000', FORWARD_BIND: '127.0.0.1,::1' });
    expect(forwarder.build).toEqual(file.services['docker-proxy'].build);
    expect(forwarder.cap_drop).toEqual(['ALL']);
    expect(forwarder).toMatchObject({ mem_limit: '128m', pids_limit: 64, cpus: 1 });
    expect(forwarder).not.toHaveProperty('volumes');
    // In its stack's scope by its compose project label, which Compose sets; in no other stack's.
    expect(forwarder.labels).toEqual({ 'org.devsec.managed': 'true', 'org.devsec.project': 'app' });
    expect(file.services.app.sysctls).toEqual({ 'net.ipv6.conf.lo.disable_ipv6': 0 });
    expect(validateCompose(file)).toEqual([]);
    expect(checkSandbox({ composeFile: 'x', compose: file })).toEqual([]);
    const devcontainer = parseJsonc<{ runServices: string[] }>(tree.read('apps/app/.devcontainer/devcontainer.json', 'utf-8') as string);
    expect(devcontainer.runServices).toEqual(['docker-proxy', 'app', 'localhost-proxy']);
  });

  it('forwards several ports to a given target port, IPv4 only when asked', async () => {
    await run(tree, { ports: ['3000,3001'], target: 'web:8080', ipv6: false });
    const forwarder = compose(tree).services['localhost-proxy'];
    expect(forwarder.environment.FORWARD).toBe('3000:${COMPOSE_PROJECT_NAME:-devsec}-web-1:8080,3001:${COMPOSE_PROJECT_NAME:-devsec}-web-1:8080');
    expect(forwarder.environment.FORWARD_BIND).toBe('127.0.0.1');
    expect(compose(tree).services.app.sysctls).toBeUndefined();
  });

  it('is kept when secure-devcontainer runs again, and a re-run changes nothing', async () => {
    await run(tree);
    const before = snapshot(tree);
    await run(tree);
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    expect(snapshot(tree)).toEqual(before);
  });

  describe('bad input: a clear error and an unchanged tree', () => {
    it.each<[Partial<LocalhostProxyGeneratorSchema>, RegExp]>([
      [{ project: 'frontend' }, /frontend has no secure dev container. Run nx g @org\/devsec:secure-devcontainer --project=frontend first/],
      [{ project: 'ghost' }, /--project: no project named "ghost"/],
      [{ ports: [0] }, /--ports: "0" is not a port/],
      [{ ports: ['http'] }, /--ports: "http" is not a port/],
      [{ target: 'api' }, /--target: no service "api" in apps\/app\/\.devcontainer\/docker-compose\.services\.yml \(it has: web\)/],
      [{ target: 'docker-proxy:2375' }, /"docker-proxy" is part of the sandbox itself/],
      [{ target: 'web:99999' }, /--target: "99999" is not a port/],
    ])('%p', async (options, message) => {
      const before = snapshot(tree);
      await expect(run(tree, options)).rejects.toThrow(message);
      expect(snapshot(tree)).toEqual(before);
    });

    it('asks for a service when the stack has none', async () => {
      tree.write(SERVICES, 'services: {}\n');
      await expect(run(tree)).rejects.toThrow(/defines no service to forward to. Add your app's service there/);
    });
  });
});
