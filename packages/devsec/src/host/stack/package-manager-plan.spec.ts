import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { runCommand, Runner } from '../engine/run';
import { planPackageManager } from './package-manager-plan';

describe('planPackageManager', () => {
  let root: string;
  let ws: string;
  let env: NodeJS.ProcessEnv;
  let packs: string[][];
  /** `npm pack` as the registry would answer it: a tarball with the release's entry file; tar is the real one. */
  const fakeNpm =
    (content = 'console.log("pm")'): Runner =>
    (command, args, options) => {
      if (command !== 'npm') return runCommand(command, args, options);
      packs.push(args);
      const destination = args[args.indexOf('--pack-destination') + 1];
      const source = join(destination, 'src');
      mkdirSync(join(source, 'package', 'bin'), { recursive: true });
      for (const file of ['pnpm.cjs', 'pnpx.cjs', 'yarn.js']) writeFileSync(join(source, 'package', 'bin', file), content);
      runCommand('tar', ['-czf', join(destination, 'release.tgz'), '-C', source, 'package'], { env: { PATH: process.env.PATH } });
      rmSync(source, { recursive: true });
      return { status: 0, stdout: '[]', stderr: '' };
    };

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-pm-plan-'));
    ws = join(root, 'ws');
    mkdirSync(join(ws, 'node_modules'), { recursive: true });
    env = { HOME: join(root, 'home'), XDG_STATE_HOME: join(root, 'state') };
    packs = [];
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const pnpmWorkspace = (packageManager = 'pnpm@10.26.0') => {
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w', packageManager }));
    writeFileSync(join(ws, 'pnpm-lock.yaml'), "lockfileVersion: '9.0'\n");
    const store = join(root, 'host-store', 'v10');
    mkdirSync(join(store, 'files'), { recursive: true });
    writeFileSync(join(ws, 'node_modules', '.modules.yaml'), `layoutVersion: 5\nstoreDir: ${store}\nvirtualStoreDir: .pnpm\nnodeLinker: isolated\n`);
    return store;
  };

  it('pnpm: fetches the exact release once (scripts off), mounts it and the host store read-only, and names the store inside in a copy of .modules.yaml', () => {
    const store = pnpmWorkspace();
    const stackState = join(root, 'stack');
    mkdirSync(stackState);
    const plan = planPackageManager(ws, stackState, { run: fakeNpm(), env });
    expect(packs).toEqual([['pack', '--ignore-scripts', '--json', '--pack-destination', expect.any(String), 'pnpm@10.26.0']]);
    const release = join(root, 'state', 'devsec', 'package-managers', 'pnpm-10.26.0');
    expect(plan.mounts).toEqual([
      { source: release, target: '/devsec/package-manager', readOnly: true },
      { source: store, target: '/devsec/.pnpm-store/v10', readOnly: true },
      { source: join(stackState, 'pnpm-modules.yaml'), target: '/devsec/pnpm-modules.yaml', readOnly: true },
    ]);
    expect(plan.environment).toEqual({
      DEVSEC_PACKAGE_MANAGER: 'pnpm',
      PATH: '/devsec/package-manager/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      npm_config_store_dir: join(ws, 'node_modules', '.pnpm-store'),
    });
    expect(readFileSync(join(release, 'bin', 'pnpm'), 'utf-8')).toBe('#!/bin/sh\nexec node /devsec/package-manager/package/bin/pnpm.cjs "$@"\n');
    // Readable by the container's user, writable only by the host user.
    expect((statSync(join(release, 'package', 'bin', 'pnpm.cjs')).mode & 0o777).toString(8)).toBe('644');
    const modules = parse(readFileSync(join(stackState, 'pnpm-modules.yaml'), 'utf-8'));
    expect(modules).toEqual({ layoutVersion: 5, storeDir: join(ws, 'node_modules', '.pnpm-store', 'v10'), virtualStoreDir: '.pnpm', nodeLinker: 'isolated' });
    // The host's own .modules.yaml is untouched.
    expect(readFileSync(join(ws, 'node_modules', '.modules.yaml'), 'utf-8')).toMatch(`storeDir: ${store}`);

    planPackageManager(ws, stackState, { run: fakeNpm(), env });
    expect(packs).toHaveLength(1);
  });

  it("checks the packageManager field's hash: a release whose bytes differ is refused and nothing is kept", () => {
    const wrong = createHash('sha512').update('another release').digest('hex');
    pnpmWorkspace(`pnpm@10.26.0+sha512.${wrong}`);
    expect(() => planPackageManager(ws, root, { run: fakeNpm(), env })).toThrow(/does not match the sha512 hash .* refused/);
    const right = createHash('sha512').update('console.log("pm")').digest('hex');
    pnpmWorkspace(`pnpm@10.26.0+sha512.${right}`);
    expect(planPackageManager(ws, root, { run: fakeNpm(), env }).mounts[0].target).toBe('/devsec/package-manager');
  });

  it('mounts as a pnpm store only a folder pnpm made (`v<N>` with its files), whatever .modules.yaml names', () => {
    pnpmWorkspace();
    const home = join(root, 'home');
    mkdirSync(join(home, 'files'), { recursive: true });
    writeFileSync(join(ws, 'node_modules', '.modules.yaml'), `layoutVersion: 5\nstoreDir: ${home}\n`);
    expect(planPackageManager(ws, root, { run: fakeNpm(), env }).mounts.map((mount) => mount.target)).toEqual(['/devsec/package-manager']);
  });

  it('outside a start nothing is fetched: a release not at hand is simply not mounted', () => {
    pnpmWorkspace();
    const plan = planPackageManager(ws, root, { run: fakeNpm(), env, fetch: false });
    expect(packs).toEqual([]);
    expect(plan.mounts.map((mount) => mount.target)).toEqual(['/devsec/.pnpm-store/v10', '/devsec/pnpm-modules.yaml']);
  });

  it("Yarn Berry: the global cache from the host's environment only, never a folder the workspace's .yarnrc.yml names", () => {
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w', packageManager: 'yarn@4.12.0' }));
    writeFileSync(join(ws, 'yarn.lock'), '__metadata:\n  version: 8\n');
    const secret = join(root, 'home', '.ssh');
    mkdirSync(secret, { recursive: true });
    writeFileSync(join(ws, '.yarnrc.yml'), `nodeLinker: node-modules\ncacheFolder: ${secret}\nglobalFolder: ${secret}\n`);
    const global = join(root, 'yarn-global');
    mkdirSync(join(global, 'cache'), { recursive: true });
    const plan = planPackageManager(ws, root, { run: fakeNpm(), env: { ...env, YARN_GLOBAL_FOLDER: global } });
    expect(packs[0].at(-1)).toBe('@yarnpkg/cli-dist@4.12.0');
    expect(plan.mounts.slice(1)).toEqual([{ source: join(global, 'cache'), target: '/devsec/.yarn-global/cache', readOnly: true }]);
    expect(JSON.stringify(plan)).not.toContain(secret);
    expect(plan.environment).toMatchObject({
      DEVSEC_PACKAGE_MANAGER: 'yarn',
      YARN_GLOBAL_FOLDER: join(ws, 'node_modules', '.yarn-global'),
      YARN_INSTALL_STATE_PATH: join(ws, 'node_modules', '.yarn-install-state.gz'),
    });
  });

  it("Yarn 1: the host's cache read-only, and only the entries yarn.lock names listed for the fill; the cache from the host's environment only", () => {
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w', packageManager: 'yarn@1.22.22' }));
    const hash = (n: number) => String(n).repeat(40).slice(0, 40);
    writeFileSync(
      join(ws, 'yarn.lock'),
      '# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n' +
        `is-number@7.0.0:\n  version "7.0.0"\n  resolved "https://registry.yarnpkg.com/is-number/-/is-number-7.0.0.tgz#${hash(1)}"\n\n` +
        `"@scope/left-pad@^1.3.0":\n  version "1.3.0"\n  resolved "https://registry.yarnpkg.com/@scope/left-pad/-/left-pad-1.3.0.tgz#${hash(2)}"\n`,
    );
    // The workspace's .yarnrc (the agent's to write) naming another folder is never read.
    writeFileSync(join(ws, '.yarnrc'), `cache-folder "${join(root, 'home', '.ssh')}"\n`);
    const cache = join(root, 'home', '.cache', 'yarn', 'v6');
    const wanted = [`npm-is-number-7.0.0-${hash(1)}-integrity`, `npm-@scope-left-pad-1.3.0-${hash(2)}-integrity`];
    for (const name of [...wanted, `npm-other-project-2.0.0-${hash(3)}-integrity`, '.tmp']) mkdirSync(join(cache, name), { recursive: true });
    const stackState = join(root, 'stack');
    mkdirSync(stackState);
    const plan = planPackageManager(ws, stackState, { run: fakeNpm(), env });
    expect(packs[0].at(-1)).toBe('yarn@1.22.22');
    expect(plan.mounts.slice(1)).toEqual([
      { source: cache, target: '/devsec/.yarn1-cache', readOnly: true },
      { source: join(stackState, 'yarn1-cache-entries'), target: '/devsec/yarn1-cache-entries', readOnly: true },
    ]);
    expect(readFileSync(join(stackState, 'yarn1-cache-entries'), 'utf-8').trim().split('\n').sort()).toEqual([...wanted].sort());
    expect(plan.environment).toMatchObject({ DEVSEC_PACKAGE_MANAGER: 'yarn1', YARN_CACHE_FOLDER: join(ws, 'node_modules', '.yarn1-cache') });
    expect(JSON.stringify(plan)).not.toContain('.ssh');
    // YARN_CACHE_FOLDER in the host's environment wins, as Yarn 1 reads it.
    const elsewhere = join(root, 'ci-cache');
    mkdirSync(join(elsewhere, 'v6', wanted[0]), { recursive: true });
    expect(planPackageManager(ws, stackState, { run: fakeNpm(), env: { ...env, YARN_CACHE_FOLDER: elsewhere } }).mounts[1].source).toBe(join(elsewhere, 'v6'));
  });

  it("Yarn 1 without a pinned version: known by its lockfile, the image's yarn, no cache mounted when the host has none", () => {
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w' }));
    writeFileSync(join(ws, 'yarn.lock'), '# yarn lockfile v1\n\n');
    const said: string[] = [];
    const plan = planPackageManager(ws, root, { run: fakeNpm(), env, say: (line) => said.push(line) });
    expect(plan.mounts).toEqual([]);
    expect(plan.packageManager).toMatchObject({ name: 'yarn', classic: true });
    expect(plan.environment.DEVSEC_PACKAGE_MANAGER).toBe('yarn1');
    expect(said.join('\n')).toContain('"packageManager": "yarn@<version>"');
  });

  it("refuses Yarn Plug'n'Play, and reads no workspace file through a symlink", () => {
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w', packageManager: 'yarn@4.12.0' }));
    writeFileSync(join(ws, 'yarn.lock'), '');
    writeFileSync(join(ws, '.yarnrc.yml'), 'nodeLinker: pnp\n');
    expect(() => planPackageManager(ws, root, { run: fakeNpm(), env })).toThrow(/nodeLinker: pnp.*nodeLinker: node-modules/s);
    // A .yarnrc.yml that is a link counts as absent (Plug'n'Play by default): still refused, and the target never read.
    rmSync(join(ws, '.yarnrc.yml'));
    writeFileSync(join(root, 'elsewhere.yml'), 'nodeLinker: node-modules\n');
    symlinkSync(join(root, 'elsewhere.yml'), join(ws, '.yarnrc.yml'));
    expect(() => planPackageManager(ws, root, { run: fakeNpm(), env })).toThrow(/no \.yarnrc\.yml: Yarn 2\+ defaults to Plug'n'Play/);
    expect(packs).toEqual([]);
  });

  describe('red team: what the agent writes, as the host reads it', () => {
    const yarn1Workspace = (lock: string) => {
      writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w', packageManager: 'yarn@1.22.22' }));
      writeFileSync(join(ws, 'yarn.lock'), lock);
      mkdirSync(join(root, 'home', '.cache', 'yarn', 'v6', `npm-a-1.0.0-${'1'.repeat(40)}-integrity`), { recursive: true });
    };
    const timed = (action: () => unknown) => {
      const started = Date.now();
      let outcome: unknown;
      try {
        outcome = action();
      } catch (error) {
        outcome = error;
      }
      return { outcome, seconds: (Date.now() - started) / 1000 };
    };

    it.each([
      // @yarnpkg/lockfile splits a conflicted lockfile with Array#shift, line by line: quadratic (0.6 MB took 19 s, 10 MB hours).
      ['merge-conflict markers around 300,000 lines', `# yarn lockfile v1\n\n<<<<<<< ours\n${'x\n'.repeat(300_000)}=======\n>>>>>>> theirs\n`],
      // A comment or a string running to the end of the file: the tokenizer appends `undefined` until the string is too long (2 GB, 8 s).
      ['a last line that is a comment without a newline', '# yarn lockfile v1\n\n#x'],
      ['a string that is never closed', '# yarn lockfile v1\n\n"a@1":\n  version "1'],
    ])('a yarn.lock with %s is refused in seconds, naming yarn.lock, with little memory', (_what, lock) => {
      yarn1Workspace(lock);
      const { outcome, seconds } = timed(() => planPackageManager(ws, root, { run: fakeNpm(), env }));
      expect(seconds).toBeLessThan(6);
      expect(String(outcome)).toMatch(/yarn\.lock/);
      expect(process.memoryUsage().rss).toBeLessThan(1.5 * 1024 ** 3);
    });

    it("a large monorepo's yarn.lock (100,000 entries, 10 MB) is still read within the bounds", () => {
      const entries = Array.from(
        { length: 100_000 },
        (_, n) => `"p${n}@^1.0.0":\n  version "1.0.0"\n  resolved "https://r.example/p${n}.tgz#${String(n).padStart(40, 'a')}"\n`,
      );
      yarn1Workspace(`# yarn lockfile v1\n\n${entries.join('\n')}`);
      const wanted = `npm-p99999-1.0.0-${String(99_999).padStart(40, 'a')}-integrity`;
      mkdirSync(join(root, 'home', '.cache', 'yarn', 'v6', wanted));
      const stackState = join(root, 'stack');
      mkdirSync(stackState);
      planPackageManager(ws, stackState, { run: fakeNpm(), env });
      expect(readFileSync(join(stackState, 'yarn1-cache-entries'), 'utf-8')).toBe(`${wanted}\n`);
    });

    it('a yarn.lock larger than the cap is refused before it is read', () => {
      yarn1Workspace('# yarn lockfile v1\n\n');
      // Sparse: a huge file costs the agent nothing to write.
      truncateSync(join(ws, 'yarn.lock'), 3 * 1024 ** 3);
      const { outcome, seconds } = timed(() => planPackageManager(ws, root, { run: fakeNpm(), env }));
      expect(seconds).toBeLessThan(3);
      expect(String(outcome)).toMatch(/yarn\.lock is larger than/);
    });

    it("TAR_OPTIONS (which a workspace .env gives the executor's process) runs nothing when the host unpacks a release", () => {
      pnpmWorkspace('pnpm@10.26.1');
      const marker = join(root, 'ran');
      const script = join(ws, 'tmp', 'x.sh');
      mkdirSync(join(ws, 'tmp'));
      writeFileSync(script, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
      const before = process.env.TAR_OPTIONS;
      process.env.TAR_OPTIONS = `--checkpoint=1 --checkpoint-action=exec=${script}`;
      try {
        planPackageManager(ws, root, { run: fakeNpm(), env: { ...env, TAR_OPTIONS: process.env.TAR_OPTIONS } });
      } finally {
        if (before === undefined) delete process.env.TAR_OPTIONS;
        else process.env.TAR_OPTIONS = before;
      }
      expect(existsSync(marker)).toBe(false);
      expect(existsSync(join(root, 'state', 'devsec', 'package-managers', 'pnpm-10.26.1', '.complete'))).toBe(true);
    });
  });

  it("npm: the image's own, nothing fetched or mounted", () => {
    writeFileSync(join(ws, 'package.json'), JSON.stringify({ name: 'w' }));
    writeFileSync(join(ws, 'package-lock.json'), '{}');
    expect(planPackageManager(ws, root, { run: fakeNpm(), env })).toEqual({
      packageManager: { name: 'npm', from: 'package-lock.json' },
      mounts: [],
      environment: { DEVSEC_PACKAGE_MANAGER: 'npm' },
    });
    expect(existsSync(join(root, 'state', 'devsec', 'package-managers'))).toBe(false);
  });
});
