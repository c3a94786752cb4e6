/** Figures 4 and 5: up-worktree against a bare `docker compose up -d`, and the project graph with and without the plugin. */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flushChanges, FsTree } from 'nx/src/generators/tree';
import { buildPackages } from '../scripts/build-packages';
import { docker, quiet, ROOT, rows, RUN } from './common';
import { alternate, alternateAsync, ratioRow, rotate } from './measure';
import { DEFAULT_BASE_IMAGE } from '../packages/devsec/src/sandbox/vocabulary';
import { createSandboxWorkspace, trustCheckoutsAsRoot } from '../tools/testing/sandbox-workspace';

export function benchGraph() {
  buildPackages(['socket-proxy', 'devsec']);
  // Outside this repository: its .gitignore and nx.json must not shape the measured workspace.
  const ws = mkdtempSync(join(tmpdir(), 'devsec-bench-graph-'));
  for (let i = 0; i < 1000; i++) {
    const dir = join(ws, 'apps', `p${i}`);
    mkdirSync(join(dir, '.devcontainer'), { recursive: true });
    writeFileSync(join(dir, 'project.json'), JSON.stringify({ name: `p${i}`, root: `apps/p${i}`, targets: {} }));
    // A tenth of the projects have a sandbox, as in a real monorepo.
    if (i % 10 === 0) writeFileSync(join(dir, '.devcontainer', 'docker-compose.yml'), 'services:\n  app:\n    labels:\n      org.devsec.managed: "true"\n');
  }
  writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'bench-graph', private: true }));
  const nxJson = (plugins: string[]) => writeFileSync(join(ws, 'nx.json'), JSON.stringify({ plugins }));
  let env: NodeJS.ProcessEnv = { ...process.env, NX_DAEMON: 'false', NX_CACHE_PROJECT_GRAPH: 'false', NX_NO_CLOUD: 'true', NX_SKIP_NX_CACHE: 'true' };
  const nx = () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'], { cwd: ws, env, encoding: 'utf-8' });
    if (r.status !== 0) throw new Error(r.stderr);
    return r.stdout;
  };
  // Nx itself, as installed in this repository.
  mkdirSync(join(ws, 'node_modules'), { recursive: true });
  for (const name of ['nx', '@nx']) symlinkSync(join(ROOT, 'node_modules', name), join(ws, 'node_modules', name));
  // The floor: an installed plugin with the same glob that infers nothing (Nx starts a worker for any plugin).
  mkdirSync(join(ws, 'node_modules', 'noop-plugin'), { recursive: true });
  writeFileSync(join(ws, 'node_modules', 'noop-plugin', 'package.json'), JSON.stringify({ name: 'noop-plugin', version: '0.0.0', main: 'index.js' }));
  writeFileSync(
    join(ws, 'node_modules', 'noop-plugin', 'index.js'),
    "exports.createNodesV2 = ['{**/.devcontainer/docker-compose.yml,docker-compose.shared.yml}', () => []];\n",
  );
  const withPlugin = () => (nxJson([join(ROOT, 'dist/packages/devsec')]), nx());
  const without = () => (nxJson([]), nx());
  const noop = () => (nxJson(['noop-plugin']), nx());
  const projects = withPlugin().trim().split('\n').length;
  // Nx runs plugins in worker processes by default; NX_ISOLATE_PLUGINS=false runs them in process.
  for (const isolate of ['default', 'false']) {
    env = { ...env, ...(isolate === 'false' ? { NX_ISOLATE_PLUGINS: 'false' } : {}) };
    const how = isolate === 'false' ? ', NX_ISOLATE_PLUGINS=false' : ', plugins isolated (Nx default)';
    const [ta, tb, tc] = rotate(7, [withPlugin, without, noop]);
    rows.push(ratioRow(`5. Project graph, ${projects} projects (daemon off${how}), with plugin / without (7 rounds)`, ta, tb, '≤ 1.05'));
    rows.push(ratioRow(`5′. the same${how}, a no-op plugin with our glob / without: the floor of any plugin`, tc, tb));
  }
  rmSync(ws, { recursive: true, force: true });
}

export async function benchUp() {
  buildPackages(['socket-proxy', 'devsec']);
  const dist = join(ROOT, 'dist/packages/devsec/src');
  // The compiled plugin, as a workspace installs it; its types are not this script's concern.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { secureDevcontainerGenerator } = require(join(dist, 'generators/secure-devcontainer/generator'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const upWorktree = require(join(dist, 'executors/up-worktree/executor')).default;
  // A checkout as on a developer's machine, as the e2e suites make it: the ordinary user's (uid 1000, the dev
  // container's user too), so that the container can read its workspace and fill its node_modules.
  trustCheckoutsAsRoot();
  const ws = createSandboxWorkspace('devsec-bench-up-', `bench-up-${RUN}`);
  const dir = ws.dir;
  const network = `devsec-bench-${RUN}`;
  const tree = new FsTree(dir, false);
  await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true });
  flushChanges(dir, tree.listChanges());
  // A worktree with a commit, as a real one: the gate's git look reads HEAD's tree.
  ws.git('add', '-A');
  ws.git('commit', '-q', '-m', 'the sandbox');
  ws.chownToCheckoutUser();
  const composeFile = 'apps/app/.devcontainer/docker-compose.yml';
  const context = { root: dir, cwd: dir, projectName: 'app', isVerbose: false };
  const up = async () => {
    const result: { success: boolean } = await quiet(() => upWorktree({ composeFile }, context));
    if (!result.success) throw new Error('up-worktree failed');
  };
  await up(); // builds the images once
  const project = (/COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8')) as RegExpExecArray)[1];
  const files = ['docker-compose.yml', 'docker-compose.services.yml', 'docker-compose.worktree.yml'].flatMap((f) => [
    '-f',
    join(dir, 'apps/app/.devcontainer', f),
  ]);
  const compose = async (...args: string[]) => {
    const r = docker(['compose', '-p', project, ...files, ...args]);
    if (r.status !== 0) throw new Error(r.stderr);
  };
  try {
    const rerun = await alternateAsync(5, up, () => compose('up', '-d'));
    rows.push(ratioRow('4a. Re-run with nothing changed: `up-worktree` / `docker compose up -d` (5 pairs)', rerun.ta, rerun.tb, '≤ 1.2'));
    const cold = await alternateAsync(
      3,
      up,
      () => compose('up', '-d'),
      () => compose('down'),
    );
    rows.push(ratioRow('4b. Cold start (images built, stack down): `up-worktree` / `docker compose up -d` (3 pairs)', cold.ta, cold.tb, '≤ 1.1'));
    // What a start pays to learn the engine (docker version, docker info, a container that stats the socket): once per engine.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { discoverEngine, forgetEngine } = require(join(dist, 'host/engine/engine-discovery'));
    const look = alternate(
      7,
      () => {
        forgetEngine();
        discoverEngine(DEFAULT_BASE_IMAGE);
      },
      () => discoverEngine(DEFAULT_BASE_IMAGE),
    );
    rows.push(ratioRow("4c. Learning the engine: the first start's look from inside / a start that finds it cached (7 pairs)", look.ta, look.tb));
  } finally {
    // The images the stack built go too: the bench leaves nothing behind.
    await compose('down', '--volumes', '--rmi', 'local').catch(() => undefined);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
  }
}
