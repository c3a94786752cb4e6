import { checkCloneMounts, cloneFetchSource, workspaceModeOf } from './clone-workspace';

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
});
