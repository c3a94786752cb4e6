/**
 * What the host says to a shared service to give a worktree a tenant of its own, as pure
 * functions of validated names: SQL for Postgres and MySQL, redis-cli lines for Redis, a
 * mongosh script for MongoDB. Every identifier and literal goes through a quoting function of
 * the service's own grammar, and the names are checked against identifier rules before that —
 * nothing here is built from unvalidated input. Passwords travel on the program's standard
 * input, never on a command line.
 *
 * Proven where: the Postgres and Redis statements run against the real engine in
 * tenants.docker.spec.ts (stand-in images of postgres:17 and redis:7), the MySQL ones in
 * shared-upgrade.docker.spec.ts (a stand-in mysql:8.4 built on Debian's MariaDB: MySQL 8 itself
 * is not proven here); the MongoDB ones, which up-worktree runs as it runs MySQL's, are covered by
 * unit tests only (tenants.spec.ts: Debian has no MongoDB, nor anything speaking its protocol, to
 * build a stand-in from).
 */
import { createHash } from 'node:crypto';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

/** A tenant: lower-case letters, digits and `_`, starting with a letter; short enough to prefix a database name. */
export const TENANT_NAME = /^[a-z][a-z0-9_]{0,39}$/;
/** What we generate (base64url): no quoting would be needed anywhere, and quoting is done anyway. */
const PASSWORD = /^[A-Za-z0-9_.~+-]{8,200}$/;
/** A database name as shared-service accepts it (--database). */
const DATABASE = /^[A-Za-z0-9_-]{1,63}$/;
/** Postgres and MySQL cut identifiers at 63/64 bytes: a tenant's database name stays within 63. */
const MAX_IDENTIFIER = 63;

export type Seed = 'template' | 'empty';

/**
 * The tenant of a worktree's stack, from its compose project (`<project>-<folder>-<hash of the
 * worktree's path>`): stable for the worktree, distinct across worktrees and clones. Lower-case,
 * `_` for anything else; a long one keeps its head and the hash at its end.
 */
export function tenantName(composeProject: string): string {
  let name = composeProject
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (!/^[a-z]/.test(name)) name = `t_${name}`;
  if (name.length > 40) {
    const hash = createHash('sha256').update(composeProject).digest('hex').slice(0, 8);
    name = `${name.slice(0, 31).replace(/_+$/, '')}_${hash}`;
  }
  return checkTenant(name);
}

export function checkTenant(tenant: string): string {
  if (!TENANT_NAME.test(tenant)) throw new SandboxError(`"${visible(tenant)}" is not a tenant name (lower-case letters, digits, "_", at most 40).`);
  return tenant;
}

function checkPassword(password: string): string {
  if (!PASSWORD.test(password)) throw new SandboxError('a tenant password must be 8 to 200 letters, digits or "_.~+-".');
  return password;
}

function checkDatabase(database: string): string {
  if (!DATABASE.test(database)) throw new SandboxError(`"${visible(database)}" is not a database name (letters, digits, "_", "-").`);
  return database;
}

/** The tenant's own database: `<database>_<tenant>`, the shared name shortened when the whole would pass 63 bytes. */
export function tenantDatabase(database: string, tenant: string): string {
  checkDatabase(database);
  checkTenant(tenant);
  return `${database.slice(0, MAX_IDENTIFIER - 1 - tenant.length)}_${tenant}`;
}

/** The Redis key (and channel) prefix of a tenant. */
export const redisPrefix = (tenant: string) => `${checkTenant(tenant)}:`;

// ---------------------------------------------------------------------------------------------
// Postgres: run by psql as the administrator, connected to the `postgres` database.

/** A Postgres identifier, double-quoted (`"` doubled). */
export function pgIdent(name: string): string {
  if (name.includes('\0')) throw new SandboxError('an identifier cannot hold a NUL character.');
  return `"${name.replace(/"/g, '""')}"`;
}

/** A Postgres string literal, single-quoted (`'` doubled; standard_conforming_strings is on since 9.1, so `\` is itself). */
export function pgLiteral(value: string): string {
  if (value.includes('\0')) throw new SandboxError('a literal cannot hold a NUL character.');
  if (value.includes('\\')) return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return `'${value.replace(/'/g, "''")}'`;
}

/** The roles that run programs or read and write files on the server: a tenant is in none of them. */
export const PG_SERVER_ROLES = ['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files'];

/**
 * The tenant's role, created when missing and set to what a tenant is, whatever it was:
 * LOGIN, none of the administrator's attributes, its password, member of no role.
 */
