/**
 * The shared services' compose project per repository (F7) and MySQL tenants, on the real
 * engine (a stand-in mysql:8.4 built on Debian's MariaDB, scripts/stand-in-images.sh): two
 * workspaces whose root package.json has the same name get two shared projects with volumes of
 * their own; the project an older version ran under the file's name alone is moved, with its
 * data; a dev container an older version started with root moves to its tenant at the next
 * up-worktree, said once; a sandbox generated after the shared services exist is wired to them;
 * the preset's hardening holds under the stand-in's entrypoint; and a worktree's agent holds a
 * MySQL user with its own schema only, which cannot read another tenant's schema, write files on
 * the server, make users, grant, or see others' sessions.
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { createSandboxWorkspace, installPlugin, SandboxWorkspace, trustCheckoutsAsRoot } from '../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import { ensureSharedNetwork } from '../host/engine/shared-network';
import { writeStateFile } from '../host/engine/state-dir';
import { sharedLogins } from '../host/audit/live-audit';
import { secretsPath } from '../host/stack/secrets';
import { locateStack } from '../host/stack/sandbox-stack';
import { liveFindings } from '../rules/live-findings';
import { NOTHING_OBSERVED } from '../testing/observations';
import { sharedProjectName } from '../host/stack/shared-project';
import { mysqlUser, tenantName } from '../host/stack/tenant-statements';
import * as tenantsModule from '../host/stack/tenants';
import { planTenants, provisionTenants } from '../host/stack/tenants';
import { PRESET_CAP_DROP, PRESET_PIDS_LIMIT } from '../generators/shared-service/presets';
import type { ComposeModel } from '../sandbox/compose-model';
import { sharedFileTrust } from '../sandbox/shared-trust';
import { parse } from 'yaml';
import downShared from './down-shared/executor';
import downWorktree from './down-worktree/executor';
import resetData from './reset-data/executor';
import upShared from './up-shared/executor';
import upWorktree from './up-worktree/executor';

jest.setTimeout(600_000);

const run = Math.random().toString(36).slice(2, 8);
/** Both workspaces' root package.json: the same name, so the same shared file name (`<name>-shared`). */
const packageName = `f7my-${run}`;
const fileName = `${packageName}-shared`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';
/** B's second project, whose sandbox is generated after the shared services. */
const apiComposeFile = 'apps/api/.devcontainer/docker-compose.yml';
const OLD_PASSWORD = 'old-version-password-1';

