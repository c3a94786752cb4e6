/**
 * Every supported Nx major, the way users get the plugin: for each, a workspace made as that
 * major makes one, its npm pointed at a local registry by the workspace's own .npmrc (Verdaccio,
 * npmjs behind it, our packed tarballs published to it), then `nx add @org/devsec` by name with
 * no --force and no --legacy-peer-deps. Asserted on each: one @nx/devkit in the tree (the
 * workspace's own, not a second one of ours; added by nx add where `nx init` made the workspace
 * with none), the secure-devcontainer generator, the inferred
 * targets in `nx show project --json`, `nx sync` / `nx sync:check`, and the migrations run by
 * `nx migrate --run-migrations`.
 *
 * On the newest major only, on the real engine: `nx run app:up-worktree`, the workspace's Nx
 * inside, and down-worktree leaving nothing (the whole journey runs in
 * secure-devcontainer.e2e.spec.ts). The majors are made side by side (child processes); npm
 * installs dominate the time.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { docker, dockerOk, describeWithDocker } from '../../../tools/testing/docker';
import { exec, execOk, ExecResult, LocalRegistry, startLocalRegistry, withoutRegistryOverride } from './registry';
import { CHECKOUT_UID, PLUGIN_TARBALL, PROXY_TARBALL } from './workspace';

jest.setTimeout(900_000);

/**
 * The newest patch of each supported Nx major: a new major is one line here (and the peer range
 * in packages/devsec/package.json). `create` is how that release makes a workspace: with its own
 * create-nx-workspace where the registry has one of that version, else `nx init` in an empty
 * package (how Nx is added to an existing repository; create-nx-workspace has no 23.3 or 24 release).
 */
const NX_MAJORS: ReadonlyArray<{ nx: string; create: 'create-nx-workspace' | 'nx-init' }> = [
  { nx: '21.6.11', create: 'create-nx-workspace' },
  { nx: '22.7.12', create: 'create-nx-workspace' },
  { nx: '23.3.2', create: 'nx-init' },
  { nx: '24.0.7', create: 'nx-init' },
];

/** The major whose sandbox is started (up-worktree, nx inside, down-worktree): the newest. */
const UP_MAJOR = NX_MAJORS[NX_MAJORS.length - 1].nx;

const INFERRED_TARGETS = ['up-worktree', 'down-worktree', 'audit', 'audit-live'];

interface MajorRun {
  nx: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  timings: Record<string, number>;
  /** The checks' commands, run side by side with the other majors' and asserted by the tests. */
  checks: Record<'show' | 'sync' | 'syncCheck' | 'migrate', ExecResult | undefined>;
  /** The plugin's migrations, as run by nx migrate. */
  migrations: string[];
  /** The first step that failed, with its output; the tests name it. */
  error?: Error;
}

let registry: LocalRegistry | undefined;
const parent = mkdtempSync(join(tmpdir(), 'devsec-nx-majors-'));
/** This suite's own shared network (the generator's default, dev, is every suite's). */
const NETWORK = `devsec-nxm-${Math.random().toString(36).slice(2, 8)}`;
const runs = new Map<string, MajorRun>();