export function pgEnsureRole(tenant: string, password: string): string {
  const [name, literal] = [pgIdent(checkTenant(tenant)), pgLiteral(tenant)];
  return [
    `SELECT format('CREATE ROLE %I', ${literal}) WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${literal})`,
    '\\gexec',
    `ALTER ROLE ${name} WITH LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS INHERIT CONNECTION LIMIT -1 PASSWORD ${pgLiteral(checkPassword(password))};`,
    // Every membership (the server-file roles among them) taken away.
    `SELECT format('REVOKE %I FROM %I', r.rolname, ${literal}) FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles r ON r.oid = m.roleid ` +
      `WHERE m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = ${literal})`,
    '\\gexec',
    '',
  ].join('\n');
}

/** `1` when the database exists, nothing otherwise. */
export function pgDatabaseExists(database: string): string {
  return `SELECT 1 FROM pg_catalog.pg_database WHERE datname = ${pgLiteral(checkDatabase(database))};\n`;
}

/**
 * The tenant's database, created from the shared one (`template`) or empty, owned by the
 * administrator and closed to PUBLIC until it is handed over (pgGiveDatabase): the host connects
 * to it as superuser for the hand-over, and an owner could have set its settings by then
 * (`ALTER DATABASE … SET search_path = trap, pg_catalog`, a function of the trap's then run as
 * superuser — red team, stop 8). CREATE DATABASE cannot run in a transaction: statements of their own.
 */
export function pgCreateDatabase(tenant: string, database: string, shared: string, seed: Seed): string {
  checkTenant(tenant);
  const template = seed === 'template' ? ` TEMPLATE ${pgIdent(checkDatabase(shared))}` : '';
  const name = pgIdent(checkDatabase(database));
  return `CREATE DATABASE ${name}${template};\nREVOKE ALL ON DATABASE ${name} FROM PUBLIC;\n`;
}

/** The database handed to the tenant, after pgHandOver: its owner from now on. */
export function pgGiveDatabase(tenant: string, database: string): string {
  return `ALTER DATABASE ${pgIdent(checkDatabase(database))} OWNER TO ${pgIdent(checkTenant(tenant))};\n`;
}

/** Who may connect: the tenant to its own database only (owners may; PUBLIC's default CONNECT and TEMP go). */
export function pgLockDatabases(tenant: string, database: string, shared: string): string {
  return [
    `REVOKE ALL ON DATABASE ${pgIdent(checkDatabase(database))} FROM PUBLIC;`,
    `GRANT CONNECT, TEMPORARY ON DATABASE ${pgIdent(database)} TO ${pgIdent(checkTenant(tenant))};`,
    `REVOKE CONNECT, TEMPORARY ON DATABASE ${pgIdent(checkDatabase(shared))} FROM PUBLIC;`,
    '',
  ].join('\n');
}

/**
 * Run in the new database right after its copy from the template: what the team's schema holds
 * (schemas, tables, views, sequences, functions, types — not what an extension owns) is handed
 * to the tenant, so the agent can migrate its copy, and no function of the administrator's
 * (a SECURITY DEFINER one above all) is left to run with the administrator's rights. Its search
 * path is pg_catalog's alone, whatever the database says: nothing of the tenant's is called by name.
 */
export function pgHandOver(tenant: string): string {
  const owner = pgLiteral(checkTenant(tenant));
  const ours = (namespace: string) => `${namespace} NOT IN ('pg_catalog', 'information_schema') AND ${namespace} NOT LIKE 'pg\\_%'`;
  const notExtension = (catalog: string, oid: string, also = '') =>
    `NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.classid = '${catalog}'::regclass AND d.objid = ${oid} AND d.deptype IN ('e'${also}))`;
  return [
    'SET search_path = pg_catalog, pg_temp;',
    'DO $devsec$',
    'DECLARE r record;',
    'BEGIN',
    `  FOR r IN SELECT n.nspname FROM pg_catalog.pg_namespace n WHERE ${ours('n.nspname')} AND ${notExtension('pg_namespace', 'n.oid')} LOOP`,
    `    EXECUTE format('ALTER SCHEMA %I OWNER TO %I', r.nspname, ${owner});`,
    '  END LOOP;',
    "  FOR r IN SELECT c.oid::regclass AS name, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' " +
      "WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace " +
      `WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND ${ours('n.nspname')} AND ${notExtension('pg_class', 'c.oid', ", 'a', 'i'")} LOOP`,
    `    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.name, ${owner});`,
    '  END LOOP;',
    "  FOR r IN SELECT p.oid::regprocedure AS name, CASE p.prokind WHEN 'a' THEN 'AGGREGATE' WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END AS kind " +
      `FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE ${ours('n.nspname')} AND ${notExtension('pg_proc', 'p.oid')} LOOP`,
    `    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.name, ${owner});`,
    '  END LOOP;',
    "  FOR r IN SELECT t.oid::regtype AS name, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind FROM pg_catalog.pg_type t " +
      `JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.typtype IN ('e', 'd', 'r') AND ${ours('n.nspname')} AND ${notExtension('pg_type', 't.oid')} LOOP`,
    `    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.name, ${owner});`,
    '  END LOOP;',
    'END',
    '$devsec$;',
    '',
  ].join('\n');
}

