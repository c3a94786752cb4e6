import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkNamedMounts, foldersOnTheWay, misplacedMounts, parseMountInfo, pinMounts, verifyMounts } from './mount-pins';
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
      ['exec', '-u', '0:0', 'p-app-1', 'cat', '/proc/self/mountinfo'],
      ['kill', 'p-app-1'],
    ]);
  });
});
