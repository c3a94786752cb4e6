/**
 * The shared services' compose project per repository (F7) and MySQL tenants, on the real
 * engine (a stand-in mysql:8.4 built on Debian's MariaDB, scripts/stand-in-images.sh): two
 * workspaces whose root package.json has the same name get two shared projects with volumes of
 * their own; the project an older version ran under the file's name alone is moved, with its
 * data; and a worktree's agent holds a MySQL user with its own schema only, which cannot read
 * another tenant's schema, write files on the server, make users, grant, or see others' sessions.
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
import { sharedProjectName } from '../host/stack/shared-project';
import { mysqlUser, tenantName } from '../host/stack/tenant-statements';
import { planTenants, provisionTenants } from '../host/stack/tenants';
import type { ComposeModel } from '../sandbox/compose-model';
import { parse } from 'yaml';
import downShared from './down-shared/executor';
import downWorktree from './down-worktree/executor';
import upShared from './up-shared/executor';
import upWorktree from './up-worktree/executor';

jest.setTimeout(600_000);

const run = Math.random().toString(36).slice(2, 8);
/** Both workspaces' root package.json: the same name, so the same shared file name (`<name>-shared`). */
const packageName = `f7my-${run}`;
const fileName = `${packageName}-shared`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';
const OLD_PASSWORD = 'old-version-password-1';

describeWithDocker('shared services per repository (F7), moved from an older version, and MySQL tenants', () => {
  let stateHome: string;
  const ws: Record<'a' | 'b', SandboxWorkspace> = {} as never;
  const project: Record<'a' | 'b', string> = {} as never;
  const network = (which: 'a' | 'b') => `devsec-f7my-${which}-${run}`;
  let app: string;
  /** The worktree's tenant, and its MySQL user (the same name, within 32 characters). */
  let tenant: string;
  let user: string;
  const said: string[] = [];

  const context = (root: string, targetName: string) => ({ root, cwd: root, projectName: 'app', targetName, isVerbose: false }) as ExecutorContext;
  const mysqlContainer = (name: string) =>
    dockerOk(['ps', '-q', '--filter', `label=com.docker.compose.project=${name}`, '--filter', 'label=com.docker.compose.service=mysql']).trim();
  const password = (which: 'a' | 'b') => /DEVSEC_MYSQL_PASSWORD=(\S+)/.exec(readFileSync(secretsPath(project[which]), 'utf-8'))![1];
  /** root, as the host is: inside the shared container, over its socket. */
  const root = (which: 'a' | 'b', sql: string) =>
    dockerOk(['exec', '-e', `MYSQL_PWD=${password(which)}`, mysqlContainer(project[which]), 'mysql', '-uroot', '-N', '-B', '-e', sql]).trim();
  /** The agent: a shell in the dev container as its user, with the mysql client and MYSQL_URL it was given. */
  /** The agent: a shell in the dev container as its user, with the mysql client and MYSQL_URL it was given; the SQL on standard input. */
  const agent = (sql: string) =>
    docker(
      [
        'exec',
        '-i',
        '-u',
        'node',
        app,
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
    try {
      const up = await upWorktree({ composeFile }, context(ws.a.dir, 'up-worktree'));
      if (!up.success) throw new Error(`up-worktree failed:\n${errors.join('\n')}`);
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
    const shared = parse(readFileSync(join(ws.a.dir, 'docker-compose.shared.yml'), 'utf-8')) as ComposeModel;
    const other = planTenants(shared, project.a, 'app', `app-other-${run}-00000000`)!;
    provisionTenants(other, { DEVSEC_MYSQL_PASSWORD: password('a') }, { info: () => undefined, warn: () => undefined, error: () => undefined } as never);
    const otherSchema = other.services[0].tenantDatabase!;
    root('a', `create table \`${otherSchema}\`.secret(v text); insert into \`${otherSchema}\`.secret values ('theirs')`);
    // The administrator's session, which SHOW PROCESSLIST would show to anyone with PROCESS.
    docker(['exec', '-d', '-e', `MYSQL_PWD=${password('a')}`, mysqlContainer(project.a), 'mysql', '-uroot', '-e', 'select sleep(60) as admin_marker']);

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
    const adminThread = root('a', "select id from information_schema.processlist where info like 'select sleep(60)%'");
    expect(agent(`kill ${adminThread}`).stderr).toMatch(/not owner of thread|denied/i);
    expect(dockerOk(['exec', mysqlContainer(project.a), 'ls', '/tmp'])).not.toContain('pwned');
  });

  it('audit --live asks from inside what MYSQL_URL logs in as: the tenant passes, the same user with FILE is reported', () => {
    const stack = locateStack(ws.a.dir, composeFile);
    const logins = () => sharedLogins(stack, app).map(({ service, admin }) => `${service}:${admin}`);
    expect(logins()).toEqual(['mysql:false']);
    root('a', `grant file on *.* to '${user}'@'%'`);
    try {
      expect(logins()).toEqual(['mysql:true']);
    } finally {
      root('a', `revoke file on *.* from '${user}'@'%'`);
    }
    expect(logins()).toEqual(['mysql:false']);
  });

  it('down-worktree --volumes drops the tenant: its user and its schema', async () => {
    expect(await downWorktree({ composeFile, volumes: true }, context(ws.a.dir, 'down-worktree'))).toEqual({ success: true });
    expect(root('a', `select count(*) from mysql.user where user = '${user}'`)).toBe('0');
    expect(root('a', `select count(*) from information_schema.schemata where schema_name = 'app_${tenant}'`)).toBe('0');
    expect(root('a', 'select group_concat(name order by name) from app.team')).toBe('alice,only-in-a');
  });
});