async function prepareMajor({ nx, create }: (typeof NX_MAJORS)[number], url: string): Promise<MajorRun> {
  const base = join(parent, `nx${nx}`);
  mkdirSync(base, { recursive: true });
  const dir = join(base, 'ws');
  const gitConfig = join(base, 'gitconfig');
  // safe.directory: the checkout of the major that is started is handed to uid 1000, and git runs as root.
  writeFileSync(gitConfig, '[safe]\n\tdirectory = *\n[user]\n\tname = devsec e2e\n\temail = e2e@devsec.invalid\n[init]\n\tdefaultBranch = main\n');
  const env: NodeJS.ProcessEnv = {
    ...withoutRegistryOverride(process.env),
    GIT_CONFIG_GLOBAL: gitConfig,
    // The host user's state directory of this workspace (private git dirs of its sandboxes).
    XDG_STATE_HOME: join(base, 'state'),
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_INTERACTIVE: 'false',
    NX_SKIP_NX_CACHE: 'true',
  };
  const run: MajorRun = { nx, dir, env, timings: {}, checks: { show: undefined, sync: undefined, syncCheck: undefined, migrate: undefined }, migrations: [] };
  const step = async (name: string, command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => {
    const result = await execOk(command, args, { cwd: options.cwd ?? dir, env: options.env ?? env, timeout: 600_000 });
    run.timings[name] = (run.timings[name] ?? 0) + result.ms;
  };
  try {
    // Made through the local registry too: nx and its plugins come through Verdaccio's uplink.
    const creating = { ...env, npm_config_registry: url };
    if (create === 'create-nx-workspace') {
      const args = ['-y', `create-nx-workspace@${nx}`, 'ws', '--preset=apps', '--nxCloud=skip', '--no-interactive'];
      await step('create', 'npx', args, { cwd: base, env: creating });
    } else {
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'ws', version: '0.0.0', private: true }, null, 2) + '\n');
      await step('create', 'git', ['init', '-q']);
      await step('create', 'npx', ['-y', `nx@${nx}`, 'init', '--interactive=false'], { env: creating });
      writeFileSync(join(dir, '.gitignore'), 'node_modules\n.nx/cache\n.nx/workspace-data\n');
      // nx init installs nx alone, no @nx/devkit: nx add @org/devsec adds the workspace's own (asserted below).
    }
    // From here on the workspace's own .npmrc points npm at the registry, as a team's does at its mirror.
    writeFileSync(join(dir, '.npmrc'), `registry=${url}\n`);
    mkdirSync(join(dir, 'apps/app'), { recursive: true });
    writeFileSync(join(dir, 'apps/app/project.json'), JSON.stringify({ name: 'app', root: 'apps/app', projectType: 'application', targets: {} }, null, 2));
    await step('commit', 'git', ['add', '-A']);
    await step('commit', 'git', ['commit', '-q', '-m', `Nx ${nx} workspace with app`]);
    await step('add', 'npx', ['nx', 'add', '@org/devsec']);
    await step('generate', 'npx', ['nx', 'g', '@org/devsec:secure-devcontainer', '--project=app', `--network=${NETWORK}`, '--no-interactive']);
    const check = async (name: keyof MajorRun['checks'], args: string[], extra: NodeJS.ProcessEnv = {}) => {
      const result = await exec('npx', ['nx', ...args], { cwd: dir, env: { ...env, ...extra }, timeout: 300_000 });
      run.checks[name] = result;
      run.timings.checks = (run.timings.checks ?? 0) + result.ms;
    };
    await check('show', ['show', 'project', 'app', '--json']);
    await check('sync', ['sync']);
    await check('syncCheck', ['sync:check']);
    const migrations = JSON.parse(readFileSync(join(dir, 'node_modules/@org/devsec/migrations.json'), 'utf-8')).generators as Record<
      string,
      { version: string }
    >;
    run.migrations = Object.keys(migrations);
    const file = join(dir, 'migrations.json');
    writeFileSync(file, JSON.stringify({ migrations: Object.entries(migrations).map(([name, { version }]) => ({ package: '@org/devsec', name, version })) }));
    // nx migrate checks the provenance of nx@latest on npmjs' attestation API, which a local
    // registry (or a company's mirror) does not serve: that check is about nx, not about us.
    await check('migrate', ['migrate', '--run-migrations=migrations.json'], { NX_SKIP_PROVENANCE_CHECK: 'true' });
    rmSync(file);
  } catch (error) {
    run.error = error as Error;
  }
  return run;
}

