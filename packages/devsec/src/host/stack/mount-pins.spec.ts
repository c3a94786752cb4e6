import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  checkNamedMounts,
  foldersOnTheWay,
  goferPid,
  misplacedMounts,
  mountsKey,
  parseMountInfo,
  pinMounts,
  readMountInfo,
  verifyMounts,
  verifyMountsOnce,
} from './mount-pins';
import type { Runner } from '../engine/run';

describe('mount pins: every folder on the way to a read-only mount is a mount point of its own', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-pins-'));
    mkdirSync(join(root, 'apps/app/.devcontainer'), { recursive: true });
    mkdirSync(join(root, 'apps/api/tools/inner/.devcontainer'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('pins each ancestor level once, outermost first, and never the root or the mount itself', () => {
    const mounts = pinMounts(root, [
      { path: join(root, 'apps/app/.devcontainer'), what: 'the sandbox definition' },
      { path: join(root, 'apps/api/tools/inner/.devcontainer'), what: 'the sandbox definition' },
      { path: join(root, 'docker-compose.shared.yml'), what: 'the shared services file' },
    ]);
    expect(mounts.map((mount) => mount.target.slice(root.length + 1))).toEqual(['apps', 'apps/api', 'apps/api/tools', 'apps/api/tools/inner', 'apps/app']);
    for (const mount of mounts) expect(mount).toEqual({ source: mount.target, target: mount.target, readOnly: false });
  });

  it('refuses a symlink on the way, naming it', () => {
    rmSync(join(root, 'apps/api'), { recursive: true });
    mkdirSync(join(root, 'elsewhere/tools/inner/.devcontainer'), { recursive: true });
    symlinkSync(join(root, 'elsewhere'), join(root, 'apps/api'));
    expect(() => foldersOnTheWay(root, join(root, 'apps/api/tools/inner/.devcontainer'), 'the sandbox definition')).toThrow(
      /apps\/api, on the way to the sandbox definition apps\/api\/tools\/inner\/.devcontainer, is a symlink/,
    );
  });

  it.each([
    ['x/${A:-..}/.nx/${B:-..}/evil/.devcontainer', "'$', which Compose reads as a variable"],
    ['x/a\nb/.devcontainer', 'a control character'],
  ])('refuses a folder name Compose or a terminal would read otherwise: %j', (rel, why) => {
    expect(() => pinMounts(root, [{ path: join(root, rel), what: 'the sandbox definition' }])).toThrow(new RegExp(`holds ${why.replace(/[$]/g, '\\$')}`));
  });

  const mountinfo = (lines: [string, string][]) =>
    lines.map(([rootField, point], i) => `${100 + i} 1 254:1 ${rootField} ${point} rw,relatime master:1 - ext4 /dev/vda rw`).join('\n');

  it('reads the kernel view: a pin that shows another path of the filesystem is misplaced', () => {
    const ws = '/home/u/ws';
    const mounts = [
      { source: `${ws}/apps`, target: `${ws}/apps`, readOnly: false },
      { source: `${ws}/apps/app/.devcontainer`, target: `${ws}/apps/app/.devcontainer`, readOnly: true },
      { source: '/state/git', target: '/devsec/git', readOnly: false },
    ];
    const honest = parseMountInfo(
      mountinfo([
        ['/', '/'],
        ['/home/u/ws', ws],
        ['/home/u/ws/apps', `${ws}/apps`],
        ['/home/u/ws/apps/app/.devcontainer', `${ws}/apps/app/.devcontainer`],
      ]),
    );
    expect(misplacedMounts(honest, mounts, ws)).toEqual([]);
    // `apps` was a symlink to / when the engine mounted it.
    const swapped = parseMountInfo(
      mountinfo([
        ['/home/u/ws', ws],
        ['/', `${ws}/apps`],
        ['/home/u/ws/apps/app/.devcontainer', `${ws}/apps/app/.devcontainer`],
      ]),
    );
    expect(misplacedMounts(swapped, mounts, ws)).toEqual([`${ws}/apps shows / of 254:1, not /home/u/ws/apps of 254:1`]);
    // The last mount at a point is the one in force; a missing one is reported.
    expect(
      misplacedMounts(
        parseMountInfo(
          mountinfo([
            ['/home/u/ws', ws],
            ['/etc', `${ws}/apps`],
          ]),
        ),
        mounts,
        ws,
      ),
    ).toEqual([
      `${ws}/apps shows /etc of 254:1, not /home/u/ws/apps of 254:1`,
      `${ws}/apps/app/.devcontainer shows nothing, not /home/u/ws/apps/app/.devcontainer of 254:1`,
    ]);
  });

  it('reads a folder of that very path on another filesystem as misplaced', () => {
    const ws = '/home/u/ws';
    const infos = parseMountInfo(mountinfo([['/home/u/ws', ws]]) + '\n' + `200 1 0:55 /home/u/ws/apps ${ws}/apps rw - tmpfs tmpfs rw`);
    expect(misplacedMounts(infos, [{ source: `${ws}/apps`, target: `${ws}/apps`, readOnly: false }], ws)).toEqual([
      `${ws}/apps shows /home/u/ws/apps of 0:55, not /home/u/ws/apps of 254:1`,
    ]);
  });

  it('refuses a start whose effective model mounts otherwise than the override said (Compose interpolated a folder name)', () => {
    const mounts = [
      { source: '/ws/apps', target: '/ws/apps', readOnly: false },
      { source: '/ws/apps/app/.devcontainer', target: '/ws/apps/app/.devcontainer', readOnly: true },
    ];
    const model = (volumes: object[]) => ({ services: { app: { volumes } } });
    const honest = [
      { type: 'bind', source: '/ws/apps', target: '/ws/apps', bind: { create_host_path: true } },
      { type: 'bind', source: '/ws/apps/app/.devcontainer', target: '/ws/apps/app/.devcontainer', read_only: true },
    ];
    expect(() => checkNamedMounts(model(honest), mounts)).not.toThrow();
    expect(() => checkNamedMounts(model([honest[0], { ...honest[1], read_only: false }]), mounts)).toThrow(
      /\/ws\/apps\/app\/\.devcontainer: bind \/ws\/apps\/app\/\.devcontainer, not/,
    );
    expect(() => checkNamedMounts(model([honest[1], { type: 'volume', source: 'nx-state', target: '/ws/apps' }]), mounts)).toThrow(
      /Compose reads the dev container's mounts otherwise[^]*\/ws\/apps: volume nx-state, not \/ws\/apps/,
    );
    expect(() => checkNamedMounts(model([honest[1]]), mounts)).toThrow(/\/ws\/apps: not mounted/);
  });

  it('unescapes mountinfo paths (a space is \\040)', () => {
    expect(parseMountInfo(mountinfo([['/a\\040b', '/x\\040y']]))).toEqual([{ device: '254:1', root: '/a b', mountPoint: '/x y' }]);
  });

  it('stops the container and names the mount when the kernel shows another path', () => {
    const calls: string[][] = [];
    const run: Runner = (_command, args) => {
      calls.push(args);
      return {
        status: 0,
        stdout: mountinfo([
          ['/ws', '/ws'],
          ['/', '/ws/apps'],
        ]),
        stderr: '',
      };
    };
    expect(() => verifyMounts('p-app-1', [{ source: '/ws/apps', target: '/ws/apps', readOnly: false }], '/ws', run)).toThrow(
      /Stopped p-app-1[^]*\/ws\/apps shows \//,
    );
    expect(calls).toEqual([
      ['inspect', '--type', 'container', '--format', '{{.Id}} {{.HostConfig.Runtime}}', 'p-app-1'],
      ['exec', '-u', '0:0', 'p-app-1', 'cat', '/proc/self/mountinfo'],
      ['kill', 'p-app-1'],
    ]);
  });

  describe('on gVisor: what the engine mounted is read from the container gofer, on the host', () => {
    const id = 'a'.repeat(64);
    const gofer = (bundleId: string, name = 'runsc-gofer') =>
      [
        name,
        '--root=/var/run/docker/runtime-runc/moby',
        '--network=host',
        'gofer',
        '--bundle',
        `/run/containerd/io.containerd.runtime.v2.task/moby/${bundleId}`,
        '',
      ].join('\0');
    const honest = mountinfo([
      ['/ws', '/ws'],
      ['/ws/apps', '/ws/apps'],
    ]);
    const proc = (entries: Record<string, { cmdline: string; mountinfo?: string }>) => ({
      pids: () => Object.keys(entries),
      read: (pid: string, file: 'cmdline' | 'mountinfo') => entries[pid]?.[file],
    });
    // gVisor's own view inside: every mount is / of a device of its own; the exec must never be what is read.
    const inside: Runner = (_command, args) => ({
      status: 0,
      stdout:
        args[0] === 'exec'
          ? mountinfo([
              ['/', '/ws'],
              ['/', '/ws/apps'],
            ])
          : '',
      stderr: '',
    });
    const mounts = [{ source: '/ws/apps', target: '/ws/apps', readOnly: false }];

    it('finds the one gofer of the container by its bundle, never another container’s or a look-alike', () => {
      const entries = { '10': { cmdline: gofer('b'.repeat(64)) }, '11': { cmdline: gofer(id) }, '12': { cmdline: gofer(id, 'runsc-sandbox') } };
      expect(goferPid(id, proc(entries))).toBe('11');
      expect(goferPid('b'.repeat(64), proc(entries))).toBe('10');
      expect(goferPid('c'.repeat(64), proc(entries))).toBeUndefined();
      expect(goferPid('../' + id, proc(entries))).toBeUndefined();
      // Two claiming the same container: neither is taken.
      expect(goferPid(id, proc({ ...entries, '13': { cmdline: gofer(id) } }))).toBeUndefined();
    });

    it("holds with the gofer's mountinfo, and stops a start whose gofer shows another path or cannot be found", () => {
      const calls: string[][] = [];
      const run: Runner = (command, args) => {
        calls.push(args);
        return inside(command, args);
      };
      const known = { container: id, runtime: 'runsc' };
      expect(() => verifyMounts('p-app-1', mounts, '/ws', run, proc({ '11': { cmdline: gofer(id), mountinfo: honest } }), known)).not.toThrow();
      expect(calls).toEqual([]);
      const swapped = mountinfo([
        ['/ws', '/ws'],
        ['/', '/ws/apps'],
      ]);
      expect(() => verifyMounts('p-app-1', mounts, '/ws', run, proc({ '11': { cmdline: gofer(id), mountinfo: swapped } }), known)).toThrow(
        /Stopped p-app-1[^]*\/ws\/apps shows \/ of/,
      );
      expect(() => verifyMounts('p-app-1', mounts, '/ws', run, proc({ '10': { cmdline: gofer('b'.repeat(64)), mountinfo: honest } }), known)).toThrow(
        /Stopped p-app-1[^]*no runsc gofer of it/,
      );
      expect(calls).toEqual([
        ['kill', 'p-app-1'],
        ['kill', 'p-app-1'],
      ]);
    });

    it("learns the runtime from the engine when the look did not say, and never takes gVisor's own view", () => {
      const run: Runner = (command, args) => (args[0] === 'inspect' ? { status: 0, stdout: `${id} runsc\n`, stderr: '' } : inside(command, args));
      expect(readMountInfo('p-app-1', run, proc({ '11': { cmdline: gofer(id), mountinfo: honest } }))).toEqual({ text: honest });
      expect(() => verifyMounts('p-app-1', mounts, '/ws', inside)).toThrow(/Stopped p-app-1[^]*\/ws\/apps shows \/ of/);
    });
  });

  describe('verifyMountsOnce: read back once per start of the container', () => {
    const mounts = [{ source: '/ws/apps', target: '/ws/apps', readOnly: false }];
    const honest = mountinfo([
      ['/ws', '/ws'],
      ['/ws/apps', '/ws/apps'],
    ]);
    /** An engine whose app container has this id and start, and this mountinfo. */
    const engine = (id: string, startedAt: string, info = honest, running = true) => {
      const calls: string[][] = [];
      const run: Runner = (_command, args) => {
        calls.push(args);
        if (args[0] === 'inspect') return { status: 0, stdout: JSON.stringify([{ Id: id, State: { StartedAt: startedAt, Running: running } }]), stderr: '' };
        if (args[0] === 'exec') return { status: 0, stdout: info, stderr: '' };
        return { status: 0, stdout: '', stderr: '' };
      };
      return { calls, run };
    };
    const first = { container: 'c1', startedAt: '2026-12-07T02:00:00.123456789Z', mounts: mountsKey(mounts, '/ws') };

    it('reads the first start back and remembers it; the same start is only inspected next time', () => {
      const a = engine('c1', first.startedAt);
      expect(verifyMountsOnce('p-app-1', mounts, '/ws', undefined, a.run)).toEqual(first);
      expect(a.calls).toEqual([
        ['inspect', '--type', 'container', 'p-app-1'],
        ['exec', '-u', '0:0', 'p-app-1', 'cat', '/proc/self/mountinfo'],
      ]);
      const b = engine('c1', first.startedAt);
      expect(verifyMountsOnce('p-app-1', mounts, '/ws', first, b.run)).toBe(first);
      expect(b.calls).toEqual([['inspect', '--type', 'container', 'p-app-1']]);
    });

    it('reads back again a container restarted or recreated since, or checked against other mounts, and stops a misplaced one', () => {
      const swapped = mountinfo([
        ['/ws', '/ws'],
        ['/', '/ws/apps'],
      ]);
      // Restarted (the engine's restart policy, a docker restart): another start, mounts resolved again.
      const restarted = engine('c1', '2026-12-07T03:00:00Z', swapped);
      expect(() => verifyMountsOnce('p-app-1', mounts, '/ws', first, restarted.run)).toThrow(/Stopped p-app-1[^]*\/ws\/apps shows \//);
      expect(restarted.calls.map((args) => args[0])).toEqual(['inspect', 'exec', 'kill']);
      // Recreated: another id, the same start time.
      const recreated = engine('c2', first.startedAt);
      expect(verifyMountsOnce('p-app-1', mounts, '/ws', first, recreated.run)).toEqual({ ...first, container: 'c2' });
      expect(recreated.calls.map((args) => args[0])).toEqual(['inspect', 'exec']);
      // The mounts named changed (a definition added): read back, whatever the container.
      const more = [...mounts, { source: '/ws/apps/app', target: '/ws/apps/app', readOnly: false }];
      const same = engine(
        'c1',
        first.startedAt,
        mountinfo([
          ['/ws', '/ws'],
          ['/ws/apps', '/ws/apps'],
          ['/ws/apps/app', '/ws/apps/app'],
        ]),
      );
      expect(verifyMountsOnce('p-app-1', more, '/ws', first, same.run)?.mounts).toBe(mountsKey(more, '/ws'));
      expect(same.calls.map((args) => args[0])).toEqual(['inspect', 'exec']);
      // Not running: not taken as the start verified (the read back names what is wrong).
      const stopped = engine('c1', first.startedAt, honest, false);
      verifyMountsOnce('p-app-1', mounts, '/ws', first, stopped.run);
      expect(stopped.calls.map((args) => args[0])).toEqual(['inspect', 'exec']);
    });

    it('takes the start from a look made since the stack came up, without an inspect of its own', () => {
      const a = engine('unused', 'unused');
      expect(verifyMountsOnce('p-app-1', mounts, '/ws', first, a.run, { container: 'c1', startedAt: first.startedAt, running: true })).toBe(first);
      expect(a.calls).toEqual([]);
      const b = engine('unused', 'unused');
      expect(verifyMountsOnce('p-app-1', mounts, '/ws', first, b.run, { container: 'c1', startedAt: '2026-12-07T03:00:00Z', running: true })?.startedAt).toBe(
        '2026-12-07T03:00:00Z',
      );
      // The look says no runtime: one inspect learns it (runc: the container's own mountinfo).
      expect(b.calls.map((args) => args[0])).toEqual(['inspect', 'exec']);
    });

    it('reads back by name when the container cannot be inspected, and remembers nothing', () => {
      const calls: string[][] = [];
      const run: Runner = (_command, args) => {
        calls.push(args);
        return args[0] === 'exec' ? { status: 0, stdout: honest, stderr: '' } : { status: 1, stdout: '[]', stderr: 'Error: No such container' };
      };
      expect(verifyMountsOnce('p-app-1', mounts, '/ws', first, run)).toBeUndefined();
      expect(calls.map((args) => args[0])).toEqual(['inspect', 'inspect', 'exec']);
    });
  });
});
