/**
 * Benchmarks, measured side by side in one run (alternating A/B), on unix sockets only.
 *   npm run bench            all figures;   npm run bench -- ps logs follow up graph   some
 * Writes the table to bench/results.md (and prints it). Needs a Docker engine and the
 * stand-in images (bash scripts/stand-in-images.sh); builds the packages first.
 */
import { ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { flushChanges, FsTree } from 'nx/src/generators/tree';
import { buildPackages } from '../scripts/build-packages';
import { alternate, alternateAsync, median, ms, procStats, rotate, spread } from './measure';

const ROOT = join(__dirname, '..');
const RUN = Math.random().toString(36).slice(2, 8);
const SCOPE = `org.devsec.scope=bench-${RUN}`;
const wanted = process.argv.slice(2);
const want = (name: string) => wanted.length === 0 || wanted.includes(name);
const rows: string[][] = [];

const docker = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('docker', args, { encoding: 'utf-8', env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 });
const dockerOk = (args: string[]) => {
  const r = docker(args);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

interface BenchProxy {
  child: ChildProcess;
  socket: string;
  host: string;
  stop: () => void;
}

/** The compiled proxy, as the image runs it. */
function startProxy(env: Record<string, string>): Promise<BenchProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-bench-'));
  const socket = join(dir, 'proxy.sock');
  const child = spawn(process.execPath, [join(ROOT, 'dist/packages/socket-proxy/bin/devsec-socket-proxy.js')], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LISTEN: `unix://${socket}`, CONTAINERS: '1', SCOPE_LABEL: SCOPE, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      if (String(chunk).includes('"msg":"listening"'))
        resolve({ child, socket, host: `unix://${socket}`, stop: () => (child.kill('SIGTERM'), rmSync(dir, { recursive: true, force: true })) });
    });
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}`)));
  });
}

const containers: string[] = [];
function run(name: string, args: string[], command: string) {
  containers.push(name);
  dockerOk(['run', '-d', '--name', name, '--label', SCOPE, ...args, 'devsec-rootfs:trixie', 'bash', '-c', command]);
}

function startPipeProxy(): Promise<{ host: string; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-bench-pipe-'));
  const socket = join(dir, 'pipe.sock');
  // Through ts-node, which costs start-up time only: the requests run plain compiled code.
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', join(__dirname, 'pipe-proxy.ts'), socket], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.base.json') },
  });
  return new Promise((resolve) => {
    child.stdout.once('data', () => resolve({ host: `unix://${socket}`, stop: () => (child.kill('SIGTERM'), rmSync(dir, { recursive: true, force: true })) }));
  });
}

async function benchPs(proxy: BenchProxy) {
  for (let i = 0; i < 20; i++) run(`devsec-bench-ps-${RUN}-${i}`, [], 'exec sleep infinity');
  const filter = ['--filter', `label=${SCOPE}`];
  // The floor: what any Node proxy costs here, measured in the same rounds.
  const pipe = await startPipeProxy();
  try {
    const [ta, tb, tc] = rotate(41, [
      () => docker(['ps', '-a'], { DOCKER_HOST: proxy.host }),
      () => docker(['ps', '-a', ...filter]),
      () => docker(['ps', '-a', ...filter], { DOCKER_HOST: pipe.host }),
    ]);
    const listed = docker(['ps', '-aq'], { DOCKER_HOST: proxy.host }).stdout.trim().split('\n').length;
    rows.push([
      '1. `docker ps -a`, ' + listed + ' containers, proxy / direct (41 rounds)',
      ms(median(ta)),
      ms(median(tb)),
      (median(ta) / median(tb)).toFixed(3),
      '≤ 1.05',
      spread(ta) + ' / ' + spread(tb),
    ]);
    rows.push([
      '1′. the same, a bare Node pipe proxy (no policy) / direct: the floor of a Node hop',
      ms(median(tc)),
      ms(median(tb)),
      (median(tc) / median(tb)).toFixed(3),
      '–',
      spread(tc) + ' / ' + spread(tb),
    ]);
    rows.push([
      '1″. our proxy / the bare pipe proxy: what the policy, scope and logging cost',
      ms(median(ta)),
      ms(median(tc)),
      (median(ta) / median(tc)).toFixed(3),
      '–',
      spread(ta) + ' / ' + spread(tc),
    ]);
  } finally {
    pipe.stop();
  }
}

