/**
 * Figure 12: what a tenant per worktree costs (issue #31). 12a: a cold `up-worktree` (stack down,
 * images built) that makes the worktree's tenant — its role, and its database copied from the
 * shared one — against one that finds it made. 12b: `CREATE DATABASE … TEMPLATE` of a shared
 * database of ~100 MB, against an empty `CREATE DATABASE`, both as the host runs them (psql in
 * the shared container through `docker exec`).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flushChanges, FsTree } from 'nx/src/generators/tree';
import { buildPackages } from '../scripts/build-packages';
import { docker, quiet, ROOT, rows, RUN } from './common';
import { alternate, ratioRow } from './measure';
import { createSandboxWorkspace, trustCheckoutsAsRoot } from '../tools/testing/sandbox-workspace';

/* eslint-disable @typescript-eslint/no-require-imports */
export async function benchTenants(): Promise<string[]> {
  buildPackages(['socket-proxy', 'devsec']);
  const dist = join(ROOT, 'dist/packages/devsec/src');
  const { secureDevcontainerGenerator } = require(join(dist, 'generators/secure-devcontainer/generator'));
  const { sharedServiceGenerator } = require(join(dist, 'generators/shared-service/generator'));
  const upWorktree = require(join(dist, 'executors/up-worktree/executor')).default;
  const upShared = require(join(dist, 'executors/up-shared/executor')).default;
  const downShared = require(join(dist, 'executors/down-shared/executor')).default;
  const { prepareWorktree } = require(join(dist, 'host/stack/sandbox-stack'));
  const { dropTenants } = require(join(dist, 'host/stack/tenants'));
  const { sharedProjectName } = require(join(dist, 'host/stack/shared-project'));

  trustCheckoutsAsRoot();
  const stateHome = mkdtempSync(join(tmpdir(), 'devsec-bench-tenants-state-'));
  const savedState = process.env.XDG_STATE_HOME;
  process.env.XDG_STATE_HOME = stateHome;
  const ws = createSandboxWorkspace('devsec-bench-tenants-', `bench-tenants-${RUN}`);
  const dir = ws.dir;
  const network = `devsec-bench-tenants-${RUN}`;
  const tree = new FsTree(dir, false);
  await secureDevcontainerGenerator(tree, { project: 'app', network, skipFormat: true });
  await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
  flushChanges(dir, tree.listChanges());
  ws.git('add', '-A');
  ws.git('commit', '-q', '-m', 'the sandbox, with a shared postgres');
  ws.chownToCheckoutUser();
  const composeFile = 'apps/app/.devcontainer/docker-compose.yml';
  const context = (targetName: string) => ({ root: dir, cwd: dir, projectName: 'app', targetName, isVerbose: false });
  const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const sharedName = /^name: (\S+)$/m.exec(readFileSync(join(dir, 'docker-compose.shared.yml'), 'utf-8'))![1];
  const sharedProject = sharedProjectName(sharedName, join(dir, '.git'));
  const postgres = () =>
    docker([
      'ps',
      '-q',
      '--filter',
      `label=com.docker.compose.project=${sharedProject}`,
      '--filter',
      'label=com.docker.compose.service=postgres',
    ]).stdout.trim();
  const admin = (sql: string, database = 'postgres') => {
    const result = docker(['exec', postgres(), 'psql', '-X', '-q', '-tA', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', database, '-c', sql]);
    if (result.status !== 0) throw new Error(result.stderr);
    return result.stdout.trim();
  };
  let project = '';
  const files = () =>
    ['docker-compose.yml', 'docker-compose.services.yml', 'docker-compose.worktree.yml'].flatMap((f) => ['-f', join(dir, 'apps/app/.devcontainer', f)]);
  const down = () => {
    const result = docker(['compose', '-p', project, ...files(), 'down']);
    if (result.status !== 0) throw new Error(result.stderr);
  };
  const up = async () => {
    const result: { success: boolean } = await quiet(() => upWorktree({ composeFile }, context('up-worktree')));
    if (!result.success) throw new Error('up-worktree failed');
  };
  const notes: string[] = [];
  try {
    const shared: { success: boolean } = await quiet(() => upShared({}, context('up-shared')));
    if (!shared.success) throw new Error('up-shared failed');
    admin("create table team(name text); insert into team values ('alice')", 'app');
    await up(); // builds the images once, and makes the tenant
    project = (/COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(dir, 'apps/app/.devcontainer/.env'), 'utf-8')) as RegExpExecArray)[1];
    const dropTenant = () => {
      const stack = prepareWorktree(dir, composeFile, undefined, () => undefined);
      dropTenants(stack.tenants, stack.sharedSecrets ?? {}, silent);
    };
    // A: stack down and the tenant dropped, so that up-worktree makes it again; B: stack down, the tenant kept.
    const cold = { ta: [] as number[], tb: [] as number[] };
    for (let i = 0; i < 3; i++) {
      for (const which of i % 2 ? (['b', 'a'] as const) : (['a', 'b'] as const)) {
        down();
        if (which === 'a') dropTenant();
        const start = process.hrtime.bigint();
        await up();
        (which === 'a' ? cold.ta : cold.tb).push(Number(process.hrtime.bigint() - start) / 1e6);
      }
    }
    rows.push(
      ratioRow(
        '12a. Cold `up-worktree` (images built, stack down) that makes the tenant (role, database copied from a small shared one) / that finds it made (3 pairs)',
        cold.ta,
        cold.tb,
      ),
    );

    // ~100 MB in the shared database, then the copy a new tenant gets against an empty database.
    admin('create table big as select g as id, repeat(md5(g::text), 3) as payload from generate_series(1, 800000) g; checkpoint', 'app');
    const size = Number(admin("select pg_database_size('app')"));
    let n = 0;
    const copies: string[] = [];
    const copy = alternate(
      5,
      () => {
        const name = `bench_copy_${n++}`;
        copies.push(name);
        admin(`create database ${name} template app`);
      },
      () => {
        const name = `bench_empty_${n++}`;
        copies.push(name);
        admin(`create database ${name}`);
      },
    );
    for (const name of copies.splice(0)) admin(`drop database ${name}`);
    rows.push(
      ratioRow(
        `12b. \`CREATE DATABASE … TEMPLATE\` of a ${(size / 2 ** 20).toFixed(0)} MB shared database / an empty \`CREATE DATABASE\` (docker exec psql, 5 pairs)`,
        copy.ta,
        copy.tb,
      ),
    );
    notes.push(`Figure 12: the shared Postgres is the stand-in postgres:17 (Debian's postgresql-17), its data on a local volume.`);
  } finally {
    if (project) docker(['compose', '-p', project, ...files(), 'down', '--volumes', '--rmi', 'local']);
    await quiet(() => downShared({ volumes: true }, context('down-shared'))).catch(() => undefined);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
    rmSync(stateHome, { recursive: true, force: true });
    if (savedState === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = savedState;
  }
  return notes;
}
