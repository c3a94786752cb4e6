/**
 * Beside Nx's own plugins: a workspace made by create-nx-workspace@23.2.1 with @nx/docker, @nx/js,
 * @nx/jest, @nx/eslint, @nx/vite and @nx/playwright added with `nx add`, and our sandbox for two
 * projects plus a shared service. The graph must build, and no project may be inferred from our
 * files (@nx/docker infers one from every file named Dockerfile: ours is sandbox.Dockerfile).
 *
 * Engine-free on purpose: it starts no container and builds no image, so it needs no Docker
 * engine and takes no /tmp/devsec-engine.lock; it runs in parallel with the engine suites.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createTestWorkspace, TestWorkspace } from './workspace';

jest.setTimeout(1_800_000);

const NX_VERSION = '23.2.1';
/** Each package, and the plugin entry that carries its createNodes glob. */
const NX_PLUGINS: Array<[pkg: string, plugin: string, glob: string]> = [
  ['@nx/docker', '@nx/docker', '**/Dockerfile'],
  ['@nx/js', '@nx/js/typescript', '**/tsconfig*.json'],
  ['@nx/jest', '@nx/jest/plugin', '**/jest.config.{cjs,mjs,js,cts,mts,ts}'],
  ['@nx/eslint', '@nx/eslint/plugin', '**/{eslint.config.*,.eslintrc*,project.json,package.json}'],
  ['@nx/vite', '@nx/vite/plugin', '**/vite.config.{js,ts,mjs,mts,cjs,cts}'],
  ['@nx/playwright', '@nx/playwright/plugin', '**/playwright.config.{js,ts,cjs,cts,mjs,mts}'],
];

type GraphNode = { name: string; data: { root: string; targets?: Record<string, { executor?: string; command?: string }> } };