/** Sessions on the shared database, which CREATE DATABASE … TEMPLATE needs gone. */
export function pgTemplateSessions(shared: string): string {
  return `SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE datname = ${pgLiteral(checkDatabase(shared))} AND pid <> pg_backend_pid();\n`;
}

/** Ends the sessions on the shared database (the last resort, said so by the caller). */
export function pgEndTemplateSessions(shared: string): string {
  return `SELECT pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE datname = ${pgLiteral(checkDatabase(shared))} AND pid <> pg_backend_pid();\n`;
}

/** The tenant's database, gone whoever is connected to it. */
export function pgDropDatabase(database: string): string {
  return `DROP DATABASE IF EXISTS ${pgIdent(checkDatabase(database))} WITH (FORCE);\n`;
}

/** The tenant's database and role, gone. */
export function pgDropTenant(tenant: string, database: string): string {
  return `${pgDropDatabase(database)}DROP ROLE IF EXISTS ${pgIdent(checkTenant(tenant))};\n`;
}

/** The connection URL the dev container gets. */
export function postgresUrl(host: string, port: number, tenant: string, password: string, database: string): string {
  return `postgresql://${encodeURIComponent(tenant)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
}

// ---------------------------------------------------------------------------------------------
// Redis: lines for redis-cli, run as the default user (the administrator).

/** One redis-cli argument: bare when it is plain, else double-quoted with `"` and `\` escaped. */
export function redisArg(value: string): string {
  if (/^[A-Za-z0-9_.~+:*&>#%@-]+$/.test(value)) return value;
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/**
 * Commands a tenant may not run besides the administrative and dangerous ones: KEYS (dangerous
 * anyway), SCAN and RANDOMKEY list every tenant's key names whatever the key pattern says.
 */
export const REDIS_DENIED = ['-@admin', '-@dangerous', '-scan', '-randomkey'];

/** The default user's password set (the administrator's), then the tenant made afresh: its keys and channels only. */
export function redisEnsureTenant(tenant: string, password: string, adminPassword: string): string {
  const prefix = redisPrefix(tenant);
  return [
    ['ACL', 'SETUSER', 'default', 'on', 'resetpass', `>${checkPassword(adminPassword)}`],
    ['ACL', 'SETUSER', tenant, 'reset', 'on', `>${checkPassword(password)}`, `~${prefix}*`, `&${prefix}*`, '+@all', ...REDIS_DENIED],
  ]
    .map((line) => `${line.map(redisArg).join(' ')}\n`)
    .join('');
}

/** The tenant's user removed. Its keys are removed by the caller (a scan of its prefix). */
export function redisDropTenant(tenant: string): string {
  return `ACL DELUSER ${redisArg(checkTenant(tenant))}\n`;
}

export function redisUrl(host: string, port: number, tenant: string, password: string): string {
  return `redis://${encodeURIComponent(tenant)}:${encodeURIComponent(password)}@${host}:${port}`;
}

// ---------------------------------------------------------------------------------------------
// MySQL: run by the mysql client as root, in the service's container (its local socket).

/** A MySQL identifier, back-quoted (`` ` `` doubled). */
export function mysqlIdent(name: string): string {
  if (name.includes('\0')) throw new SandboxError('an identifier cannot hold a NUL character.');
  return `\`${name.replace(/`/g, '``')}\``;
}

/** A MySQL string literal: `\` and `'` escaped, whatever NO_BACKSLASH_ESCAPES says (the value holds neither). */
export function mysqlLiteral(value: string): string {
  if (!/^[A-Za-z0-9_.~+@%-]*$/.test(value)) throw new SandboxError('a MySQL literal here holds no quote, backslash or control character.');
  return `'${value}'`;
}

/**
 * A schema as a database-level GRANT names it: `_` and `%` are wildcards there, so each `_` of the
 * name is escaped (`\_`). Unescaped, the grant on `app_t1` also covers `appXt1`, … — schemas the
 * tenant could create beside its own, which no reset or removal of the tenant drops (red team, stop 8).
 */
export function mysqlGrantSchema(database: string): string {
  return mysqlIdent(checkDatabase(database).replace(/_/g, '\\_'));
}

/** A user with every privilege on its own schema and nothing else: no FILE, SUPER, PROCESS, no grant option. */
export function mysqlEnsureTenant(tenant: string, password: string, database: string): string {
  const user = `${mysqlLiteral(checkTenant(tenant))}@'%'`;
  const schema = mysqlIdent(checkDatabase(database));
  const secret = mysqlLiteral(checkPassword(password));
  return [
    `CREATE DATABASE IF NOT EXISTS ${schema};`,
    `CREATE USER IF NOT EXISTS ${user} IDENTIFIED BY ${secret};`,
    `ALTER USER ${user} IDENTIFIED BY ${secret};`,
    `REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${user};`,
    `GRANT ALL PRIVILEGES ON ${mysqlGrantSchema(database)}.* TO ${user};`,
    '',
  ].join('\n');
}

export function mysqlDropTenant(tenant: string, database: string): string {
  return [`DROP DATABASE IF EXISTS ${mysqlIdent(checkDatabase(database))};`, `DROP USER IF EXISTS ${mysqlLiteral(checkTenant(tenant))}@'%';`, ''].join('\n');
}

/** The tenant's schema emptied (reset-data): dropped, and made again by mysqlEnsureTenant. */
export function mysqlDropDatabase(database: string): string {
  return `DROP DATABASE IF EXISTS ${mysqlIdent(checkDatabase(database))};\n`;
}

/** MySQL 8 takes user names of 32 characters at most: a longer tenant keeps its head and a hash of the whole. */
export function mysqlUser(tenant: string): string {
  checkTenant(tenant);
  if (tenant.length <= 32) return tenant;
  return `${tenant.slice(0, 23).replace(/_+$/, '')}_${createHash('sha256').update(tenant).digest('hex').slice(0, 8)}`;
}

export function mysqlUrl(host: string, port: number, user: string, password: string, database: string): string {
  return `mysql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${host}:${port}/${encodeURIComponent(database)}`;
}

// ---------------------------------------------------------------------------------------------
// MongoDB (unit-tested only): a mongosh script, values as JSON literals, run by `mongosh --file
// /dev/stdin` in the service's container (a piped REPL would end with status 0 after a throw).

/** The administrator's variable in that mongosh's environment: its password never on a command line. */
export const MONGO_ADMIN_VARIABLE = 'DEVSEC_MONGO_ADMIN';

/** The script's first line: mongosh (connected without credentials) logs in as the preset's root from the admin database. */
export function mongoAuthenticate(): string {
  return `db.getSiblingDB('admin').auth('root', process.env.${MONGO_ADMIN_VARIABLE});\n`;
}

export function mongoEnsureTenant(tenant: string, password: string, database: string): string {
  const [user, pwd, db] = [checkTenant(tenant), checkPassword(password), checkDatabase(database)].map((value) => JSON.stringify(value));
  const roles = `[{ role: 'readWrite', db: ${db} }, { role: 'dbAdmin', db: ${db} }]`;
  return [
    `const tenantDb = db.getSiblingDB(${db});`,
    `if (tenantDb.getUser(${user})) tenantDb.updateUser(${user}, { pwd: ${pwd}, roles: ${roles} });`,
    `else tenantDb.createUser({ user: ${user}, pwd: ${pwd}, roles: ${roles} });`,
    '',
  ].join('\n');
}

/** `1` when the tenant's user exists, `0` otherwise (printed). */
export function mongoTenantExists(tenant: string, database: string): string {
  const [user, db] = [checkTenant(tenant), checkDatabase(database)].map((value) => JSON.stringify(value));
  return `print(db.getSiblingDB(${db}).getUser(${user}) ? 1 : 0);\n`;
}

export function mongoDropTenant(tenant: string, database: string): string {
  const [user, db] = [checkTenant(tenant), checkDatabase(database)].map((value) => JSON.stringify(value));
  return [`const tenantDb = db.getSiblingDB(${db});`, `if (tenantDb.getUser(${user})) tenantDb.dropUser(${user});`, 'tenantDb.dropDatabase();', ''].join('\n');
}

/** The tenant's data gone (reset-data); its user, defined in that database, is kept (dropDatabase leaves users). */
export function mongoDropDatabase(database: string): string {
  return `db.getSiblingDB(${JSON.stringify(checkDatabase(database))}).dropDatabase();\n`;
}

/** The connection URL the dev container gets: the tenant authenticates against its own database. */
export function mongoUrl(host: string, port: number, tenant: string, password: string, database: string): string {
  const db = encodeURIComponent(database);
  return `mongodb://${encodeURIComponent(tenant)}:${encodeURIComponent(password)}@${host}:${port}/${db}?authSource=${db}`;
}