/** Every @nx/devkit under node_modules, nested ones included. */
function devkitCopies(root: string): string[] {
  const found: string[] = [];
  const walk = (modules: string) => {
    if (!existsSync(modules)) return;
    for (const entry of readdirSync(modules, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const names = entry.name.startsWith('@') ? readdirSync(join(modules, entry.name)).map((name) => `${entry.name}/${name}`) : [entry.name];
      for (const name of names) {
        const pkg = join(modules, name);
        if (name === '@nx/devkit') found.push(`${pkg}@${JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf-8')).version}`);
        walk(join(pkg, 'node_modules'));
      }
    }
  };
  walk(join(root, 'node_modules'));
  return found;
}

beforeAll(async () => {
  for (const tarball of [PLUGIN_TARBALL, PROXY_TARBALL]) {
    if (!existsSync(tarball)) throw new Error(`${tarball} is missing: run \`node scripts/build-packages.js --pack\` (npm test does).`);
  }
  registry = await startLocalRegistry();
  const url = registry.url;
  for (const run of await Promise.all(NX_MAJORS.map((major) => prepareMajor(major, url)))) runs.set(run.nx, run);
});

afterAll(async () => {
  const lines = [...runs.values()].map(
    (run) =>
      `  nx ${run.nx}: ${Object.entries(run.timings)
        .map(([name, ms]) => `${name} ${(ms / 1000).toFixed(1)}s`)
        .join(', ')}`,
  );
  if (registry) console.log(`Verdaccio answered after ${(registry.startMs / 1000).toFixed(1)}s\n${lines.join('\n')}`);
  await registry?.stop();
  rmSync(parent, { recursive: true, force: true });
});

describe.each(NX_MAJORS.map(({ nx }) => nx))('@org/devsec in an Nx %s workspace, installed by name from a registry', (nx) => {
  const ws = () => {
    const run = runs.get(nx);
    if (!run) throw new Error(`no workspace for Nx ${nx}`);
    if (run.error) throw run.error;
    return run;
  };
  /** A check's command: it ran, and exited 0. */
  const checked = (name: keyof MajorRun['checks']): ExecResult => {
    const result = ws().checks[name];
    if (!result) throw new Error(`nx ${name} did not run`);
    if (result.status !== 0) throw new Error(`nx ${name} failed (${result.status}):\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
    return result;
  };

  it(`is an Nx ${nx} workspace that took @org/devsec with nx add, from the registry`, () => {
    const { dir } = ws();
    expect(JSON.parse(readFileSync(join(dir, 'node_modules/nx/package.json'), 'utf-8')).version).toBe(nx);
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf-8'));
    const declared = { ...manifest.dependencies, ...manifest.devDependencies };
    // By name: a version from the registry, not a file: or a tarball path.
    expect(declared['@org/devsec']).toMatch(/^[\^~]?\d+\.\d+\.\d+$/);
    expect(declared['@org/devsec-socket-proxy']).toMatch(/^[\^~]?\d+\.\d+\.\d+$/);
    // What was installed is what we published: the packed tarballs, byte for byte.
    const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf-8'));
    for (const [pkg, tarball] of [
      ['@org/devsec', PLUGIN_TARBALL],
      ['@org/devsec-socket-proxy', PROXY_TARBALL],
    ]) {
      const entry = lock.packages[`node_modules/${pkg}`];
      expect(entry.integrity).toBe(`sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`);
      expect(entry.resolved ?? '').not.toMatch(/^file:/);
    }
    expect(readFileSync(join(dir, 'nx.json'), 'utf-8')).toContain('"@org/devsec"');
  });

  it('has exactly one @nx/devkit in the tree, of a major the plugin supports', () => {
    const copies = devkitCopies(ws().dir);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatch(/\/node_modules\/@nx\/devkit@2[1-4]\.\d+\.\d+$/);
  });

  if (NX_MAJORS.find((major) => major.nx === nx)?.create === 'nx-init') {
    it("made by nx init alone (no @nx/devkit), got @nx/devkit of the workspace's nx major from nx add", () => {
      const manifest = JSON.parse(readFileSync(join(ws().dir, 'package.json'), 'utf-8'));
      const major = nx.split('.')[0];
      expect(manifest.devDependencies['@nx/devkit']).toBe(`^${major}.0.0`);
      expect(devkitCopies(ws().dir)).toEqual([expect.stringMatching(new RegExp(`^${join(ws().dir, 'node_modules/@nx/devkit')}@${major}\\.\\d+\\.\\d+$`))]);
    });
  }

  it('lists the inferred targets of the generated sandbox in nx show project --json', () => {
    expect(existsSync(join(ws().dir, 'apps/app/.devcontainer/docker-compose.yml'))).toBe(true);
    const project = JSON.parse(checked('show').stdout);
    expect(Object.keys(project.targets)).toEqual(expect.arrayContaining(INFERRED_TARGETS));
    expect(project.targets['up-worktree'].executor).toBe('@org/devsec:up-worktree');
  });

  it('runs the sync generator: nx sync, then nx sync:check passes', () => {
    expect(JSON.parse(readFileSync(join(ws().dir, 'nx.json'), 'utf-8')).sync.globalGenerators).toContain('@org/devsec:sync');
    checked('sync');
    checked('syncCheck');
  });

  it("runs the plugin's migrations with nx migrate --run-migrations", () => {
    const result = checked('migrate');
    expect(ws().migrations.length).toBeGreaterThan(0);
    for (const name of ws().migrations) expect(result.stdout).toContain(name);
    expect(result.stdout + result.stderr).not.toMatch(/failed|error/i);
  });
});

/**
 * The newest major on the real engine: the sandbox its workspace generated, started with
 * `nx run app:up-worktree` from the checkout (handed to uid 1000, as on a developer's machine),
 * the workspace's Nx answering inside as the agent runs it, and down-worktree taking all of it away.
 */
describeWithDocker(`@org/devsec's sandbox in the Nx ${UP_MAJOR} workspace, on a real engine`, () => {
  let project = '';
  let up: ExecResult | undefined;
  let down: ExecResult | undefined;
  const nxIn = (args: string[]) => {
    const run = runs.get(UP_MAJOR);
    if (!run) throw new Error(`no workspace for Nx ${UP_MAJOR}`);
    if (run.error) throw run.error;
    const env = { ...run.env };
    delete env.DOCKER_HOST;
    return exec('npx', ['nx', ...args], { cwd: run.dir, env, timeout: 300_000 });
  };
  const inside = (script: string) =>
    docker(['exec', '-u', 'node', '-e', 'NX_DAEMON=false', '-w', runs.get(UP_MAJOR)!.dir, `${project}-app-1`, 'bash', '-lc', script], { timeout: 180_000 });

  beforeAll(async () => {
    const run = runs.get(UP_MAJOR);
    if (!run || run.error) return;
    await execOk('chown', ['-R', `${CHECKOUT_UID}:${CHECKOUT_UID}`, run.dir], { cwd: run.dir, env: run.env });
    up = await nxIn(['run', 'app:up-worktree']);
    run.timings['up-worktree'] = up.ms;
    project = /COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(run.dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1] ?? '';
  });

  afterAll(async () => {
    // Whatever a failed test left: the stack, then this suite's own shared network.
    if (project && down?.status !== 0) await nxIn(['run', 'app:down-worktree', '--volumes', '--images']);
    if (docker(['network', 'inspect', NETWORK]).status === 0) dockerOk(['network', 'rm', NETWORK]);
  });

  it('starts with nx run app:up-worktree', () => {
    if (!up) throw new Error(`the Nx ${UP_MAJOR} workspace was not made`);
    if (up.status !== 0) throw new Error(`up-worktree failed (${up.status}):\n${up.stdout.slice(-4000)}\n${up.stderr.slice(-4000)}`);
    expect(up.stdout).toMatch(/docker exec -it \S+-app-1 bash/);
    expect(project).toMatch(/\S/);
  });

  it(`runs the workspace's Nx ${UP_MAJOR} inside, as the agent: nx --version and nx show projects`, () => {
    const version = inside('npx nx --version');
    expect({ status: version.status, local: /Local: (v\S+)/.exec(version.stdout)?.[1] }).toEqual({ status: 0, local: `v${UP_MAJOR}` });
    const projects = inside('npx nx show projects --json');
    expect(projects.status).toBe(0);
    expect(JSON.parse(projects.stdout)).toContain('app');
  });

  it('down-worktree --volumes --images leaves nothing of the stack behind', async () => {
    down = await nxIn(['run', 'app:down-worktree', '--volumes', '--images']);
    if (down.status !== 0) throw new Error(`down-worktree failed (${down.status}):\n${down.stdout.slice(-4000)}\n${down.stderr.slice(-4000)}`);
    const filter = ['--filter', `label=com.docker.compose.project=${project}`];
    expect(dockerOk(['ps', '-aq', ...filter]).trim()).toBe('');
    expect(dockerOk(['network', 'ls', '-q', ...filter]).trim()).toBe('');
    expect(dockerOk(['volume', 'ls', '-q', ...filter]).trim()).toBe('');
    expect(dockerOk(['images', '-q', `${project}-*`]).trim()).toBe('');
  });
});
