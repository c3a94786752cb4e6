/**
 * Benchmarks, measured side by side in one run (alternating A/B), on unix sockets only.
 *   npm run bench            all figures;   npm run bench -- ps logs follow up tree graph memory egress children cli check git tenants   some
 * Writes the table to bench/results.md (and prints it). Needs a Docker engine and the
 * stand-in images (bash scripts/stand-in-images.sh); builds the packages first.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { buildPackages } from '../scripts/build-packages';
import { docker, dockerOk, ROOT, rows, RUN, SCOPE } from './common';
import { alternate, procStats, ratioRow, rotate } from './measure';
import { ALL_FLAGS, benchMemory, mb } from './memory-figure';
import { benchCli } from './cli-figure';
import { benchCheck } from './check-figure';
import { benchEgress } from './egress-figure';
import { benchGraph, benchUp } from './nx-figures';
import { benchGit } from './git-figure';
import { benchTenants } from './tenants-figure';
import { benchBigTree } from './big-tree-figure';
import { benchChildren } from './children-figure';
import { BASE_IMAGE, buildImages, Helper, memoryOf, removeImages, socketFolder, stackRunFlags, startHaproxy, startOurProxy } from './stack-helpers';

const wanted = process.argv.slice(2);
const want = (name: string) => wanted.length === 0 || wanted.includes(name);

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

/** Our proxy (as shipped, and with every Node flag of figure 6) and the recipe's HAProxy in their containers, as a stack runs them. */
interface ContainerProxies {
  ours: Helper;
  oursFlagged: Helper;
  haproxy: Helper;
}

