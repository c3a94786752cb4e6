/**
 * A tenant per worktree in the shared services, on the real engine (stand-in postgres:17 and
 * redis:7): two worktrees of one repository, each agent (docker exec as the container's user,
 * with the psql and redis-cli its sandbox gets) reaching only its own database and keys, and
 * what an agent would try against the other's data or the service itself refused.
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { spawnSync } from 'node:child_process';
import { chownSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import {
  CHECKOUT_UID,
  compiledProxyPackage,
  createSandboxWorkspace,
  installPlugin,
  SandboxWorkspace,
  trustCheckoutsAsRoot,
} from '../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import { pgHandOver, tenantName } from '../host/stack/tenant-statements';
import { sharedProjectName } from '../host/stack/shared-project';
import { sharedLogins } from '../host/audit/live-audit';
import { locateStack } from '../host/stack/sandbox-stack';
import { liveFindings } from '../rules/live-findings';
import { NOTHING_OBSERVED } from '../testing/observations';
import { PRESET_CAP_DROP, PRESET_PIDS_LIMIT } from '../generators/shared-service/presets';
import downShared from './down-shared/executor';
import downWorktree from './down-worktree/executor';
import resetData from './reset-data/executor';
import upShared from './up-shared/executor';
import upWorktree from './up-worktree/executor';

jest.setTimeout(900_000);

const run = Math.random().toString(36).slice(2, 8);
const network = `devsec-tenants-${run}`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';

describeWithDocker('a tenant per worktree in the shared services', () => {
  let ws: SandboxWorkspace;
  let stateHome: string;
  let parent: string;
  let main: string;
  let second: string;
  const apps: Record<string, string> = {};
  const tenants: Record<string, string> = {};
  let sharedProject: string;

  const context = (root: string, targetName = 'up-worktree') => ({ root, cwd: root, projectName: 'app', targetName, isVerbose: false }) as ExecutorContext;
  const inside = (root: string, script: string) => docker(['exec', '-u', 'node', apps[root], 'bash', '-c', script]);
  const sharedContainer = (service: string) =>
    dockerOk(['ps', '-q', '--filter', `label=com.docker.compose.project=${sharedProject}`, '--filter', `label=com.docker.compose.service=${service}`]).trim();
  /** The administrator, as the host is: inside the shared container. */
  const admin = (sql: string, database = 'app') =>
    dockerOk(['exec', sharedContainer('postgres'), 'psql', '-U', 'postgres', '-d', database, '-tAc', sql]).trim();
  const adminRedis = (...args: string[]) => {
    const secrets = readdirSync(join(stateHome, 'devsec/shared')).find((file) => file.endsWith('.env') && !file.endsWith('.tenants.env'))!;
    const password = /DEVSEC_REDIS_PASSWORD=(\S+)/.exec(readFileSync(join(stateHome, 'devsec/shared', secrets), 'utf-8'))![1];
    return dockerOk(['exec', '-e', `REDISCLI_AUTH=${password}`, sharedContainer('redis'), 'redis-cli', ...args]).trim();
  };
  const psql = (root: string, sql: string) => inside(root, `psql "$DATABASE_URL" -X -tA -v ON_ERROR_STOP=1 -c ${JSON.stringify(sql)}`);
  const redis = (root: string, command: string) => inside(root, `redis-cli -u "$REDIS_URL" --no-auth-warning ${command}`);
  const up = async (root: string) => {
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      const result = await upWorktree({ composeFile }, context(root));
      if (!result.success) throw new Error(`up-worktree failed:\n${errors.join('\n')}`);
    } finally {
      spy.mockRestore();
    }
    const project = readFileSync(join(root, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1];
    apps[root] = `${project}-app-1`;
    tenants[root] = tenantName(project);
  };
  const hostGit = (cwd: string, ...args: string[]) =>
    spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd, encoding: 'utf-8', uid: CHECKOUT_UID, gid: CHECKOUT_UID });

  beforeAll(async () => {
    stateHome = mkdtempSync(join(tmpdir(), 'devsec-tenants-state-'));
    process.env.XDG_STATE_HOME = stateHome;
    trustCheckoutsAsRoot();
    ws = createSandboxWorkspace('devsec-tenants-', `tenants-${run}`);
    main = ws.dir;
    installPlugin(main);
    const tree = new FsTree(main, false);
    await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'redis', skipFormat: true });
    flushChanges(main, tree.listChanges());
    sharedProject = sharedProjectName(/^name: (\S+)$/m.exec(readFileSync(join(main, 'docker-compose.shared.yml'), 'utf-8'))![1], join(main, '.git'));
    ws.git('add', '-A');
    ws.git('commit', '-q', '-m', 'sandbox with postgres and redis');
    ws.chownToCheckoutUser();
    // A second worktree of the same repository, with the proxy package where npm would put it.
    parent = mkdtempSync(join(tmpdir(), 'devsec-tenants-wt-'));
    chownSync(parent, CHECKOUT_UID, CHECKOUT_UID);
    second = join(parent, 'second');
    expect(hostGit(main, 'worktree', 'add', '-q', '-b', 'second', second).status).toBe(0);
    cpSync(compiledProxyPackage(), join(second, 'node_modules/@org/devsec-socket-proxy'), { recursive: true });
    installPlugin(second);
    spawnSync('chown', ['-R', `${CHECKOUT_UID}:${CHECKOUT_UID}`, second]);

    expect(await upShared({}, context(main, 'up-shared'))).toEqual({ success: true });
    // The team's development data, in the shared database.
    admin("create table team(name text); insert into team values ('alice')");
    await up(main);
    await up(second);
  });

  afterAll(async () => {
    if (!main) return;
    for (const root of [second, main]) if (root) await downWorktree({ composeFile, volumes: true, images: true }, context(root, 'down-worktree'));
    await downShared({ volumes: true }, context(main, 'down-shared'));
    docker(['network', 'rm', network]);
    rmSync(parent, { recursive: true, force: true });
    rmSync(main, { recursive: true, force: true });
    rmSync(stateHome, { recursive: true, force: true });
    delete process.env.XDG_STATE_HOME;
  });

  it('gives each dev container its own tenant, and no administrator’s password anywhere it can read', () => {
    const sharedSecrets = readdirSync(join(stateHome, 'devsec/shared'))
      .filter((file) => !file.endsWith('.tenants.env'))
      .map((file) => readFileSync(join(stateHome, 'devsec/shared', file), 'utf-8'))
      .join('\n');
    const adminPasswords = [...sharedSecrets.matchAll(/^DEVSEC_\w+_PASSWORD=(\S+)$/gm)].map((match) => match[1]);
    expect(adminPasswords).toHaveLength(2);
    for (const root of [main, second]) {
      expect(
        psql(root, 'select current_user, current_database(), rolsuper, rolcreaterole, rolcreatedb from pg_roles where rolname = current_user').stdout.trim(),
      ).toBe(`${tenants[root]}|app_${tenants[root]}|f|f|f`);
      expect(redis(root, 'ACL WHOAMI').stdout.trim()).toBe(tenants[root]);
      const seen = inside(root, `env; cat ${root}/apps/app/.devcontainer/.env ${root}/apps/app/.devcontainer/docker-compose.worktree.yml`).stdout;
      for (const password of adminPasswords) expect(seen).not.toContain(password);
    }
    expect(tenants[main]).not.toBe(tenants[second]);
  });

  it('starts each tenant with the team’s data; what one agent writes, the other and the shared database never see', () => {
    for (const root of [main, second]) expect(psql(root, 'select name from team').stdout.trim()).toBe('alice');
    expect(psql(main, "insert into team values ('agent-main'); create table mine(x int)").status).toBe(0);
    expect(psql(second, 'select name from team').stdout.trim()).toBe('alice');
    expect(psql(second, "select to_regclass('mine') is null").stdout.trim()).toBe('t');
    expect(admin('select count(*) from team')).toBe('1');
    expect(admin("select to_regclass('mine') is null")).toBe('t');
  });

  it('refuses what an agent would try against the other worktree’s database or the server', () => {
    const otherDatabase = `app_${tenants[second]}`;
    const attempts: Record<string, RegExp> = {
      [`\\connect ${otherDatabase}`]: /permission denied for database|does not have CONNECT privilege/,
      [`drop database ${otherDatabase}`]: /must be owner of database/,
      'create role intruder': /permission denied to create role/,
      [`alter role ${tenants[main]} superuser`]: /permission denied to alter role/,
      "copy (select 1) to program 'touch /tmp/pwned'": /permission denied to COPY to or from an external program|must be superuser/,
      "select pg_read_file('/etc/passwd')": /permission denied for function pg_read_file/,
      "select lo_import('/etc/passwd')": /permission denied for function lo_import/,
      'grant pg_execute_server_program to current_user': /permission denied to grant role/,
      'create database mine': /permission denied to create database/,
    };
    for (const [sql, refusal] of Object.entries(attempts)) {
      const attempt = sql.startsWith('\\') ? inside(main, `psql "$DATABASE_URL" -X -tA -v ON_ERROR_STOP=1 -c 'select 1' -c '${sql}'`) : psql(main, sql);
      expect([sql, attempt.status !== 0, attempt.stderr]).toEqual([sql, true, expect.stringMatching(refusal)]);
    }
    // The shared database itself: not for a tenant. Nor is the administrator, without its password.
    expect(inside(main, 'psql "${DATABASE_URL%/*}/app" -X -tAc "select 1"').stderr).toMatch(/does not have CONNECT privilege|permission denied for database/);
    expect(inside(main, 'PGPASSWORD= psql -h postgres -U postgres -d app -X -w -tAc "select 1"').stderr).toMatch(
      /password authentication failed|no password supplied/,
    );
    expect(dockerOk(['exec', sharedContainer('postgres'), 'ls', '/tmp'])).not.toContain('pwned');
  });

  it('keeps each tenant to its own Redis keys, and refuses the administrative commands', () => {
    expect(redis(main, `SET ${tenants[main]}:k main`).stdout.trim()).toBe('OK');
    expect(redis(second, `SET ${tenants[second]}:k second`).stdout.trim()).toBe('OK');
    expect(redis(main, `GET ${tenants[second]}:k`).stdout).toMatch(/NOPERM/);
    expect(redis(main, 'SET shared:k x').stdout).toMatch(/NOPERM/);
    for (const command of [
      "KEYS '*'",
      'SCAN 0',
      'RANDOMKEY',
      'CONFIG SET dir /tmp',
      'FLUSHALL',
      'MODULE LOAD /tmp/x.so',
      'SAVE',
      'DEBUG SLEEP 0',
      'ACL LIST',
    ]) {
      // MODULE and DEBUG are also off in the server's configuration (Redis 7), which answers before the ACL.
      expect([command, redis(main, command).stdout]).toEqual([command, expect.stringMatching(/^NOPERM|^ERR (MODULE|DEBUG) command not allowed/)]);
    }
    // The default user is the administrator, and has a password now.
    expect(inside(main, 'redis-cli -h redis ping').stdout).toMatch(/NOAUTH/);
    expect(adminRedis('GET', `${tenants[second]}:k`)).toBe('second');
  });

  it('audit --live asks from inside what the credentials log in as: a tenant passes, an administrator’s rights are reported', () => {
    const stack = locateStack(main, composeFile);
    const logins = () => sharedLogins(stack, apps[main]).map(({ service, admin }) => `${service}:${admin}`);
    expect(logins()).toEqual(['postgres:false', 'redis:false']);
    // The same credentials given an administrator's rights (by the real administrator): both seen.
    admin(`alter role ${tenants[main]} createdb`, 'postgres');
    adminRedis('ACL', 'SETUSER', tenants[main], '+config');
    try {
      expect(logins()).toEqual(['postgres:true', 'redis:true']);
      const findings = liveFindings({ ...NOTHING_OBSERVED, sharedLogins: sharedLogins(stack, apps[main]) }, { composeFile, container: apps[main] });
      const shared = findings.filter((found) => found.rule === 'live-shared-admin');
      expect(shared.map((found) => `${found.severity} ${found.message}`)).toEqual([
        expect.stringMatching(/^high .*DATABASE_URL \(postgres\) logs in as an administrator/),
        expect.stringMatching(/^high .*REDIS_URL \(redis\) logs in as an administrator/),
      ]);
    } finally {
      admin(`alter role ${tenants[main]} nocreatedb`, 'postgres');
      adminRedis('ACL', 'SETUSER', tenants[main], '-config');
    }
    expect(logins()).toEqual(['postgres:false', 'redis:false']);
  });

  it('reset-data makes the worktree’s database again from the shared one, and removes its keys', async () => {
    expect(psql(main, 'select count(*) from team').stdout.trim()).toBe('2');
    expect(await resetData({ composeFile }, context(main, 'reset-data'))).toEqual({ success: true });
    expect(psql(main, 'select name from team').stdout.trim()).toBe('alice');
    expect(psql(main, "select to_regclass('mine') is null").stdout.trim()).toBe('t');
    expect(redis(main, `GET ${tenants[main]}:k`).stdout.trim()).toBe('');
    expect(redis(second, `GET ${tenants[second]}:k`).stdout.trim()).toBe('second');
  });

  it('runs nothing the agent plants as the administrator: a search_path trap in its database, a key named across a newline (red team, stop 8)', async () => {
    const tenant = tenants[main];
    // The trap: a function named like one the hand-over calls, first on the database's search_path. Run as superuser, it makes the tenant one.
    const trap = [
      '\\set ON_ERROR_STOP 1',
      'CREATE SCHEMA trap;',
      'CREATE FUNCTION trap.format(f text, a name, b text) RETURNS text LANGUAGE plpgsql AS $f$',
      "BEGIN BEGIN EXECUTE pg_catalog.format('ALTER ROLE %I SUPERUSER', b); EXCEPTION WHEN others THEN NULL; END; RETURN pg_catalog.format(f, a, b); END $f$;",
      "SELECT pg_catalog.format('ALTER DATABASE %I SET search_path = trap, pg_catalog', current_database()) \\gexec",
      '',
    ].join('\n');
    const superuser = () => admin(`select rolsuper from pg_roles where rolname = '${tenant}'`, 'postgres');
    expect(docker(['exec', '-i', '-u', 'node', apps[main], 'sh', '-c', 'cat > /tmp/trap.sql'], { input: trap }).status).toBe(0);
    // 1. Set in its own database now: the hand-over, run there as superuser, calls nothing of it by name.
    expect(inside(main, 'psql "$DATABASE_URL" -X -q -f /tmp/trap.sql').stderr).toBe('');
    admin(pgHandOver(tenant), `app_${tenant}`);
    expect(superuser()).toBe('f');
    // 2. Set while reset-data makes the database again: the agent retries from the moment it is dropped, and never gets in before it is handed over.
    const race =
      'gone=0; end=$((SECONDS+120)); while [ $SECONDS -lt $end ]; do ' +
      'if psql "$DATABASE_URL" -X -q -f /tmp/trap.sql >/tmp/race.out 2>&1; then [ $gone = 1 ] && { echo planted > /tmp/race.log; exit 0; }; ' +
      'else grep -q "does not exist" /tmp/race.out && gone=1; fi; done; echo timeout > /tmp/race.log';
    inside(main, 'psql "$DATABASE_URL" -X -q -c "drop schema trap cascade" && rm -f /tmp/race.log');
    dockerOk(['exec', '-d', '-u', 'node', apps[main], 'bash', '-c', race]);
    // 3. A key of its own whose name holds a newline, then the other worktree's key: what reset-data removes is the tenant's alone.
    expect(redis(main, `SET "$(printf '${tenant}:x\\n${tenants[second]}:k')" 1`).stdout.trim()).toBe('OK');
    expect(await resetData({ composeFile }, context(main, 'reset-data'))).toEqual({ success: true });
    let said = '';
    for (let wait = 0; wait < 60 && !said; wait++) {
      said = inside(main, 'cat /tmp/race.log 2>/dev/null').stdout.trim();
      if (!said) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    // The agent got in (after the hand-over: its trap is in its own database) and is no superuser.
    expect(said).toBe('planted');
    expect(superuser()).toBe('f');
    expect(adminRedis('GET', `${tenants[second]}:k`)).toBe('second');
    expect(adminRedis('EXISTS', `${tenant}:x\n${tenants[second]}:k`)).toBe('0');
    // The agent's trap undone (its search_path hides the team's table from the tests after this one).
    const undo =
      'set client_min_messages = warning; drop schema trap cascade; select format($q$alter database %I reset search_path$q$, current_database()) \\gexec';
    expect(inside(main, `echo '${undo}' | psql "$DATABASE_URL" -X -q -v ON_ERROR_STOP=1`).stderr).toBe('');
  });

  it('up-shared refuses a shared network where another repository’s shared services answer to the same names (F7)', async () => {
    // Another repository's shared Postgres on the same network (dev unless --network): its dev containers would reach either.
    const image = dockerOk(['inspect', '--format', '{{.Config.Image}}', sharedContainer('postgres')]).trim();
    const other = `devsec-tenants-${run}-other-postgres`;
    dockerOk([
      'run',
      '-d',
      '--name',
      other,
      '--network',
      network,
      '--network-alias',
      'postgres',
      '--label',
      'com.docker.compose.project=other-shared',
      '--entrypoint',
      'sleep',
      image,
      '300',
    ]);
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      expect(await upShared({}, context(main, 'up-shared'))).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(
        new RegExp(
          `shared network "${network}" already has another compose project answering to postgres \\(container ${other} of compose project other-shared\\)`,
        ),
      );
    } finally {
      spy.mockRestore();
      docker(['rm', '-f', other]);
    }
    // Its own containers (this repository's project, other worktrees) are no reason to refuse.
    expect(await upShared({}, context(main, 'up-shared'))).toEqual({ success: true });
  });

  it('runs the shared Postgres and Redis with the presets’ hardening, under which their images start', () => {
    for (const [service, memory] of [
      ['postgres', 2 * 1024 ** 3],
      ['redis', 1024 ** 3],
    ] as const) {
      const host = JSON.parse(dockerOk(['inspect', '--format', '{{json .HostConfig}}', sharedContainer(service)])) as {
        SecurityOpt: string[];
        CapDrop: string[];
        PidsLimit: number;
        Memory: number;
      };
      expect([service, host.SecurityOpt]).toEqual([service, expect.arrayContaining(['no-new-privileges:true'])]);
      expect([service, host.CapDrop.map((cap) => cap.replace(/^CAP_/, '')).sort()]).toEqual([service, [...PRESET_CAP_DROP].sort()]);
      expect([service, host.PidsLimit, host.Memory]).toEqual([service, PRESET_PIDS_LIMIT, memory]);
      expect([service, dockerOk(['inspect', '--format', '{{.State.Health.Status}}', sharedContainer(service)]).trim()]).toEqual([service, 'healthy']);
      expect(dockerOk(['exec', sharedContainer(service), 'grep', 'NoNewPrivs', '/proc/1/status'])).toMatch(/NoNewPrivs:\s+1/);
    }
    // Postgres's entrypoint (the stand-in's, as the official one: chown, then setpriv to postgres) left the server no capability.
    const status = dockerOk(['exec', sharedContainer('postgres'), 'cat', '/proc/1/status']);
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(dockerOk(['exec', sharedContainer('postgres'), 'id', '-u', 'postgres']).trim());
    expect(/^CapEff:\s+(\S+)/m.exec(status)![1]).toBe('0000000000000000');
  });

  it('refuses a tenant from a shared file a merged commit edited (POSTGRES_DB at another database): up-worktree and reset-data name the file and the restamp, nothing is made', async () => {
    // Another project's data on the same shared server.
    admin('create database billing', 'postgres');
    admin("create table invoices(secret text); insert into invoices values ('billing-only')", 'billing');
    // The agent's branch, merged as the host user merges it: the stamp left as it was.
    const file = join(second, 'docker-compose.shared.yml');
    const before = readFileSync(file, 'utf-8');
    const edited = before.replace(/^(\s+)POSTGRES_DB: app$/m, '$1POSTGRES_DB: billing');
    expect(edited).not.toBe(before);
    writeFileSync(file, edited);
    expect(hostGit(second, 'commit', '-q', '-am', 'use the billing data').status).toBe(0);
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      expect(await upWorktree({ composeFile }, context(second))).toEqual({ success: false });
      expect(await resetData({ composeFile }, context(second, 'reset-data'))).toEqual({ success: false });
    } finally {
      spy.mockRestore();
    }
    expect(errors).toEqual([
      expect.stringMatching(
        /^Refusing: app's tenant in the shared postgres, redis is made, reset and removed as docker-compose\.shared\.yml says .*edited after @org\/devsec wrote it .*run nx g @org\/devsec:shared-service <preset>/,
      ),
      expect.stringMatching(/^Refusing: app's tenant in the shared postgres, redis/),
    ]);
    // No copy of billing for the tenant, and its own database as it was.
    expect(admin(`select string_agg(datname, ',') from pg_database where datname like 'billing%'`, 'postgres')).toBe('billing');
    expect(admin(`select count(*) from pg_database where datname = 'app_${tenants[second]}'`, 'postgres')).toBe('1');
    // The merge undone: the worktree starts as before.
    expect(hostGit(second, 'reset', '-q', '--hard', 'HEAD~1').status).toBe(0);
    await up(second);
    expect(psql(second, 'select name from team').stdout.trim()).toBe('alice');
    admin('drop database billing', 'postgres');
  });

  it('down-worktree --volumes removes the tenant: its role, its database, its Redis user and keys', async () => {
    const tenant = tenants[second];
    expect(await downWorktree({ composeFile, volumes: true }, context(second, 'down-worktree'))).toEqual({ success: true });
    expect(admin(`select count(*) from pg_roles where rolname = '${tenant}'`, 'postgres')).toBe('0');
    expect(admin(`select count(*) from pg_database where datname = 'app_${tenant}'`, 'postgres')).toBe('0');
    expect(adminRedis('ACL', 'USERS')).not.toContain(tenant);
    expect(adminRedis('EXISTS', `${tenant}:k`)).toBe('0');
    // The other worktree's tenant is untouched.
    expect(psql(main, 'select name from team').stdout.trim()).toBe('alice');
  });
});
