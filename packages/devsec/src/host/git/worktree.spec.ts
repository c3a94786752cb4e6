import { profileOf, ROOTLESS_DOCKER } from '../../testing/engine-facts';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { WorktreeError } from '../../sandbox/errors';
import { composeProjectName, findOurDevcontainers, hostPlatform, sandboxEnvFile, worktreeIdentity, worktreeOverrideFile } from './worktree';

describe('worktree identity (real git)', () => {
  let base: string;
  const git = (cwd: string, ...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=Ada Lovelace', '-c', 'user.email=ada@example.com', '-c', 'init.defaultBranch=main', ...args], {
      cwd,
      encoding: 'utf-8',
    });

  beforeAll(() => {
    base = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-identity-')));
    mkdirSync(join(base, 'one/repo'), { recursive: true });
    git(join(base, 'one/repo'), 'init', '-q');
    git(join(base, 'one/repo'), 'commit', '-q', '--allow-empty', '-m', 'first');
    git(join(base, 'one/repo'), 'config', 'user.name', 'Ada Lovelace');
    git(join(base, 'one/repo'), 'config', 'user.email', 'ada@example.com');
    // A linked worktree on a branch with slashes, and one with the same folder name elsewhere.
    git(join(base, 'one/repo'), 'worktree', 'add', '-q', '-b', 'feature/a/b', join(base, 'two/repo'));
    git(join(base, 'one/repo'), 'worktree', 'add', '-q', '--detach', join(base, 'detached'));
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('reads the top level, the common git dir, the branch and the git identity', () => {
    const identity = worktreeIdentity(join(base, 'two/repo'), 'app');
    expect(identity).toEqual({
      workspaceRoot: join(base, 'two/repo'),
      gitCommonDir: join(base, 'one/repo/.git'),
      branch: 'feature/a/b',
      gitName: 'Ada Lovelace',
      gitEmail: 'ada@example.com',
      composeProjectName: composeProjectName('app', join(base, 'two/repo')),
      git: {
        workspaceRoot: join(base, 'two/repo'),
        kind: 'linked',
        dotGitIsDirectory: false,
        gitDir: join(base, 'one/repo/.git/worktrees/repo'),
        commonDir: join(base, 'one/repo/.git'),
        worktreeId: 'repo',
        branch: 'feature/a/b',
      },
    });
  });

  it('gives two worktrees with the same folder name different, stable, compose-safe names', () => {
    const one = worktreeIdentity(join(base, 'one/repo'), '@acme/Web').composeProjectName;
    const two = worktreeIdentity(join(base, 'two/repo'), '@acme/Web').composeProjectName;
    expect(one).not.toBe(two);
    expect(one).toMatch(/^acme-web-repo-[0-9a-f]{8}$/);
    expect(two).toMatch(/^acme-web-repo-[0-9a-f]{8}$/);
    expect(worktreeIdentity(join(base, 'one/repo/'), '@acme/Web').composeProjectName).toBe(one);
  });

  it('handles a detached HEAD', () => {
    expect(worktreeIdentity(join(base, 'detached'), 'app')).toMatchObject({ branch: undefined, gitCommonDir: join(base, 'one/repo/.git') });
  });

  it('handles a repository without a commit yet (HEAD not born)', () => {
    const fresh = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-unborn-')));
    try {
      git(fresh, 'init', '-q', '-b', 'trunk');
      expect(worktreeIdentity(fresh, 'app')).toMatchObject({ workspaceRoot: fresh, gitCommonDir: join(fresh, '.git'), branch: 'trunk' });
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('explains what to do outside a git repository', () => {
    const outside = mkdtempSync(join(tmpdir(), 'devsec-nogit-'));
    try {
      expect(() => worktreeIdentity(outside, 'app')).toThrow(WorktreeError);
      expect(() => worktreeIdentity(outside, 'app')).toThrow(/not inside a git repository.*git init/);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
  });

  const engine = profileOf(ROOTLESS_DOCKER);

  it("adds the shared services' passwords to the .env, after the identity", () => {
    const identity = worktreeIdentity(join(base, 'two/repo'), 'app');
    expect(sandboxEnvFile(identity, engine, { DEVSEC_POSTGRES_PASSWORD: 'abc_DEF-1' }).split('\n').slice(-2)).toEqual([
      'DEVSEC_POSTGRES_PASSWORD=abc_DEF-1',
      '',
    ]);
  });

  it('writes the .env that the compose file interpolates', () => {
    const identity = worktreeIdentity(join(base, 'two/repo'), 'app');
    expect(sandboxEnvFile(identity, engine).split('\n').slice(1)).toEqual([
      `COMPOSE_PROJECT_NAME=${identity.composeProjectName}`,
      `DEVSEC_WORKSPACE=${join(base, 'two/repo')}`,
      `DEVSEC_GIT_COMMON_DIR=${join(base, 'one/repo/.git')}`,
      'DEVSEC_DOCKER_SOCKET=/run/user/1990/docker.sock',
      'DEVSEC_DOCKER_PROXY_USER=node',
      'DEVSEC_DOCKER_GID=105',
      `DEVSEC_HOST_PLATFORM=${hostPlatform()}`,
      "DEVSEC_GIT_NAME='Ada Lovelace'",
      'DEVSEC_GIT_EMAIL=ada@example.com',
      '',
    ]);
  });

  it("writes every value as Compose's literal: a folder named ${A:-..} stays that folder (red team, finding A)", () => {
    const odd = '/ws/x/${A:-..}/.nx/$B/evil';
    const override = worktreeOverrideFile([{ source: odd, target: odd, readOnly: false }], {
      'egress-proxy': { environment: { EGRESS_ALLOW: 'a.example ${HOME}' } },
    });
    expect(override).toContain('/ws/x/$${A:-..}/.nx/$$B/evil');
    expect(override).toContain('a.example $${HOME}');
    expect(override).not.toMatch(/[^$]\$\{A/);
  });

  it('finds every sandbox definition of ours, and writes mounts in long syntax (paths may hold colons)', () => {
    const root = join(base, 'one/repo');
    for (const dir of ['apps/a/.devcontainer', 'apps/b/.devcontainer', 'apps/foreign/.devcontainer', 'node_modules/x/.devcontainer']) {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, 'docker-compose.yml'), dir.includes('foreign') ? 'services: {}' : 'labels:\n  org.devsec.managed: "true"\n');
    }
    expect(findOurDevcontainers(root)).toEqual(['apps/a/.devcontainer', 'apps/b/.devcontainer']);
    // Only the root's node_modules, .git and .nx are out of the sandbox's reach: a definition moved or planted anywhere else is found.
    const hidden = [
      'tmp/app/.devcontainer',
      'dist/x/.devcontainer',
      'coverage/y/.devcontainer',
      'libs/z/node_modules/w/.devcontainer',
      'a/b/c/d/e/f/g/h/i/j/.devcontainer',
    ];
    for (const dir of hidden) {
      mkdirSync(join(root, dir), { recursive: true });
      writeFileSync(join(root, dir, 'docker-compose.yml'), 'labels:\n  org.devsec.managed: "true"\n');
    }
    // A symlinked .devcontainer is never followed.
    mkdirSync(join(root, 'apps/c'));
    symlinkSync(join(root, 'apps/a/.devcontainer'), join(root, 'apps/c/.devcontainer'));
    expect(findOurDevcontainers(root)).toEqual(['apps/a/.devcontainer', 'apps/b/.devcontainer', ...hidden].sort());
    for (const dir of hidden) rmSync(join(root, dir.split('/')[0]), { recursive: true, force: true });
    rmSync(join(root, 'apps/c'), { recursive: true });
    const mounts = findOurDevcontainers(root).map((dir) => ({ source: join(root, dir), target: join(root, dir), readOnly: true }));
    const override = parse(worktreeOverrideFile([...mounts, { source: '/state/git', target: `${root}/.git`, readOnly: false }]));
    expect(override.services.app.volumes).toEqual([
      { type: 'bind', source: `${root}/apps/a/.devcontainer`, target: `${root}/apps/a/.devcontainer`, read_only: true },
      { type: 'bind', source: `${root}/apps/b/.devcontainer`, target: `${root}/apps/b/.devcontainer`, read_only: true },
      { type: 'bind', source: '/state/git', target: `${root}/.git` },
    ]);
  });
});