async function benchPs(proxy: BenchProxy, inContainers: ContainerProxies | undefined) {
  for (let i = 0; i < 20; i++) run(`devsec-bench-ps-${RUN}-${i}`, [], 'exec sleep infinity');
  const filter = ['--filter', `label=${SCOPE}`];
  // The floor: what any Node proxy costs here, measured in the same rounds.
  const pipe = await startPipeProxy();
  try {
    const viaContainer =
      (helper: Helper, ...args: string[]) =>
      () =>
        docker(['ps', '-a', ...args], { DOCKER_HOST: helper.host as string });
    const [ta, tb, tc, td, te, tf] = rotate(41, [
      () => docker(['ps', '-a'], { DOCKER_HOST: proxy.host }),
      () => docker(['ps', '-a', ...filter]),
      () => docker(['ps', '-a', ...filter], { DOCKER_HOST: pipe.host }),
      // HAProxy has no scope: it is asked for the same label filter, so the engine does the same work.
      ...(inContainers ? [viaContainer(inContainers.ours), viaContainer(inContainers.haproxy, ...filter), viaContainer(inContainers.oursFlagged)] : []),
    ]);
    const listed = docker(['ps', '-aq'], { DOCKER_HOST: proxy.host }).stdout.trim().split('\n').length;
    rows.push(ratioRow('1. `docker ps -a`, ' + listed + ' containers, proxy / direct (41 rounds)', ta, tb, '≤ 1.05'));
    rows.push(ratioRow('1′. the same, a bare Node pipe proxy (no policy) / direct: the floor of a Node hop', tc, tb));
    rows.push(ratioRow('1″. our proxy / the bare pipe proxy: what the policy, scope and logging cost', ta, tc));
    if (inContainers) {
      rows.push(
        ratioRow('1‴. the same rounds, each in its container as a stack runs it: our proxy / HAProxy (the recipe configuration)', td, te, '– (1.05 before)'),
      );
      rows.push(ratioRow('1‴a. our proxy in its container / direct', td, tb));
      rows.push(ratioRow('1‴b. our proxy in its container with every Node flag of figure 6 / as shipped', tf, td));
    }
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
  const { ta, tb } = alternate(
    7,
    () => docker(['logs', name], { DOCKER_HOST: proxy.host }),
    () => docker(['logs', name]),
  );
  rows.push(ratioRow('2. `docker logs` of a 50 MB log, proxy / direct (7 pairs)', ta, tb, '≤ 1.10'));
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

/** The stand-in images the figures build on (scripts/stand-in-images.sh); no registry is reachable here. */
function preflight() {
  const missing = [BASE_IMAGE, 'devsec-rootfs:trixie'].filter((image) => docker(['image', 'inspect', image]).status !== 0);
  if (missing.length > 0) throw new Error(`bench: missing image ${missing.join(', ')}: run bash scripts/stand-in-images.sh first.`);
}

async function main() {
  let proxy: BenchProxy | undefined;
  let sockets: ReturnType<typeof socketFolder> | undefined;
  let inContainers: ContainerProxies | undefined;
  const notes: string[] = [];
  let detail: string[] = [];
  try {
    // Figures 8 and 9 (cli, check) need no engine.
    if (wanted.length === 0 || wanted.some((name) => name !== 'cli' && name !== 'check')) preflight();
    if (want('ps') || want('memory') || want('egress') || want('children')) {
      buildPackages(['socket-proxy', 'devsec']);
      const versions = buildImages();
      notes.push(
        `Helpers in containers from ${BASE_IMAGE} (Node ${versions.node}); HAProxy ${versions.haproxy} and socat ${versions.socat} from its Debian packages.`,
      );
      const flags = await stackRunFlags();
      sockets = socketFolder();
      // Figure 6 first, with nothing else of ours running.
      if (want('memory')) detail = await benchMemory(flags, sockets.dir);
      if (want('egress')) await benchEgress(flags.egress);
      if (want('children')) await benchChildren(flags.proxy, sockets.dir);
      if (want('ps')) {
        inContainers = {
          ours: await startOurProxy(flags.proxy, sockets.dir),
          oursFlagged: await startOurProxy(flags.proxy, sockets.dir, ALL_FLAGS),
          haproxy: await startHaproxy(flags.proxy, sockets.dir),
        };
      }
    }
    if (want('ps') || want('logs') || want('follow')) {
      buildPackages(['socket-proxy']);
      proxy = await startProxy({});
    }
    if (proxy && want('ps')) await benchPs(proxy, inContainers);
    if (inContainers) {
      const [ours, haproxy] = [memoryOf(inContainers.ours.name), memoryOf(inContainers.haproxy.name)];
      rows.push([
        "6″. the proxies after figure 1's rounds: ours / HAProxy",
        `RSS ${mb(ours.rss)} MB · PSS ${mb(ours.pss)} · anon ${mb(ours.anon)}`,
        `RSS ${mb(haproxy.rss)} MB · PSS ${mb(haproxy.pss)} · anon ${mb(haproxy.anon)}`,
        (ours.rss / haproxy.rss).toFixed(3),
        '–',
        '–',
      ]);
    }
    if (proxy && want('logs')) await benchLogs(proxy);
    if (proxy && want('follow')) await benchFollow(proxy);
    if (want('up')) await benchUp();
    if (want('tenants')) notes.push(...(await benchTenants()));
    if (want('tree')) await benchBigTree();
    if (want('graph')) benchGraph();
    if (want('git')) benchGit();
    if (want('cli')) {
      buildPackages(['devsec']);
      benchCli();
    }
    if (want('check')) {
      buildPackages(['devsec']);
      benchCheck();
    }
  } finally {
    proxy?.stop();
    for (const helper of Object.values(inContainers ?? {})) helper.stop();
    if (containers.length) docker(['rm', '-f', ...containers]);
    const left = docker(['ps', '-aq', '--filter', `label=org.devsec.bench=${RUN}`]).stdout.trim();
    if (left) docker(['rm', '-f', ...left.split('\n')]);
    if (sockets) {
      sockets.remove();
      removeImages();
    }
  }
  const engine = docker(['version', '--format', '{{.Server.Version}}']).stdout.trim() || 'none';
  const machine = `${cpus().length} × ${cpus()[0].model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, engine ${engine}, load average ${loadavg()[0].toFixed(1)}`;
  const table = [
    `Measured ${new Date().toISOString().slice(0, 16)}Z on ${machine}.`,
    ...notes,
    '',
    '| figure | A | B | A/B (medians) | target | spread A / B |',
    '|---|---|---|---|---|---|',
    ...rows.map((row) => `| ${row.join(' | ')} |`),
    '',
    ...detail,
  ].join('\n');
  writeFileSync(join(__dirname, 'results.md'), table);
  console.log(table);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
