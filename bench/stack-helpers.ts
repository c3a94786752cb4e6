/**
 * The helpers of a stack as it runs them, for figures 1 and 6: our proxy and forwarder, and the
 * recipe's pair (HAProxy with a Tecnativa-style configuration, and socat), each in a container
 * built from the stand-in base image with the settings the generated compose file gives ours
 * (memory, pids and CPU limits, read-only root, no capabilities). Unix sockets only: each proxy
 * listens on a socket in a folder shared with the host.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree } from 'nx/src/generators/tree';
import { parse } from 'yaml';
import { discoverEngine } from '../packages/devsec/src/host/engine/engine-discovery';
import { PROXY_SOCKET_TARGET } from '../packages/devsec/src/sandbox/engines';
import { DEFAULT_BASE_IMAGE } from '../packages/devsec/src/sandbox/vocabulary';
import { docker, dockerOk, ROOT, RUN, SCOPE } from './common';

export const BASE_IMAGE = 'node:24-trixie-slim';
export const PROXY_IMAGE = `devsec-bench-proxy:${RUN}`;
export const RECIPE_IMAGE = `devsec-bench-recipe:${RUN}`;
const PROXY_BIN = '/opt/devsec-socket-proxy/bin/devsec-socket-proxy.js';

/** Debian's haproxy and socat in the same base as ours; the configuration is bench/recipe/haproxy.cfg. */
const RECIPE_DOCKERFILE = `FROM ${BASE_IMAGE}
RUN apt-get update && apt-get install -y --no-install-recommends haproxy socat && rm -rf /var/lib/apt/lists/*
COPY haproxy.cfg /etc/haproxy/bench.cfg
`;

