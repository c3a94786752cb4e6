/**
 * Figure 11: the first start in a workspace with a big node_modules (≥ 300 MB, ≥ 30,000 files,
 * with pnpm's layout: a virtual store in node_modules/.pnpm and a forest of relative symlinks
 * into it), `up-worktree` from a fresh volume / `docker compose up -d` plus the copy itself
 * (`cp -a` of the tree into the volume, one process), and the disk each extra worktree costs.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flushChanges, FsTree } from 'nx/src/generators/tree';
import { buildPackages } from '../scripts/build-packages';
import { docker, quiet, ROOT, rows, RUN } from './common';
import { alternateAsync, ratioRow } from './measure';
import { createSandboxWorkspace, trustCheckoutsAsRoot } from '../tools/testing/sandbox-workspace';

/** 3,000 packages of 11 files, 300+ MB in all, in pnpm's layout (each package linked from the root). */
export const BIG_TREE = { packages: 3000, filesPerPackage: 10, bytesPerFile: 10 * 1024 };

function writeBigTree(nodeModules: string): { files: number; links: number; bytes: number } {
  let files = 0;
  let links = 0;
  let bytes = 0;
  // Varied bytes (not compressible to nothing), the same buffer reused: writing, not generating, is what costs.
  const data = Buffer.alloc(BIG_TREE.bytesPerFile);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
  for (let p = 0; p < BIG_TREE.packages; p++) {
    const name = `pkg-${p}`;
    const dir = join(nodeModules, '.pnpm', `${name}@1.0.${p % 7}`, 'node_modules', name);
    mkdirSync(join(dir, 'lib'), { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: `1.0.${p % 7}`, main: 'lib/f0.js' }));
    files++;
    for (let f = 0; f < BIG_TREE.filesPerPackage; f++) {
      data[0] = (p + f) % 256;
      writeFileSync(join(dir, 'lib', `f${f}.js`), data);
      files++;
      bytes += data.length;
    }
    // The root's link, and a dependency link inside the virtual store: pnpm's symlink forest.
    symlinkSync(join('.pnpm', `${name}@1.0.${p % 7}`, 'node_modules', name), join(nodeModules, name));
    if (p > 0) {
      const dep = `pkg-${p - 1}`;
      symlinkSync(join('..', '..', `${dep}@1.0.${(p - 1) % 7}`, 'node_modules', dep), join(nodeModules, '.pnpm', `${name}@1.0.${p % 7}`, 'node_modules', dep));
      links++;
    }
    links++;
  }
  return { files, links, bytes };
}

const du = (path: string) => spawnSync('du', ['-sb', path], { encoding: 'utf-8' }).stdout.split('\t')[0];

export async function benchBigTree() {
  buildPackages(['socket-proxy', 'devsec']);
  const dist = join(ROOT, 'dist/packages/devsec/src');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { secureDevcontainerGenerator } = require(join(dist, 'generators/secure-devcontainer/generator'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const upWorktree = require(join(dist, 'executors/up-worktree/executor')).default;
  trustCheckoutsAsRoot();
  const ws = createSandboxWorkspace('devsec-bench-tree-', `bench-tree-${RUN}`);
  const dir = ws.dir;
  const network = `devsec-bench-tree-${RUN}`;
  const tree = new FsTree(dir, false);
  await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true });
  flushChanges(dir, tree.listChanges());
  ws.git('add', '-A');
  ws.git('commit', '-q', '-m', 'the sandbox');
  const made = writeBigTree(join(dir, 'node_modules'));
  ws.chownToCheckoutUser();
  const hostBytes = Number(du(join(dir, 'node_modules')));
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
  const app = `${project}-app-1`;
  // B: what any sandbox with a volume of its own must do at least: start the stack, then one cp -a into the volume.
  const upAndCopy = async () => {
    await compose('up', '-d');
    const r = docker(['exec', '-u', 'node', app, 'cp', '-a', '/devsec/host-node_modules/.', `${dir}/node_modules/`]);
    if (r.status !== 0) throw new Error(r.stderr);
  };
  try {
    // The volume as the fill left it: the disk each extra worktree's stack takes (its node_modules is a copy).
    const volumeBytes = Number(docker(['exec', '-u', 'node', app, 'du', '-sb', `${dir}/node_modules`]).stdout.split('\t')[0]);
    const count = docker(['exec', '-u', 'node', app, 'sh', '-c', `find ${dir}/node_modules | wc -l; find ${dir}/node_modules -type l | wc -l`])
      .stdout.trim()
      .split('\n');
    const first = await alternateAsync(3, up, upAndCopy, () => compose('down', '--volumes'));
    rows.push(
      ratioRow(
        `11. First start, node_modules of ${(hostBytes / 1e6).toFixed(0)} MB, ${made.files} files, ${made.links} links (pnpm layout), fresh volume: \`up-worktree\` / \`docker compose up -d\` + \`cp -a\` of the tree into the volume (3 pairs)`,
        first.ta,
        first.tb,
        '≤ 1.2',
      ),
    );
    rows.push([
      `11′. Disk per extra worktree: its node_modules volume (${count[0]} entries, ${count[1]} links, copied in one cp -a)`,
      `${(volumeBytes / 1e6).toFixed(0)} MB`,
      `host tree ${(hostBytes / 1e6).toFixed(0)} MB`,
      (volumeBytes / hostBytes).toFixed(3),
      '–',
      'a full copy per worktree; the image layers are shared',
    ]);
  } finally {
    await compose('down', '--volumes', '--rmi', 'local').catch(() => undefined);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
  }
}