describe('the sandbox beside @nx/docker, @nx/js, @nx/jest, @nx/eslint, @nx/vite and @nx/playwright', () => {
  let ws: TestWorkspace;
  const nx = (...args: string[]) => ws.run('npx', ['nx', ...args]);
  const nxJson = () => JSON.parse(readFileSync(join(ws.dir, 'nx.json'), 'utf-8'));
  const project = (root: string, name: string) => {
    mkdirSync(join(ws.dir, root), { recursive: true });
    writeFileSync(join(ws.dir, root, 'project.json'), JSON.stringify({ name, root, projectType: 'application', targets: {} }, null, 2));
  };
  const graph = (): Record<string, GraphNode> => {
    const file = join(dirname(ws.dir), 'graph.json'); // outside the checkout: git status stays clean
    nx('graph', `--file=${file}`);
    return JSON.parse(readFileSync(file, 'utf-8')).graph.nodes;
  };

  beforeAll(() => {
    ws = createTestWorkspace();
    project('apps/api', 'api');
    for (const [pkg] of NX_PLUGINS) nx('add', `${pkg}@${NX_VERSION}`);
    // Some init generators register their plugin only in some setups: make sure every glob is live.
    const config = nxJson();
    const registered = (config.plugins ?? []).map((entry: string | { plugin: string }) => (typeof entry === 'string' ? entry : entry.plugin));
    const missing = NX_PLUGINS.map(([, plugin]) => plugin).filter((plugin) => !registered.includes(plugin));
    if (missing.length > 0) {
      config.plugins = [...(config.plugins ?? []), ...missing.map((plugin) => ({ plugin, options: {} }))];
      writeFileSync(join(ws.dir, 'nx.json'), JSON.stringify(config, null, 2));
    }
    // A control: a real Dockerfile in a project of its own, which @nx/docker must pick up.
    project('apps/image', 'image');
    writeFileSync(join(ws.dir, 'apps/image/Dockerfile'), 'FROM node:24-trixie-slim\n');
    const g = (...args: string[]) => nx('g', ...args, '--no-interactive');
    g('@org/devsec:secure-devcontainer', '--project=app');
    g('@org/devsec:secure-devcontainer', '--project=api');
    g('@org/devsec:shared-service', 'postgres');
    ws.run('git', ['add', '-A']);
    ws.run('git', ['commit', '-q', '-m', 'Nx plugins, and sandboxes for app and api']);
  });

  afterAll(() => {
    if (ws) rmSync(dirname(ws.dir), { recursive: true, force: true });
  });

  it('has every plugin installed at 23.2.1 and registered', () => {
    for (const [pkg, plugin] of NX_PLUGINS) {
      // nx add writes ^23.2.1 into package.json; what it installed is 23.2.1.
      const installed = JSON.parse(readFileSync(join(ws.dir, 'node_modules', pkg, 'package.json'), 'utf-8')).version;
      expect([pkg, installed]).toEqual([pkg, NX_VERSION]);
      expect(JSON.stringify(nxJson().plugins)).toContain(`"${plugin}"`);
    }
  });

  it('lists exactly the projects there are with nx show projects: none from our files', () => {
    const projects: string[] = JSON.parse(nx('show', 'projects', '--json').stdout);
    expect(projects).toEqual(expect.arrayContaining(['app', 'api', 'image', 'shared-infra']));
    expect(projects.filter((name) => /devcontainer|docker-compose|sandbox/i.test(name))).toEqual([]);
  });

  it('builds the graph, with our targets on our projects and no project rooted in our files', () => {
    const nodes = Object.values(graph());
    const roots = nodes.map((node) => node.data.root);
    expect(roots.filter((root) => root.includes('.devcontainer'))).toEqual([]);
    const byName = Object.fromEntries(nodes.map((node) => [node.name, node]));
    for (const name of ['app', 'api']) {
      const targets = byName[name].data.targets ?? {};
      expect(Object.keys(targets)).toEqual(expect.arrayContaining(['up-worktree', 'down-worktree', 'audit', 'audit-live']));
      // @nx/docker saw no Dockerfile in these projects.
      expect(Object.keys(targets).filter((target) => target.startsWith('docker:'))).toEqual([]);
    }
    expect(byName['shared-infra'].data.targets).toHaveProperty('up-shared');
    // The control: @nx/docker is live and infers from a real Dockerfile.
    expect(byName['image'].data.targets).toHaveProperty(['docker:build']);
  });

  it('would fail every nx command with a Dockerfile in .devcontainer: what the rename avoids', () => {
    const legacy = join(ws.dir, 'apps/api/.devcontainer/Dockerfile');
    copyFileSync(join(ws.dir, 'apps/api/.devcontainer/sandbox.Dockerfile'), legacy);
    try {
      const shown = ws.run('npx', ['nx', 'show', 'projects'], { allowFailure: true });
      expect(shown.status).not.toBe(0);
      expect(shown.stdout + shown.stderr).toMatch(/no name provided[\s\S]*apps\/api\/\.devcontainer/);
    } finally {
      rmSync(legacy);
    }
  });

  it('is in sync (nx sync:check), and the generators change nothing when run again', () => {
    expect(nxJson().sync.globalGenerators).toContain('@org/devsec:sync');
    nx('sync:check');
    nx('g', '@org/devsec:secure-devcontainer', '--project=api', '--no-interactive');
    nx('g', '@org/devsec:shared-service', 'postgres', '--no-interactive');
    expect(ws.run('git', ['status', '--porcelain']).stdout).toBe('');
  });

  it('replays the static audit from the cache while its inputs are unchanged', () => {
    const fromCache = /Cache:\s+1\/1 hit|read the output from the cache/;
    expect(nx('run', 'api:audit').stdout).toContain('No findings');
    const again = nx('run', 'api:audit').stdout;
    expect(again).toContain('No findings');
    expect(again).toMatch(fromCache);
    const services = join(ws.dir, 'apps/api/.devcontainer/docker-compose.services.yml');
    writeFileSync(services, `${readFileSync(services, 'utf-8')}# touched\n`);
    expect(nx('run', 'api:audit').stdout).not.toMatch(fromCache);
    ws.run('git', ['checkout', '--', services]);
    // --live is never replayed: the audit's hasher (unit-tested) is wired; audit-live is not cached at all.
    expect(JSON.parse(nx('show', 'target', 'api:audit', '--json').stdout)).toMatchObject({ cache: true, customHasher: true });
    expect(JSON.parse(nx('show', 'target', 'api:audit-live', '--json').stdout)).toMatchObject({ cache: false });
  });
});
