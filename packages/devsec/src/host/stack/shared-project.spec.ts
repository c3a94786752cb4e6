import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ComposeModel } from '../../sandbox/compose-model';
import { readStateFile, writeStateFile } from '../engine/state-dir';
import type { CommandResult } from '../engine/run';
import { secretsPath } from './secrets';
import { adoptOlderSecrets, adoptOlderSharedProject, projectVolumes, sharedProjectName } from './shared-project';
import { tenantSecretsPath } from './tenants';

const ok = (stdout = ''): CommandResult => ({ status: 0, stdout, stderr: '' });
const missing: CommandResult = { status: 1, stdout: '', stderr: 'Error: No such volume' };

const model: ComposeModel = {
  name: 'ws-shared',
  services: { postgres: { image: 'postgres:17', volumes: [{ type: 'volume', source: 'postgres-data', target: '/var/lib/postgresql/data' }] } },
  volumes: { 'postgres-data': {}, outside: { external: true }, named: { name: 'fixed' } },
};

describe('the shared services’ compose project', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'devsec-shared-project-'));
    env = { XDG_STATE_HOME: join(home, 'state') };
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('is the file’s name and a hash of the common git dir: one for every worktree, another for another clone', () => {
    mkdirSync(join(home, 'a/.git'), { recursive: true });
    mkdirSync(join(home, 'b/.git'), { recursive: true });
    symlinkSync(join(home, 'a'), join(home, 'link'));
    const a = sharedProjectName('ws-shared', join(home, 'a/.git'));
    expect(a).toMatch(/^ws-shared-[0-9a-f]{8}$/);
    expect(sharedProjectName('ws-shared', join(home, 'link/.git'))).toBe(a);
    expect(sharedProjectName('ws-shared', join(home, 'b/.git'))).not.toBe(a);
  });

  it('moves the volumes Compose names after the project, not external or named ones', () => {
    expect(projectVolumes(model)).toEqual(['postgres-data']);
    expect(projectVolumes({ volumes: { '--rm': {} } })).toEqual([]);
  });

  it('an older project’s passwords: taken when the new project has none, forced over it when its data is copied', () => {
    writeStateFile(secretsPath('ws-shared', env), '# old\nDEVSEC_POSTGRES_PASSWORD=old-password-1\n');
    writeStateFile(tenantSecretsPath('ws-shared', env), '# old\nDEVSEC_POSTGRES_T1_PASSWORD=tenant-password-1\n');
    expect(adoptOlderSecrets('ws-shared', 'ws-shared-12345678', false, env)).toBe(true);
    expect(readStateFile(secretsPath('ws-shared-12345678', env))).toContain('DEVSEC_POSTGRES_PASSWORD=old-password-1');
    expect(readStateFile(tenantSecretsPath('ws-shared-12345678', env))).toContain('DEVSEC_POSTGRES_T1_PASSWORD=tenant-password-1');
    writeStateFile(secretsPath('ws-shared-12345678', env), 'DEVSEC_POSTGRES_PASSWORD=new-password-1\nDEVSEC_REDIS_PASSWORD=redis-password-1\n');
    expect(adoptOlderSecrets('ws-shared', 'ws-shared-12345678', false, env)).toBe(false);
    expect(readStateFile(secretsPath('ws-shared-12345678', env))).toContain('new-password-1');
    expect(adoptOlderSecrets('ws-shared', 'ws-shared-12345678', true, env)).toBe(true);
    const forced = readStateFile(secretsPath('ws-shared-12345678', env))!;
    expect(forced).toContain('DEVSEC_POSTGRES_PASSWORD=old-password-1');
    expect(forced).toContain('DEVSEC_REDIS_PASSWORD=redis-password-1');
  });

  describe('the one-time move of an older project', () => {
    const calls: string[][] = [];
    const said: string[] = [];
    beforeEach(() => {
      calls.length = 0;
      said.length = 0;
    });
    const runner =
      (state: { oldVolume: boolean; newVolume: boolean; oldContainers: string[]; copyFails?: boolean }) =>
      (command: string, args: string[]): CommandResult => {
        calls.push(args);
        const joined = args.join(' ');
        if (joined.startsWith('volume inspect')) {
          const name = args[args.length - 1];
          if (name === 'ws-shared_postgres-data')
            return state.oldVolume ? ok('{"com.docker.compose.project":"ws-shared","com.docker.compose.version":"2.26.1"}') : missing;
          return state.newVolume ? ok('{"com.docker.compose.project":"ws-shared-12345678"}') : missing;
        }
        if (joined.startsWith('ps --all')) return ok(joined.includes('=ws-shared\n') || joined.endsWith('=ws-shared') ? state.oldContainers.join('\n') : '');
        if (joined.startsWith('run ')) return state.copyFails ? { status: 1, stdout: '', stderr: 'cp: no space left' } : ok();
        return ok();
      };

    it('stops and removes the old containers, copies each volume into the new project’s, read-only from the old, and says so once', () => {
      writeStateFile(secretsPath('ws-shared', env), 'DEVSEC_POSTGRES_PASSWORD=old-password-1\n');
      const moved = adoptOlderSharedProject(
        model,
        'ws-shared',
        'ws-shared-12345678',
        (line) => said.push(line),
        runner({ oldVolume: true, newVolume: false, oldContainers: ['a'.repeat(64)] }),
        env,
      );
      expect(moved).toBe(true);
      const order = calls.map((args) => args.slice(0, 2).join(' '));
      expect(order.indexOf('stop ' + 'a'.repeat(64))).toBeLessThan(order.findIndex((call) => call.startsWith('run ')));
      const create = calls.find((args) => args[0] === 'volume' && args[1] === 'create')!;
      expect(create).toEqual(
        expect.arrayContaining([
          'com.docker.compose.project=ws-shared-12345678',
          'com.docker.compose.volume=postgres-data',
          'ws-shared-12345678_postgres-data',
        ]),
      );
      const copy = calls.find((args) => args[0] === 'run')!;
      expect(copy).toEqual(expect.arrayContaining(['type=volume,source=ws-shared_postgres-data,target=/from,readonly', '--network', 'none', 'postgres:17']));
      expect(copy).not.toContain('volume rm');
      expect(calls.some((args) => args[0] === 'volume' && args[1] === 'rm')).toBe(false);
      expect(said.join('\n')).toMatch(/Its old volumes are kept as they were.*docker volume rm ws-shared_postgres-data/);
      expect(readStateFile(secretsPath('ws-shared-12345678', env))).toContain('old-password-1');
    });

    it.each([
      ['once the new volume exists', { oldVolume: true, newVolume: true }],
      ['when there is no older project', { oldVolume: false, newVolume: false }],
    ])('does nothing %s', (_when, volumes) => {
      expect(adoptOlderSharedProject(model, 'ws-shared', 'ws-shared-12345678', (line) => said.push(line), runner({ ...volumes, oldContainers: [] }), env)).toBe(
        false,
      );
      expect(said).toEqual([]);
      expect(calls.some((args) => ['stop', 'run', 'rm'].includes(args[0]))).toBe(false);
    });

    it('a failed copy removes the new volume (the next up-shared tries again) and leaves the old one', () => {
      expect(() =>
        adoptOlderSharedProject(
          model,
          'ws-shared',
          'ws-shared-12345678',
          () => undefined,
          runner({ oldVolume: true, newVolume: false, oldContainers: [], copyFails: true }),
          env,
        ),
      ).toThrow(/Could not copy ws-shared_postgres-data into ws-shared-12345678_postgres-data.*no space left/);
      const removed = calls.filter((args) => args[0] === 'volume' && args[1] === 'rm');
      expect(removed).toEqual([['volume', 'rm', 'ws-shared-12345678_postgres-data']]);
    });
  });
});