async function benchLogs(proxy: BenchProxy) {
  const name = `devsec-bench-logs-${RUN}`;
  // About 50 MB of log lines, then quiet.
  run(name, [], 'yes "2026-11-28T05:00:00Z INFO request handled path=/api/items status=200 duration=12ms" | head -c 50000000; exec sleep infinity');
  for (let i = 0; i < 120; i++) {
    const size = Number(dockerOk(['inspect', '-f', '{{.State.Running}}', name]).trim() === 'true' && docker(['logs', name]).stdout.length);
    if (size >= 49_000_000) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const { ta, tb, ratio } = alternate(
    7,
    () => docker(['logs', name], { DOCKER_HOST: proxy.host }),
    () => docker(['logs', name]),
  );
  rows.push([
    '2. `docker logs` of a 50 MB log, proxy / direct (7 pairs)',
    ms(median(ta)),
    ms(median(tb)),
    ratio.toFixed(3),
    '≤ 1.10',
    spread(ta) + ' / ' + spread(tb),
  ]);
}

async function benchFollow(proxy: BenchProxy) {
  const name = `devsec-bench-follow-${RUN}`;
  run(name, [], 'while true; do echo "$(date +%s%N) tick from the follow benchmark, a line of ordinary length"; sleep 0.01; done');
  const requests: http.ClientRequest[] = [];
  let bytes = 0;
  for (let i = 0; i < 50; i++) {
    const req = http.get({ socketPath: proxy.socket, path: `/v1.41/containers/${name}/logs?follow=1&stdout=1&stderr=1&tail=10` }, (res) => {
      res.on('data', (chunk) => (bytes += chunk.length));
    });
    req.on('error', () => undefined);
    requests.push(req);
  }
  await new Promise((r) => setTimeout(r, 2000));
  const pid = proxy.child.pid as number;
  const before = procStats(pid);
  const started = Date.now();
  let peakRss = before.rssKb;
  while (Date.now() - started < 10_000) {
    await new Promise((r) => setTimeout(r, 250));
    peakRss = Math.max(peakRss, procStats(pid).rssKb);
  }
  const after = procStats(pid);
  const seconds = (Date.now() - started) / 1000;
  const cpu = (after.cpuTicks - before.cpuTicks) / 100 / seconds;
  for (const req of requests) req.destroy();
  rows.push([
    '3. 50 concurrent `docker logs -f` through the proxy, 10 s',
    `peak RSS ${(Math.max(peakRss, after.hwmKb) / 1024).toFixed(1)} MB`,
    `CPU ${(cpu * 100).toFixed(1)} % of a core`,
    '-',
    '≤ 60 MB',
    `${(bytes / 1024 / 1024).toFixed(1)} MB streamed`,
  ]);
}

function benchGraph() {
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
    rows.push([
      `5. Project graph, ${projects} projects (daemon off${how}), with plugin / without (7 rounds)`,
      ms(median(ta)),
      ms(median(tb)),
      (median(ta) / median(tb)).toFixed(3),
      '≤ 1.05',
      spread(ta) + ' / ' + spread(tb),
    ]);
    rows.push([
      `5′. the same${how}, a no-op plugin with our glob / without: the floor of any plugin`,
      ms(median(tc)),
      ms(median(tb)),
      (median(tc) / median(tb)).toFixed(3),
      '–',
      spread(tc) + ' / ' + spread(tb),
    ]);
  }
  rmSync(ws, { recursive: true, force: true });
}

async function benchUp() {
  buildPackages(['socket-proxy', 'devsec']);
  const dist = join(ROOT, 'dist/packages/devsec/src');
  // The compiled plugin, as a workspace installs it; its types are not this script's concern.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { secureDevcontainerGenerator } = require(join(dist, 'generators/secure-devcontainer/generator'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const upWorktree = require(join(dist, 'executors/up-worktree/executor')).default;
  const dir = mkdtempSync(join(tmpdir(), 'devsec-bench-up-'));
  const network = `devsec-bench-${RUN}`;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `bench-up-${RUN}` }));
  writeFileSync(join(dir, 'nx.json'), '{}');
  mkdirSync(join(dir, 'apps/app'), { recursive: true });
  writeFileSync(join(dir, 'apps/app/project.json'), JSON.stringify({ name: 'app', root: 'apps/app' }));
  cpSync(join(ROOT, 'dist/packages/socket-proxy'), join(dir, 'node_modules/@org/devsec-socket-proxy'), { recursive: true });
  const tree = new FsTree(dir, false);
  await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true });
  flushChanges(dir, tree.listChanges());
  execFileSync('git', ['init', '-q'], { cwd: dir });
  const composeFile = 'apps/app/.devcontainer/docker-compose.yml';
  const context = { root: dir, cwd: dir, projectName: 'app', isVerbose: false };
  // The executor's own output is not what is measured.
  const quiet = async <T>(fn: () => Promise<T>): Promise<T> => {
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      return await fn();
    } finally {
      process.stdout.write = write;
    }
  };
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
    rows.push([
      '4a. Re-run with nothing changed: `up-worktree` / `docker compose up -d` (5 pairs)',
      ms(median(rerun.ta)),
      ms(median(rerun.tb)),
      rerun.ratio.toFixed(3),
      '≤ 1.2',
      spread(rerun.ta) + ' / ' + spread(rerun.tb),
    ]);
    const cold = await alternateAsync(
      3,
      up,
      () => compose('up', '-d'),
      () => compose('down'),
    );
    rows.push([
      '4b. Cold start (images built, stack down): `up-worktree` / `docker compose up -d` (3 pairs)',
      ms(median(cold.ta)),
      ms(median(cold.tb)),
      cold.ratio.toFixed(3),
      '≤ 1.1',
      spread(cold.ta) + ' / ' + spread(cold.tb),
    ]);
  } finally {
    await compose('down', '--volumes').catch(() => undefined);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  let proxy: BenchProxy | undefined;
  try {
    if (want('ps') || want('logs') || want('follow')) {
      buildPackages(['socket-proxy']);
      proxy = await startProxy({});
    }
    if (proxy && want('ps')) await benchPs(proxy);
    if (proxy && want('logs')) await benchLogs(proxy);
    if (proxy && want('follow')) await benchFollow(proxy);
    if (want('up')) await benchUp();
    if (want('graph')) benchGraph();
  } finally {
    proxy?.stop();
    if (containers.length) docker(['rm', '-f', ...containers]);
  }
  const machine = `${cpus().length} × ${cpus()[0].model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, engine ${dockerOk(['version', '--format', '{{.Server.Version}}']).trim()}`;
  const table = [
    `Measured ${new Date().toISOString().slice(0, 16)}Z on ${machine}.`,
    '',
    '| figure | A | B | A/B (medians) | target | spread A / B |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n');
  writeFileSync(join(__dirname, 'results.md'), table);
  console.log(table);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