describeWithDocker('shared services per repository (F7), moved from an older version, and MySQL tenants', () => {
  let stateHome: string;
  const ws: Record<'a' | 'b', SandboxWorkspace> = {} as never;
  const project: Record<'a' | 'b', string> = {} as never;
  const network = (which: 'a' | 'b') => `devsec-f7my-${which}-${run}`;
  let app: string;
  /** B's later sandbox (api): its dev container and tenant. */
  let apiApp: string;
  let apiTenant: string;
  /** What the dev container held when an older version (no tenants) started it. */
  let olderUrl: string;
  let olderUser: string;
  const saidAtUp: string[] = [];
  /** The worktree's tenant, and its MySQL user (the same name, within 32 characters). */
  let tenant: string;
  let user: string;
  const said: string[] = [];

  const context = (root: string, targetName: string, projectName = 'app') =>
    ({ root, cwd: root, projectName, targetName, isVerbose: false }) as ExecutorContext;
  const mysqlContainer = (name: string) =>
    dockerOk(['ps', '-q', '--filter', `label=com.docker.compose.project=${name}`, '--filter', 'label=com.docker.compose.service=mysql']).trim();
  const password = (which: 'a' | 'b') => /DEVSEC_MYSQL_PASSWORD=(\S+)/.exec(readFileSync(secretsPath(project[which]), 'utf-8'))![1];
  /** root, as the host is: inside the shared container, over its socket. */
  const root = (which: 'a' | 'b', sql: string) =>
    dockerOk(['exec', '-e', `MYSQL_PWD=${password(which)}`, mysqlContainer(project[which]), 'mysql', '-uroot', '-N', '-B', '-e', sql]).trim();
  /** The agent: a shell in the dev container as its user, with the mysql client and MYSQL_URL it was given; the SQL on standard input. */
  const agent = (sql: string, container = app) =>
    docker(
      [
        'exec',
        '-i',
        '-u',
        'node',
        container,
        'bash',
        '-c',
        `eval "$(node -e 'const u = new URL(process.env.MYSQL_URL); console.log("export MYSQL_PWD=" + decodeURIComponent(u.password) + " H=" + u.hostname + " U=" + decodeURIComponent(u.username) + " D=" + u.pathname.slice(1))')"; ` +
          'mysql -h "$H" -u "$U" -N -B "$D"',
      ],
      { input: `${sql};\n` },
    );
  const volumes = () => dockerOk(['volume', 'ls', '--format', '{{.Name}}']).split('\n');

  beforeAll(async () => {
    stateHome = mkdtempSync(join(tmpdir(), 'devsec-f7my-state-'));
    process.env.XDG_STATE_HOME = stateHome;
    trustCheckoutsAsRoot();
    for (const which of ['a', 'b'] as const) {
      ws[which] = createSandboxWorkspace(`devsec-f7my-${which}-`, packageName);
      installPlugin(ws[which].dir);
      const tree = new FsTree(ws[which].dir, false);
      await secureDevcontainerGenerator(tree, { project: 'app', network: network(which), skipFormat: true });
      await sharedServiceGenerator(tree, { preset: 'mysql', skipFormat: true });
      if (which === 'b') {
        // A project added later, in a growing monorepo: its sandbox generated after the shared services exist.
        tree.write('apps/api/project.json', JSON.stringify({ name: 'api', root: 'apps/api' }));
        await secureDevcontainerGenerator(tree, { project: 'api', network: network('b'), skipFormat: true });
      }
      flushChanges(ws[which].dir, tree.listChanges());
      ws[which].git('add', '-A');
      ws[which].git('commit', '-q', '-m', 'sandbox with mysql');
      ws[which].chownToCheckoutUser();
      project[which] = sharedProjectName(fileName, join(ws[which].dir, '.git'));
    }
    // An older version ran A's shared services under the file's name alone, with its password in the state directory.
    ensureSharedNetwork(network('a'), undefined, () => undefined);
    writeStateFile(secretsPath(fileName), `DEVSEC_MYSQL_PASSWORD=${OLD_PASSWORD}\n`);
    const older = ['compose', '-p', fileName, '-f', join(ws.a.dir, 'docker-compose.shared.yml')];
    const started = spawnSync('docker', [...older, 'up', '-d', '--wait'], { encoding: 'utf-8', env: { ...process.env, DEVSEC_MYSQL_PASSWORD: OLD_PASSWORD } });
    if (started.status !== 0) throw new Error(`the older project did not start: ${started.stderr}`);
    dockerOk([
      'exec',
      '-e',
      `MYSQL_PWD=${OLD_PASSWORD}`,
      mysqlContainer(fileName),
      'mysql',
      '-uroot',
      'app',
      '-e',
      "create table team(name text); insert into team values ('alice')",
    ]);

    const spy = jest.spyOn(logger, 'info').mockImplementation((message) => void said.push(String(message)));
    try {
      expect(await upShared({}, context(ws.a.dir, 'up-shared'))).toEqual({ success: true });
      // Said once: a second start finds the move done.
      expect(await upShared({}, context(ws.a.dir, 'up-shared'))).toEqual({ success: true });
      expect(await upShared({}, context(ws.b.dir, 'up-shared'))).toEqual({ success: true });
    } finally {
      spy.mockRestore();
    }
    const errors: string[] = [];
    const error = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    const up = async (root: string, file: string, projectName: string) => {
      const started = await upWorktree({ composeFile: file }, context(root, 'up-worktree', projectName));
      if (!started.success) throw new Error(`up-worktree failed:\n${errors.join('\n')}`);
      return readFileSync(join(root, file.replace(/docker-compose\.yml$/, '.env')), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1];
    };
    try {
      // An older version (before tenants) started A's dev container: the compose file's MYSQL_URL, root's.
      const before = jest.spyOn(tenantsModule, 'planTenants').mockReturnValue(undefined);
      try {
        app = `${await up(ws.a.dir, composeFile, 'app')}-app-1`;
      } finally {
        before.mockRestore();
      }
      olderUrl = dockerOk(['exec', '-u', 'node', app, 'printenv', 'MYSQL_URL']).trim();
      olderUser = agent('select current_user()').stdout.trim();
      expect(agent("create table app.written_as_root(v text); insert into app.written_as_root values ('before')").status).toBe(0);
      // This version's up-worktree, twice: the tenant is made (and said) once.
      const info = jest.spyOn(logger, 'info').mockImplementation((message) => void saidAtUp.push(String(message)));
      try {
        await up(ws.a.dir, composeFile, 'app');
        await up(ws.a.dir, composeFile, 'app');
      } finally {
        info.mockRestore();
      }
      const apiCompose = await up(ws.b.dir, apiComposeFile, 'api');
      apiApp = `${apiCompose}-app-1`;
      apiTenant = tenantName(apiCompose);
    } finally {
      error.mockRestore();
    }
    const compose = readFileSync(join(ws.a.dir, 'apps/app/.devcontainer/.env'), 'utf-8').match(/COMPOSE_PROJECT_NAME=(\S+)/)![1];
    app = `${compose}-app-1`;
    tenant = tenantName(compose);
    user = mysqlUser(tenant);
  });

  afterAll(async () => {
    if (!stateHome) return;
    if (ws.a) await downWorktree({ composeFile, volumes: true, images: true }, context(ws.a.dir, 'down-worktree'));
    if (ws.b && apiApp) await downWorktree({ composeFile: apiComposeFile, volumes: true, images: true }, context(ws.b.dir, 'down-worktree', 'api'));
    for (const which of ['a', 'b'] as const) {
      if (!ws[which]) continue;
      await downShared({ volumes: true }, context(ws[which].dir, 'down-shared'));
      docker(['network', 'rm', network(which)]);
      rmSync(ws[which].dir, { recursive: true, force: true });
    }
    docker(['compose', '-p', fileName, 'down', '--volumes']);
    docker(['volume', 'rm', `${fileName}_mysql-data`]);
    rmSync(stateHome, { recursive: true, force: true });
    delete process.env.XDG_STATE_HOME;
  });

  it('moves the older project’s data into the new one, once, and keeps its volume as it was', () => {
    expect(project.a).toMatch(new RegExp(`^${fileName}-[0-9a-f]{8}$`));
    const moved = said.filter((line) => line.includes(`Moving ${fileName}, of an older version`));
    // Once for A, once for B (each takes a copy), never again.
    expect(moved).toHaveLength(2);
    expect(root('a', 'select name from app.team')).toBe('alice');
    // The data was initialised with the older password: the new project took it over.
    expect(password('a')).toBe(OLD_PASSWORD);
    expect(dockerOk(['ps', '-aq', '--filter', `label=com.docker.compose.project=${fileName}`]).trim()).toBe('');
    expect(volumes()).toEqual(expect.arrayContaining([`${fileName}_mysql-data`, `${project.a}_mysql-data`, `${project.b}_mysql-data`]));
  });

  it('gives two workspaces whose root package.json has the same name two shared projects and volumes of their own', () => {
    expect(project.a).not.toBe(project.b);
    expect(mysqlContainer(project.a)).not.toBe('');
    expect(mysqlContainer(project.b)).not.toBe('');
    const mount = (which: 'a' | 'b') => dockerOk(['inspect', '--format', '{{range .Mounts}}{{.Name}}{{end}}', mysqlContainer(project[which])]).trim();
    expect(mount('a')).toBe(`${project.a}_mysql-data`);
    expect(mount('b')).toBe(`${project.b}_mysql-data`);
    // What one writes after the move, the other never sees.
    root('a', "insert into app.team values ('only-in-a')");
    expect(root('b', 'select group_concat(name) from app.team')).toBe('alice');
  });

  it('gives the dev container a MySQL user of its own, with all privileges on its own schema only', () => {
    const env = dockerOk(['exec', '-u', 'node', app, 'printenv', 'MYSQL_URL']).trim();
    expect(env).toMatch(new RegExp(`^mysql://${user}:[A-Za-z0-9_-]+@mysql:3306/app_${tenant}$`));
    expect(env).not.toContain(password('a'));
    expect(agent('select current_user()').stdout.trim()).toBe(`${user}@%`);
    expect(agent('create table mine(x int); insert into mine values (1); select count(*) from mine').stdout.trim()).toBe('1');
    expect(agent('show grants').stdout).toMatch(new RegExp(`GRANT USAGE ON \\*\\.\\* TO .${user}.@.%.`));
    expect(agent('show grants').stdout).not.toMatch(/WITH GRANT OPTION|FILE|SUPER|PROCESS/);
  });

  it('refuses what an agent would try against another tenant’s schema or the server', () => {
    // Another worktree's tenant in the same MySQL, made as up-worktree makes it.
    const sharedText = readFileSync(join(ws.a.dir, 'docker-compose.shared.yml'), 'utf-8');
    const other = planTenants(parse(sharedText) as ComposeModel, sharedFileTrust(sharedText), project.a, 'app', `app-other-${run}-00000000`)!;
    provisionTenants(other, { DEVSEC_MYSQL_PASSWORD: password('a') }, { info: () => undefined, warn: () => undefined, error: () => undefined } as never);
    const otherSchema = other.services[0].tenantDatabase!;
    root('a', `create table \`${otherSchema}\`.secret(v text); insert into \`${otherSchema}\`.secret values ('theirs')`);
    // The administrator's session, which SHOW PROCESSLIST would show to anyone with PROCESS.
    docker(['exec', '-d', '-e', `MYSQL_PWD=${password('a')}`, mysqlContainer(project.a), 'mysql', '-uroot', '-e', 'select sleep(600) as admin_marker']);

    expect(agent('show databases').stdout.split('\n').filter(Boolean).sort()).toEqual([`app_${tenant}`, 'information_schema'].sort());
    const attempts: Record<string, RegExp> = {
      [`select * from \`${otherSchema}\`.secret`]: /denied/i,
      [`drop database \`${otherSchema}\``]: /denied/i,
      'select * from app.team': /denied/i,
      "select 'x' into outfile '/tmp/pwned'": /denied/i,
      "select load_file('/etc/passwd') is not null": /./,
      "create user 'intruder'@'%' identified by 'intruder-pw-1'": /denied/i,
      [`grant all privileges on *.* to '${user}'@'%'`]: /denied/i,
      [`grant select on \`app_${tenant}\`.* to '${other.services[0].user}'@'%'`]: /denied/i,
      'set global general_log = 1': /denied/i,
      'select * from mysql.user': /denied/i,
    };
    for (const [sql, refusal] of Object.entries(attempts)) {
      const attempt = agent(sql);
      if (sql.startsWith('select load_file')) {
        // LOAD_FILE needs FILE: without it, NULL (0 here), never the file.
        expect([sql, attempt.stdout.trim()]).toEqual([sql, '0']);
        continue;
      }
      expect([sql, attempt.status !== 0, attempt.stderr]).toEqual([sql, true, expect.stringMatching(refusal)]);
    }
    // Others' sessions: not shown (no PROCESS), and not to be killed.
    expect(root('a', "select count(*) from information_schema.processlist where info like '%admin_marker%' and info not like '%processlist%'")).toBe('1');
    const processes = agent('show full processlist');
    expect(processes.status).toBe(0);
    expect(processes.stdout).not.toContain('admin_marker');
    // Still running (600 s: the attempts above can take a minute on a loaded machine); ended by root below.
    const adminThread = root('a', "select id from information_schema.processlist where info like 'select sleep(600)%'");
    expect(adminThread).toMatch(/^\d+$/);
    expect(agent(`kill ${adminThread}`).stderr).toMatch(/not owner of thread|denied/i);
    root('a', `kill ${adminThread}`);
    expect(dockerOk(['exec', mysqlContainer(project.a), 'ls', '/tmp'])).not.toContain('pwned');
  });

  it('audit --live asks from inside what MYSQL_URL logs in as: the tenant passes; the same user with FILE, SUPER or a grant option is reported', () => {
    const stack = locateStack(ws.a.dir, composeFile);
    const logins = () => sharedLogins(stack, app).map(({ service, admin }) => `${service}:${admin}`);
    expect(logins()).toEqual(['mysql:false']);
    const rights: Array<[string, string]> = [
      [`grant file on *.* to '${user}'@'%'`, `revoke file on *.* from '${user}'@'%'`],
      [`grant super on *.* to '${user}'@'%'`, `revoke super on *.* from '${user}'@'%'`],
      // A grant option on its own schema only: it could hand its data to anyone.
      [`grant select on \`app_${tenant}\`.* to '${user}'@'%' with grant option`, `revoke grant option on \`app_${tenant}\`.* from '${user}'@'%'`],
    ];
    for (const [grant, revoke] of rights) {
      root('a', grant);
      try {
        expect([grant, logins()]).toEqual([grant, ['mysql:true']]);
        const findings = liveFindings({ ...NOTHING_OBSERVED, sharedLogins: sharedLogins(stack, app) }, { composeFile, container: app });
        expect(findings.filter((found) => found.rule === 'live-shared-admin').map((found) => `${found.severity} ${found.message}`)).toEqual([
          expect.stringMatching(/^high .*MYSQL_URL \(mysql\) logs in as an administrator/),
        ]);
      } finally {
        root('a', revoke);
      }
      expect([revoke, logins()]).toEqual([revoke, ['mysql:false']]);
    }
  });

  it('moves a dev container an older version started with root to its tenant at the next up-worktree, said once; what it wrote as root stays in the shared schema', () => {
    // What the older version gave it: root, from the compose file, with the administrator's password in .env.
    expect(olderUser).toBe('root@%');
    expect(olderUrl).toBe(`mysql://root:${password('a')}@mysql:3306/app`);
    // Now: the tenant, and root's password nowhere the dev container can read.
    expect(dockerOk(['exec', '-u', 'node', app, 'printenv', 'MYSQL_URL']).trim()).toMatch(new RegExp(`^mysql://${user}:`));
    expect(dockerOk(['inspect', '--format', '{{json .Config.Env}}', app])).not.toContain(password('a'));
    expect(readFileSync(join(ws.a.dir, 'apps/app/.devcontainer/.env'), 'utf-8')).not.toContain(password('a'));
    expect(agent('select current_user()').stdout.trim()).toBe(`${user}@%`);
    // Said once, at the start that made the tenant.
    expect(saidAtUp.filter((line) => line.includes(`made this worktree's tenant ${user}`))).toHaveLength(1);
    // What the agent wrote as root stays in the shared schema, the administrator's to copy; the tenant no longer reaches it.
    expect(root('a', 'select v from app.written_as_root')).toBe('before');
    expect(agent('select v from app.written_as_root').stderr).toMatch(/denied/i);
  });

  it('wires a sandbox generated after the shared services exist: its own tenant, MYSQL_URL, the mysql client', () => {
    const wired = parse(readFileSync(join(ws.b.dir, 'docker-compose.shared.yml'), 'utf-8')) as ComposeModel;
    expect((wired.services!.mysql!['x-devsec'] as { projects: string[] }).projects.slice().sort()).toEqual(['api', 'app']);
    const apiUser = mysqlUser(apiTenant);
    expect(dockerOk(['exec', '-u', 'node', apiApp, 'printenv', 'MYSQL_URL']).trim()).toMatch(
      new RegExp(`^mysql://${apiUser}:[A-Za-z0-9_-]+@mysql:3306/app_${apiTenant}$`),
    );
    // The client the later sandbox got, logging in as its tenant to its own schema, in B's shared MySQL.
    expect(agent('select current_user(), database()', apiApp).stdout.trim()).toBe(`${apiUser}@%\tapp_${apiTenant}`);
    expect(root('b', `select count(*) from mysql.user where user = '${apiUser}'`)).toBe('1');
    expect(root('a', `select count(*) from mysql.user where user = '${apiUser}'`)).toBe('0');
  });

  it('runs the shared MySQL with the preset’s hardening, under which the stand-in’s entrypoint (as the official one: chown, then setpriv to mysql) starts', () => {
    const container = mysqlContainer(project.a);
    const host = JSON.parse(dockerOk(['inspect', '--format', '{{json .HostConfig}}', container])) as {
      SecurityOpt: string[];
      CapDrop: string[];
      PidsLimit: number;
      Memory: number;
    };
    expect(host.SecurityOpt).toContain('no-new-privileges:true');
    expect(host.CapDrop.map((cap) => cap.replace(/^CAP_/, '')).sort()).toEqual([...PRESET_CAP_DROP].sort());
    expect(host.PidsLimit).toBe(PRESET_PIDS_LIMIT);
    expect(host.Memory).toBe(2 * 1024 ** 3);
    expect(dockerOk(['inspect', '--format', '{{.State.Health.Status}}', container]).trim()).toBe('healthy');
    // The server (PID 1 after the entrypoint's exec) runs as mysql, with no capability and no way to gain one.
    const status = dockerOk(['exec', container, 'cat', '/proc/1/status']);
    const mysqlUid = dockerOk(['exec', container, 'id', '-u', 'mysql']).trim();
    expect(/^Name:\s+(\S+)/m.exec(status)![1]).toMatch(/^(mariadbd|mysqld)$/);
    expect(/^Uid:\s+(\d+)/m.exec(status)![1]).toBe(mysqlUid);
    expect(/^CapEff:\s+(\S+)/m.exec(status)![1]).toBe('0000000000000000');
    expect(/^NoNewPrivs:\s+(\d)/m.exec(status)![1]).toBe('1');
  });

  it('reset-data empties the tenant’s schema and keeps its user', async () => {
    expect(
      agent('create table if not exists kept_until_reset(x int); select count(*) from information_schema.tables where table_schema = database()').stdout.trim(),
    ).not.toBe('0');
    expect(await resetData({ composeFile }, context(ws.a.dir, 'reset-data'))).toEqual({ success: true });
    expect(agent('select count(*) from information_schema.tables where table_schema = database()').stdout.trim()).toBe('0');
    expect(agent('select current_user()').stdout.trim()).toBe(`${user}@%`);
    expect(root('a', 'select v from app.written_as_root')).toBe('before');
  });

  it('down-worktree --volumes drops the tenant: its user and its schema', async () => {
    expect(await downWorktree({ composeFile, volumes: true }, context(ws.a.dir, 'down-worktree'))).toEqual({ success: true });
    expect(root('a', `select count(*) from mysql.user where user = '${user}'`)).toBe('0');
    expect(root('a', `select count(*) from information_schema.schemata where schema_name = 'app_${tenant}'`)).toBe('0');
    expect(root('a', 'select group_concat(name order by name) from app.team')).toBe('alice,only-in-a');
  });
});
