/**
 * Two worktrees' stacks on one engine, as the plugin lays them out: each a compose project of
 * its own (a dev container, its proxy, and a service from the user's services file) on a
 * shared network, one "shared Postgres" labelled with the network's scope, and a container of
 * another repository on the same network. Each stack gets the real proxy binary with its
 * stack's scope. Everything is named after one run id and removed by `remove`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerOk, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { RunningProxy, stackProxyEnv, startProxy } from './proxy-process';

export const POSTGRES_IMAGE = 'postgres:17';

export interface Stack {
  project: string;
  /** SCOPE_LABEL of its proxy. */
  scope: string;
  /** Its containers' names, by service. */
  names: { app: string; proxy: string; web: string };
  proxy: RunningProxy;
}

export interface TwoStacks {
  run: string;
  network: string;
  a: Stack;
  b: Stack;
  postgres: string;
  /** Another repository's container on the same network. */
  other: string;
  /** Secrets planted where the proxy must redact them. */
  secrets: { env: string; logOption: string; volumeOption: string; mountOption: string };
  /** A volume created with a password among its driver options. */
  volume: string;
  /** A container of stack a, created (not started) with volume driver options on its mount. */
  mounted: string;
  mountVolume: string;
  /** Full ids by container name. */
  ids: Map<string, string>;
  remove: () => Promise<void>;
}

function stackFiles(dir: string, project: string, network: string, logOption: string): string[] {
  const labels = ['    labels:', '      org.devsec.managed: "true"', '      org.devsec.project: app'];
  const compose = [
    'services:',
    '  docker-proxy:',
    `    image: ${ROOTFS_IMAGE}`,
    '    command: ["sleep", "infinity"]',
    '    networks: [sandbox]',
    ...labels,
    '  app:',
    `    image: ${ROOTFS_IMAGE}`,
    `    command: ["bash", "-c", "echo hello-from-${project}; exec sleep infinity"]`,
    '    networks: [sandbox, shared]',
    '    logging:',
    '      driver: json-file',
    `      options: { max-size: 1m, tag: "${logOption}" }`,
    ...labels,
    'networks:',
    '  sandbox:',
    '    internal: true',
    '  shared:',
    `    name: ${network}`,
    '    external: true',
    '',
  ];
  // The user's own services file: compose labels its services with the project too.
  const services = ['services:', '  web:', `    image: ${ROOTFS_IMAGE}`, '    command: ["sleep", "infinity"]', '    networks: [sandbox]', ''];
  writeFileSync(join(dir, 'docker-compose.yml'), compose.join('\n'));
  writeFileSync(join(dir, 'docker-compose.services.yml'), services.join('\n'));
  return ['-f', join(dir, 'docker-compose.yml'), '-f', join(dir, 'docker-compose.services.yml'), '-p', project];
}

function sharedFile(dir: string, network: string, password: string): string[] {
  const shared = [
    'services:',
    '  postgres:',
    `    image: ${POSTGRES_IMAGE}`,
    '    environment:',
    `      POSTGRES_PASSWORD: ${password}`,
    '    networks: [shared]',
    '    labels:',
    '      org.devsec.managed: "true"',
    `      org.devsec.scope: ${network}`,
    'networks:',
    '  shared:',
    `    name: ${network}`,
    '    external: true',
    '',
  ];
  writeFileSync(join(dir, 'docker-compose.shared.yml'), shared.join('\n'));
  return ['-f', join(dir, 'docker-compose.shared.yml')];
}

async function waitFor(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startTwoStacks(): Promise<TwoStacks> {
  const run = randomBytes(4).toString('hex');
  const network = `devsec-scope-${run}`;
  const dir = mkdtempSync(join(tmpdir(), 'devsec-two-stacks-'));
  const token = (what: string) => `${what}-secret-${run}`;
  const secrets = { env: token('env'), logOption: token('log'), volumeOption: token('volume'), mountOption: token('mount') };
  const projects = { a: `devsec-scope-a-${run}`, b: `devsec-scope-b-${run}`, shared: `devsec-scope-shared-${run}` };
  const volume = `devsec-scope-volume-${run}`;
  const mountVolume = `devsec-scope-mount-${run}`;
  const mounted = `${projects.a}-mounted`;
  const other = `devsec-scope-other-${run}`;
  const composeArgs: string[][] = [];
  const proxies: RunningProxy[] = [];

  const remove = async () => {
    for (const proxy of proxies) await proxy.stop();
    docker(['rm', '-f', mounted, other]);
    for (const args of composeArgs) docker(['compose', ...args, 'down', '--volumes', '--timeout', '1']);
    docker(['volume', 'rm', '-f', volume, mountVolume]);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    dockerOk(['network', 'create', '--label', 'org.devsec.managed=true', network]);
    const sharedArgs = [...sharedFile(dir, network, secrets.env), '-p', projects.shared];
    composeArgs.push(sharedArgs);
    dockerOk(['compose', ...sharedArgs, 'up', '-d']);
    const startStack = (project: string): Omit<Stack, 'proxy'> => {
      const stackDir = join(dir, project);
      mkdirSync(stackDir);
      const args = stackFiles(stackDir, project, network, secrets.logOption);
      composeArgs.push(args);
      dockerOk(['compose', ...args, 'up', '-d']);
      return {
        project,
        scope: `com.docker.compose.project=${project},org.devsec.scope=${network}`,
        names: { app: `${project}-app-1`, proxy: `${project}-docker-proxy-1`, web: `${project}-web-1` },
      };
    };
    const stacks = { a: startStack(projects.a), b: startStack(projects.b) };
    dockerOk(['run', '-d', '--name', other, '--network', network, '--label', `com.docker.compose.project=${other}`, ROOTFS_IMAGE, 'sleep', 'infinity']);
    dockerOk([
      'volume',
      'create',
      '--driver',
      'local',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt',
      `o=size=1m,password=${secrets.volumeOption}`,
      volume,
    ]);
    const mountOptions = `type=volume,src=${mountVolume},dst=/data,volume-opt=type=tmpfs,volume-opt=device=tmpfs,"volume-opt=o=size=1m,password=${secrets.mountOption}"`;
    dockerOk(['create', '--name', mounted, '--label', `com.docker.compose.project=${projects.a}`, '--mount', mountOptions, ROOTFS_IMAGE, 'true']);
    const postgres = `${projects.shared}-postgres-1`;
    await waitFor('postgres to start', () => {
      const logs = docker(['logs', postgres]);
      return `${logs.stdout}${logs.stderr}`.includes('ready to accept connections');
    });
    const withProxy = async (stack: Omit<Stack, 'proxy'>): Promise<Stack> => {
      const proxy = await startProxy(stackProxyEnv(stack.scope, { LOG_LEVEL: 'error' }));
      proxies.push(proxy);
      return { ...stack, proxy };
    };
    const a = await withProxy(stacks.a);
    const b = await withProxy(stacks.b);
    const named = [a, b].flatMap((stack) => Object.values(stack.names)).concat(postgres, other, mounted);
    const ids = new Map(named.map((name) => [name, dockerOk(['inspect', '-f', '{{.Id}}', name]).trim()]));
    return { run, network, a, b, postgres, other, secrets, volume, mounted, mountVolume, ids, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}