/** Builds our image from the built package (as a stack does) and the recipe's; returns their versions. */
export function buildImages(): { haproxy: string; socat: string; node: string } {
  dockerOk(['build', '-q', '-t', PROXY_IMAGE, '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, join(ROOT, 'dist/packages/socket-proxy')]);
  const context = mkdtempSync(join(tmpdir(), 'devsec-bench-recipe-'));
  try {
    writeFileSync(join(context, 'Dockerfile'), RECIPE_DOCKERFILE);
    copyFileSync(join(__dirname, 'recipe/haproxy.cfg'), join(context, 'haproxy.cfg'));
    dockerOk(['build', '-q', '-t', RECIPE_IMAGE, context]);
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
  const version = (image: string, ...command: string[]) => dockerOk(['run', '--rm', '--entrypoint', command[0], image, ...command.slice(1)]).trim();
  return {
    haproxy: (/HAProxy version (\S+)/.exec(version(RECIPE_IMAGE, 'haproxy', '-v')) ?? [])[1] ?? '?',
    socat: (/socat version (\S+)/.exec(version(RECIPE_IMAGE, 'socat', '-V')) ?? [])[1] ?? '?',
    node: version(PROXY_IMAGE, 'node', '-v'),
  };
}

export function removeImages(): void {
  docker(['rmi', PROXY_IMAGE, RECIPE_IMAGE]);
}

/** `docker run` flags for what the generated compose file sets on a helper service. */
export type RunFlags = string[];

/** The proxy's, the forwarder's and the egress proxy's settings, from the compose file the generators write. */
export async function stackRunFlags(): Promise<{ proxy: RunFlags; forwarder: RunFlags; egress: RunFlags }> {
  const dist = join(ROOT, 'dist/packages/devsec/src/generators');
  // The compiled plugin, as a workspace installs it; its types are not this script's concern.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { secureDevcontainerGenerator } = require(join(dist, 'secure-devcontainer/generator'));
  const { localhostProxyGenerator } = require(join(dist, 'localhost-proxy/generator'));
  /* eslint-enable @typescript-eslint/no-require-imports */
  const dir = mkdtempSync(join(tmpdir(), 'devsec-bench-stack-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `bench-stack-${RUN}` }));
    writeFileSync(join(dir, 'nx.json'), '{}');
    mkdirSync(join(dir, 'apps/app/.devcontainer'), { recursive: true });
    writeFileSync(join(dir, 'apps/app/project.json'), JSON.stringify({ name: 'app', root: 'apps/app' }));
    const tree = new FsTree(dir, false);
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    tree.write('apps/app/.devcontainer/docker-compose.services.yml', 'services:\n  web:\n    image: node:24-trixie-slim\n    networks: [sandbox]\n');
    await localhostProxyGenerator(tree, { project: 'app', skipFormat: true });
    const services = parse(tree.read('apps/app/.devcontainer/docker-compose.yml', 'utf-8') as string).services;
    const flags = (service: Record<string, unknown>): RunFlags => [
      ...(service.read_only ? ['--read-only'] : []),
      ...((service.cap_drop as string[]) ?? []).flatMap((cap) => ['--cap-drop', cap]),
      ...((service.security_opt as string[]) ?? []).flatMap((option) => ['--security-opt', option]),
      ...(service.mem_limit ? ['--memory', String(service.mem_limit)] : []),
      ...(service.pids_limit ? ['--pids-limit', String(service.pids_limit)] : []),
      ...(service.cpus ? ['--cpus', String(service.cpus)] : []),
    ];
    return { proxy: flags(services['docker-proxy']), forwarder: flags(services['localhost-proxy']), egress: flags(services['egress-proxy']) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Helper {
  name: string;
  /** DOCKER_HOST for a proxy; undefined for a forwarder. */
  host?: string;
  stop(): void;
}

/** The folder the proxies' sockets live in; every helper's user may create its socket there. */
export function socketFolder(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-bench-sockets-'));
  chmodSync(dir, 0o777);
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

let started = 0;

/** `entrypoint` and `command` replace the image's; without them the image runs as built. */
export function startContainer(kind: string, flags: string[], image: string, entrypoint?: string, command: string[] = []): Helper {
  const name = `devsec-bench-${kind}-${RUN}-${started++}`;
  const override = entrypoint ? ['--entrypoint', entrypoint] : [];
  // No healthcheck: its second process every 5 s is not the helper's idle memory.
  dockerOk(['run', '-d', '--name', name, '--label', `org.devsec.bench=${RUN}`, '--no-healthcheck', ...flags, ...override, image, ...command]);
  return { name, stop: () => void docker(['rm', '-f', name]) };
}

/** Node flags before the bin, or the image's own entrypoint when there are none. */
const nodeCommand = (nodeArgs: string[] | undefined): [string | undefined, string[]] => (nodeArgs ? ['node', [...nodeArgs, PROXY_BIN]] : [undefined, []]);

/** The engine's socket and its group as the engine's containers see them (the product's own discovery, never this filesystem). */
const engine = () => discoverEngine(DEFAULT_BASE_IMAGE);

export async function waitFor(what: string, ready: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`bench: ${what} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** What both proxies get: no network, the engine's socket read-only with its group, the socket folder. */
const socketProxyFlags = (runFlags: RunFlags, sockets: string): RunFlags => [
  ...runFlags,
  '--network',
  'none',
  '--group-add',
  String(engine().access.group),
  '-v',
  `${engine().socket}:${PROXY_SOCKET_TARGET}:ro`,
  '-v',
  `${sockets}:/run/bench`,
];

/** Our proxy in its container; `nodeArgs` are Node or V8 flags put before the bin (none: the image's own entrypoint); `env` more of its settings. */
export async function startOurProxy(runFlags: RunFlags, sockets: string, nodeArgs?: string[], env: string[] = []): Promise<Helper> {
  const socket = `proxy-${started}.sock`;
  const flags = [
    ...socketProxyFlags(runFlags, sockets),
    ...[
      'CONTAINERS=1',
      'IMAGES=1',
      'INFO=1',
      'NETWORKS=1',
      'VOLUMES=1',
      `SCOPE_LABEL=${SCOPE}`,
      'LOG_LEVEL=info',
      `LISTEN=unix:///run/bench/${socket}`,
      ...env,
    ].flatMap((e) => ['-e', e]),
  ];
  const helper = startContainer('proxy', flags, PROXY_IMAGE, ...nodeCommand(nodeArgs));
  const host = `unix://${join(sockets, socket)}`;
  await waitFor(helper.name, () => existsSync(join(sockets, socket)) && docker(['version'], { DOCKER_HOST: host }).status === 0);
  return { ...helper, host };
}

/** Our forwarder in its container: one port, as the generator's default, with nothing behind it. */
export async function startOurForwarder(runFlags: RunFlags, nodeArgs?: string[]): Promise<Helper> {
  const flags = [...runFlags, '--network', 'none', '-e', 'FORWARD=3000:127.0.0.1:3001', '-e', 'FORWARD_BIND=127.0.0.1'];
  const helper = startContainer('forwarder', flags, PROXY_IMAGE, ...nodeCommand(nodeArgs));
  await waitFor(helper.name, () => docker(['logs', helper.name]).stdout.includes('"msg":"forwarding"'));
  return helper;
}

/** Node itself in the same image and container, running nothing: the floor of any Node helper. */
export async function startBareNode(runFlags: RunFlags): Promise<Helper> {
  const helper = startContainer('node', [...runFlags, '--network', 'none'], PROXY_IMAGE, 'node', ['-e', 'setInterval(() => {}, 1 << 30)']);
  await waitFor(helper.name, () => pidsOf(helper.name).length > 0);
  return helper;
}

/** HAProxy with the recipe's section switches, as the haproxy user, in the proxy's settings. */
export async function startHaproxy(runFlags: RunFlags, sockets: string): Promise<Helper> {
  const socket = `haproxy-${started}.sock`;
  const flags = [...socketProxyFlags(runFlags, sockets), '--user', 'haproxy', '-e', `BIND_SOCKET=/run/bench/${socket}`];
  const helper = startContainer('haproxy', flags, RECIPE_IMAGE, 'haproxy', ['-f', '/etc/haproxy/bench.cfg', '-db']);
  const host = `unix://${join(sockets, socket)}`;
  await waitFor(helper.name, () => existsSync(join(sockets, socket)) && docker(['version'], { DOCKER_HOST: host }).status === 0);
  return { ...helper, host };
}

/** socat forwarding one port, as the recipe's sidecar does for each of its ports. */
export async function startSocat(runFlags: RunFlags): Promise<Helper> {
  const flags = [...runFlags, '--network', 'none', '--user', 'nobody'];
  const helper = startContainer('socat', flags, RECIPE_IMAGE, 'socat', ['TCP-LISTEN:3000,fork,reuseaddr', 'TCP:127.0.0.1:3001']);
  await waitFor(helper.name, () => pidsOf(helper.name).length > 0);
  return helper;
}

/** Host pids of a container's processes. */
export function pidsOf(name: string): number[] {
  return dockerOk(['top', name, '-eo', 'pid'])
    .split('\n')
    .slice(1)
    .map(Number)
    .filter((pid) => pid > 0);
}

/** kB, summed over a container's processes: resident, proportional, anonymous, file-backed; and threads. */
export interface Memory {
  rss: number;
  pss: number;
  anon: number;
  file: number;
  threads: number;
}

export function memoryOf(name: string): Memory {
  const total: Memory = { rss: 0, pss: 0, anon: 0, file: 0, threads: 0 };
  for (const pid of pidsOf(name)) {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf-8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf-8');
    const kb = (text: string, key: string) => Number((new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text) ?? [])[1] ?? 0);
    total.rss += kb(rollup, 'Rss');
    total.pss += kb(rollup, 'Pss');
    total.anon += kb(rollup, 'Anonymous');
    total.file += kb(status, 'RssFile');
    total.threads += kb(status, 'Threads');
  }
  return total;
}

export const sumMemory = (...all: Memory[]): Memory =>
  all.reduce((sum, m) => ({ rss: sum.rss + m.rss, pss: sum.pss + m.pss, anon: sum.anon + m.anon, file: sum.file + m.file, threads: sum.threads + m.threads }));
