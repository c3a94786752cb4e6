import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stubRunner } from '../../testing/stub-runner';
import type { Runner } from '../engine/run';
import { checkCloneMounts, cloneFetchSource, seedCloneWorkspace, seedCloneWorkspaceOnce, workspaceModeOf } from './clone-workspace';

const identity = { workspaceRoot: '/home/u/repo', gitCommonDir: '/home/u/repo/.git', git: { gitDir: '/home/u/repo/.git/worktrees/b' } };

describe('clone mode on the host', () => {
  it('reads the mode from the dev container label of the compose files, the last one saying it winning', () => {
    const labelled = (value: string) => ({ services: { app: { labels: { 'org.devsec.workspace': value } } } });
    expect(workspaceModeOf([{ services: { app: {} } }])).toBe('mount');
    expect(workspaceModeOf([labelled('clone'), undefined, { services: { app: null } }])).toBe('clone');
    expect(workspaceModeOf([labelled('clone'), labelled('mount')])).toBe('mount');
    expect(workspaceModeOf([labelled('other')])).toBe('mount');
  });

  it('names the fetch source: the stack volume and the git dir inside it', () => {
    expect(cloneFetchSource({ composeProjectName: 'app-repo-12345678', workspaceRoot: '/home/u/repo' })).toEqual({
      volume: 'app-repo-12345678_workspace',
      gitDir: '.git',
      mountPath: '/home/u/repo',
    });
  });

  describe('the gate of a clone-mode stack', () => {
    const model = (volumes: unknown[], service = 'app', named: Record<string, unknown> = {}) => ({ services: { [service]: { volumes } }, volumes: named });

    it('passes volumes and binds from elsewhere', () => {
      expect(() =>
        checkCloneMounts(
          model([
            { type: 'volume', source: 'workspace', target: '/home/u/repo' },
            { type: 'bind', source: '/home/u/repo-other', target: '/x' },
            { type: 'tmpfs', target: '/tmp' },
          ]),
          identity,
        ),
      ).not.toThrow();
    });

    it.each([
      ['the workspace', { type: 'bind', source: '/home/u/repo', target: '/home/u/repo' }, 'app'],
      ['a folder of it', { type: 'bind', source: '/home/u/repo/apps/app/.devcontainer', target: '/d' }, 'app'],
      ['the common dir, read-only, in another service', { type: 'bind', source: '/home/u/repo/.git', target: '/g', read_only: true }, 'web'],
      ['the git dir', { type: 'bind', source: '/home/u/repo/.git/worktrees/b', target: '/g' }, 'app'],
      // `..x` is a folder of the workspace, not its parent: the old relative() test let it pass.
      ['a folder named ..x', { type: 'bind', source: '/home/u/repo/..x', target: '/x' }, 'app'],
      ['the workspace spelt with a trailing slash and a dot', { type: 'bind', source: '/home/u/repo/./', target: '/w' }, 'app'],
    ])('refuses a bind of %s', (_what, volume, service) => {
      expect(() => checkCloneMounts(model([volume], service), identity)).toThrow(/--workspace=clone.*\n {2}- .* mounts \/home\/u\/repo/);
    });

    it('refuses a named volume whose driver binds the workspace, and a symlink to it', () => {
      const bound = model([{ type: 'volume', source: 'sneaky', target: '/s' }], 'app', {
        sneaky: { driver_opts: { type: 'none', o: 'bind', device: '/home/u/repo' } },
      });
      expect(() => checkCloneMounts(bound, identity)).toThrow(/app mounts \/home\/u\/repo at \/s \(the workspace\)/);
      const linked = model([{ type: 'bind', source: '/tmp/link', target: '/l' }]);
      expect(() => checkCloneMounts(linked, identity, (path) => (path === '/tmp/link' ? '/home/u/repo/src' : path))).toThrow(/\/tmp\/link/);
    });
  });

  describe('the first fill', () => {
    let state: string;
    const seedIdentity = { workspaceRoot: '/home/u/repo', branch: 'feature/x', git: { ...identity.git, gitDir: '/home/u/repo/.git' } } as never;
    const inspect = JSON.stringify([
      {
        Image: 'sha256:abc',
        Mounts: [
          { Type: 'volume', Name: 'p_workspace', Destination: '/home/u/repo' },
          { Type: 'volume', Name: 'p_node_modules', Destination: '/home/u/repo/node_modules' },
        ],
      },
    ]);
    const say = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
    beforeEach(() => {
      state = mkdtempSync(join(tmpdir(), 'devsec-seed-'));
    });
    afterEach(() => rmSync(state, { recursive: true, force: true }));

    it('bundles HEAD and its branch with the host git, and clones in a throwaway container without network, capabilities or a bind of the checkout', () => {
      let bundleDuringRun: boolean | undefined;
      const stub = stubRunner([
        [/^docker inspect/, { stdout: inspect }],
        [/^docker run/, { stdout: "workspace: cloned feature/x at abc1234, 3 commits, 5 files\nnode_modules: copied from the host's install\n" }],
      ]);
      const runner: Runner = (command, args, options) => {
        if (command === 'docker' && args[0] === 'run') bundleDuringRun = readdirSync(state).length === 1;
        return stub(command, args, options);
      };
      const lines = seedCloneWorkspace(seedIdentity, 'app', 'c0ffee', state, runner);
      expect(lines).toEqual(['workspace: cloned feature/x at abc1234, 3 commits, 5 files', "node_modules: copied from the host's install"]);
      const [, bundle, run] = stub.calls;
      expect(bundle).toMatch(new RegExp(`^git --git-dir /home/u/repo/.git bundle create -q ${state}/seed-\\w+/seed.bundle HEAD refs/heads/feature/x$`));
      expect(run).toContain('docker run --rm --network none --cap-drop ALL --security-opt no-new-privileges:true --user node ');
      expect(run).toContain('--mount type=volume,source=p_workspace,target=/home/u/repo ');
      expect(run).toContain('--mount type=volume,source=p_node_modules,target=/home/u/repo/node_modules ');
      expect(run).toMatch(/--mount type=bind,source=\S+\/seed.bundle,target=\/devsec\/seed.bundle,readonly /);
      expect(run).toContain('--env DEVSEC_SEED_BRANCH=feature/x ');
      expect(run).toContain(' sha256:abc -c ');
      // The only binds: the bundle, and the host's node_modules read-only when there is one; never the checkout itself.
      expect([...run.matchAll(/type=bind,source=([^,]+),/g)].map((match) => match[1]).filter((source) => !source.endsWith('seed.bundle'))).toEqual([]);
      // The bundle was there for the clone, and is gone after it.
      expect(bundleDuringRun).toBe(true);
      expect(readdirSync(state)).toEqual([]);
    });

    it("copies the package stores with the host's node_modules: each mounted read-only in the seed container (pnpm, Yarn), only when there is a tree to copy", () => {
      const root = mkdtempSync(join(tmpdir(), 'devsec-seed-ws-'));
      try {
        const stores = [
          { source: '/home/u/.local/share/pnpm/store/v10', target: '/devsec/.pnpm-store/v10', readOnly: true },
          { source: join(state, 'pnpm-modules.yaml'), target: '/devsec/pnpm-modules.yaml', readOnly: true },
        ];
        const withRoot = { workspaceRoot: root, branch: 'main', git: { ...identity.git, gitDir: join(root, '.git') } } as never;
        const inspectAt = inspect.replace(/\/home\/u\/repo/g, root);
        const seeded = (runner: ReturnType<typeof stubRunner>) => {
          seedCloneWorkspace(withRoot, 'app', 'c0ffee', state, runner, stores);
          return runner.calls.find((call) => call.startsWith('docker run'))!;
        };
        const stub = () =>
          stubRunner([
            [/^docker inspect/, { stdout: inspectAt }],
            [/^docker run/, { stdout: '' }],
          ]);
        expect(seeded(stub())).not.toContain('target=/devsec/.pnpm-store');
        mkdirSync(join(root, 'node_modules'));
        const run = seeded(stub());
        expect(run).toContain(`--mount type=bind,source=${root}/node_modules,target=/devsec/host-node_modules,readonly `);
        expect(run).toContain('--mount type=bind,source=/home/u/.local/share/pnpm/store/v10,target=/devsec/.pnpm-store/v10,readonly ');
        expect(run).toContain(`--mount type=bind,source=${state}/pnpm-modules.yaml,target=/devsec/pnpm-modules.yaml,readonly `);
        expect(run).toContain('cp -a "$from/." $stores "$nm/"');
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    });

    it('says what failed, and leaves no bundle behind', () => {
      const runner = stubRunner([
        [/^docker inspect/, { stdout: inspect }],
        [/^docker run/, { status: 128, stderr: 'fatal: not a git bundle' }],
      ]);
      expect(() => seedCloneWorkspace(seedIdentity, 'app', 'c0ffee', state, runner)).toThrow(
        /workspace \(volume p_workspace\) could not be filled: fatal: not a git bundle\nRun up-worktree again; down-worktree --volumes/,
      );
      expect(readdirSync(state)).toEqual([]);
      const noVolume = stubRunner([[/^docker inspect/, { stdout: JSON.stringify([{ Image: 'x', Mounts: [] }]) }]]);
      expect(() => seedCloneWorkspace(seedIdentity, 'app', 'c0ffee', state, noVolume)).toThrow(/has no workspace volume at \/home\/u\/repo/);
      expect(noVolume.calls).toHaveLength(1);
    });

    it('runs once per dev container: the same container asks nothing, a recreated one is asked again', () => {
      const runner = stubRunner([
        [/^docker inspect/, { stdout: inspect }],
        [/^docker run/, { stdout: "workspace: kept as it is (the agent's clone)\n" }],
      ]);
      const first = seedCloneWorkspaceOnce(seedIdentity, 'app', 'c1', undefined, state, say, runner);
      expect(first).toEqual({ seed: { container: 'c1', ok: true }, nodeModulesFilled: false });
      expect(say.info).toHaveBeenCalledWith("workspace: kept as it is (the agent's clone)");
      const calls = runner.calls.length;
      expect(seedCloneWorkspaceOnce(seedIdentity, 'app', 'c1', first.seed, state, say, runner).seed).toBe(first.seed);
      expect(runner.calls).toHaveLength(calls);
      seedCloneWorkspaceOnce(seedIdentity, 'app', 'c2', first.seed, state, say, runner);
      expect(runner.calls.length).toBeGreaterThan(calls);
      expect(existsSync(state)).toBe(true);
    });
  });
});
