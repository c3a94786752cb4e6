/**
 * A tenant per worktree in the shared services: the host (never the agent) makes sure the
 * stack's tenant exists in each wired Postgres, MySQL, MongoDB and Redis before the dev container starts, and
 * the dev container gets the tenant's connection variables only — never the administrator's.
 * The work is done through `docker exec` into the shared service's container, as its
 * administrator, with the statements of tenant-statements.ts on standard input.
 *
 * Which services: those of docker-compose.shared.yml that shared-service wired to the project
 * (`x-devsec.projects`) with a connection variable, of the postgres, mysql, mongodb or redis preset
 * (its `x-devsec.preset`, or for a file written before it was recorded, its image). `custom`
 * services are left as they are. MongoDB's tenants are wired as MySQL's, but proven by unit tests
 * only (tenants.spec.ts): Debian has no MongoDB to build a stand-in from.
 *
 * Only from a file whose stamp matches (shared-trust.ts: the one door up-shared's inferred targets
 * pass too): the database a tenant is copied from or named after, its port and its variable are
 * the file's word, and an edit a merged commit brings could point them at another database on the
 * same server (red team). Such a file is refused, naming it and how to stamp it again.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ComposeModel, ComposeService } from '../../sandbox/compose-model';
import { SandboxError } from '../../sandbox/errors';
import type { Say } from '../../sandbox/say';
import type { SharedFileTrust } from '../../sandbox/shared-trust';
import { visible, visibleText } from '../../sandbox/visible';
import { COMPOSE_PROJECT_LABEL, COMPOSE_SERVICE_LABEL, OWNER_LABEL, SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { runCommand, Runner } from '../engine/run';
import { readStateFile, stateDir, stateKey, writeStateFile } from '../engine/state-dir';
import { parseSecrets } from './secrets';
import {
  mysqlDropDatabase,
  mysqlDropTenant,
  mysqlEnsureTenant,
  mysqlLiteral,
  mysqlUrl,
  mysqlUser,
  MONGO_ADMIN_VARIABLE,
  mongoAuthenticate,
  mongoDropDatabase,
  mongoDropTenant,
  mongoEnsureTenant,
  mongoTenantExists,
  mongoUrl,
  pgCreateDatabase,
  pgDatabaseExists,
  pgDropDatabase,
  pgDropTenant,
  pgEndTemplateSessions,
  pgEnsureRole,
  pgGiveDatabase,
  pgHandOver,
  pgLockDatabases,
  pgTemplateSessions,
  postgresUrl,
  redisArg,
  redisDropTenant,
  redisEnsureTenant,
  redisPrefix,
  redisUrl,
  Seed,
  tenantDatabase,
  tenantName,
} from './tenant-statements';

export type TenantKind = 'postgres' | 'redis' | 'mysql' | 'mongodb';

export interface TenantService {
  /** The service's name in docker-compose.shared.yml: its hostname on the shared network. */
  service: string;
  kind: TenantKind;
  port: number;
  /** The connection variable the dev container gets (DATABASE_URL, REDIS_URL, …). */
  variable: string;
  /** The administrator's password variable (DEVSEC_<NAME>_PASSWORD), in the shared secrets file. */
  adminSecret: string;
  /** Postgres: the shared database, the tenant's copy's template; MySQL, MongoDB: the database its name starts with. */
  database?: string;
  seed: Seed;
}

export interface TenantPlan {
  sharedProject: string;
  tenant: string;
  services: Array<TenantService & { password: string; url: string; tenantDatabase?: string; user?: string }>;
  /** Why nothing is planned: the shared file wires tenants for the project, but is not one to take them from. */
  refused?: string;
}

interface Wiring {
  preset?: unknown;
  seed?: unknown;
  connection?: Record<string, unknown>;
  projects?: unknown;
}

const IMAGES: Array<[RegExp, TenantKind]> = [
  [/(^|\/)postgres([:@]|$)/, 'postgres'],
  [/(^|\/)redis([:@]|$)/, 'redis'],
  [/(^|\/)mysql([:@]|$)/, 'mysql'],
  [/(^|\/)mongo([:@]|$)/, 'mongodb'],
];
const DEFAULT_PORTS: Record<TenantKind, number> = { postgres: 5432, redis: 6379, mysql: 3306, mongodb: 27017 };

/** The preset shared-service recorded, or for a file written before it was recorded, the one its image says. */
function presetOf(service: ComposeService | null | undefined): string | undefined {
  const wiring = service?.['x-devsec'] as Wiring | undefined;
  if (!wiring) return undefined;
  if (typeof wiring.preset === 'string') return wiring.preset;
  const image = typeof service?.image === 'string' ? service.image : '';
  return IMAGES.find(([pattern]) => pattern.test(image))?.[1];
}

/** Whether shared-service wired a connection variable for it (`custom` has none). */
const hasConnection = (service: ComposeService | null | undefined) => Object.keys((service?.['x-devsec'] as Wiring | undefined)?.connection ?? {}).length > 0;

/** `DEVSEC_<NAME>_PASSWORD`, as shared-service names the administrator's (generator.ts). */
const adminSecretOf = (service: string) => `DEVSEC_${service.toUpperCase().replace(/-/g, '_')}_PASSWORD`;

function environmentValue(environment: unknown, name: string): string | undefined {
  if (Array.isArray(environment)) {
    const entry = environment.find((item) => typeof item === 'string' && item.startsWith(`${name}=`)) as string | undefined;
    return entry?.slice(name.length + 1);
  }
  const value = (environment as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : undefined;
}

/** The wired Postgres, MySQL, MongoDB and Redis services of the shared file for `project`. */
export function tenantServices(model: ComposeModel | null | undefined, project: string): TenantService[] {
  const services: TenantService[] = [];
  for (const [name, service] of Object.entries(model?.services ?? {})) {
    const wiring = service?.['x-devsec'] as Wiring | undefined;
    const projects = Array.isArray(wiring?.projects) ? wiring.projects : [];
    const variables = Object.entries(wiring?.connection ?? {}).filter(([, value]) => typeof value === 'string');
    if (!projects.includes(project) || variables.length === 0) continue;
    const kind = presetOf(service) as TenantKind | undefined;
    if (!kind || !(kind in DEFAULT_PORTS)) continue;
    const [variable, url] = variables[0] as [string, string];
    const port = Number(/@[^/@:]+:(\d+)/.exec(url)?.[1] ?? DEFAULT_PORTS[kind]);
    // Only Postgres copies a database as a template; a MySQL tenant's schema starts empty.
    const seed: Seed = kind !== 'postgres' ? 'empty' : wiring?.seed === 'empty' ? 'empty' : 'template';
    const database =
      kind === 'postgres'
        ? (environmentValue(service?.environment, 'POSTGRES_DB') ?? 'postgres')
        : kind === 'mysql'
          ? (environmentValue(service?.environment, 'MYSQL_DATABASE') ?? 'app')
          : kind === 'mongodb'
            ? // The preset names its database in the URL's path only (mongodb://root:…@mongodb:27017/<database>?authSource=admin).
              (/@[^/@]+\/([^/?#]+)/.exec(url)?.[1] ?? 'app')
            : undefined;
    services.push({ service: name, kind, port, variable, adminSecret: adminSecretOf(name), database, seed });
  }
  return services;
}

/** `<state>/shared/<shared project>.tenants.env`: the tenants' passwords, beside the administrators'. */
export function tenantSecretsPath(sharedProject: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(['shared'], env), `${stateKey(sharedProject)}.tenants.env`);
}

const tenantSecret = (service: string, tenant: string) => `DEVSEC_${service.toUpperCase().replace(/-/g, '_')}_${tenant.toUpperCase()}_PASSWORD`;

function readTenantSecrets(path: string): Record<string, string> {
  const text = readStateFile(path);
  return text === undefined ? {} : parseSecrets(text, path);
}

function writeTenantSecrets(path: string, values: Record<string, string>): void {
  const lines = Object.entries(values).map(([name, value]) => `${name}=${value}`);
  writeStateFile(path, `# Passwords of the worktrees' tenants in the shared services (@org/devsec). Not in any workspace.\n${lines.join('\n')}\n`);
}

/**
 * The stack's tenant and its credentials in each wired service: passwords generated once and
 * kept in the state directory (0600). Nothing is asked of the engine.
 */
export function planTenants(
  model: ComposeModel | null | undefined,
  /** Whether the shared file, as `model` was parsed from it, is one @org/devsec wrote (shared-trust.ts). */
  trust: SharedFileTrust,
  /** The shared services' compose project (shared-project.ts). */
  sharedProject: string | undefined,
  project: string,
  composeProject: string,
  env: NodeJS.ProcessEnv = process.env,
): TenantPlan | undefined {
  if (!model || !sharedProject) return undefined;
  const services = tenantServices(model, project);
  const tenant = tenantName(composeProject);
  if (services.length === 0) return { sharedProject, tenant, services: [] };
  if (!trust.trusted) {
    const names = services.map((service) => visible(service.service)).join(', ');
    return {
      sharedProject,
      tenant,
      services: [],
      refused:
        `Refusing: ${visible(project)}'s tenant in the shared ${names} is made, reset and removed as ${SHARED_COMPOSE_FILE} says (the database it is ` +
        `copied from or named after, its port, the variable that carries its credentials), and that file is not one @org/devsec wrote or you stamped ` +
        `again after review. ${trust.message}`,
    };
  }
  const path = tenantSecretsPath(sharedProject, env);
  const secrets = readTenantSecrets(path);
  let changed = false;
  const planned = services.map((service) => {
    const name = tenantSecret(service.service, tenant);
    if (!secrets[name]) {
      secrets[name] = randomBytes(18).toString('base64url');
      changed = true;
    }
    const password = secrets[name];
    const host = service.service;
    if (service.kind === 'postgres') {
      const database = tenantDatabase(service.database!, tenant);
      return { ...service, password, tenantDatabase: database, url: postgresUrl(host, service.port, tenant, password, database) };
    }
    if (service.kind === 'mysql') {
      const database = tenantDatabase(service.database!, tenant);
      const user = mysqlUser(tenant);
      return { ...service, password, tenantDatabase: database, user, url: mysqlUrl(host, service.port, user, password, database) };
    }
    if (service.kind === 'mongodb') {
      const database = tenantDatabase(service.database!, tenant);
      return { ...service, password, tenantDatabase: database, user: tenant, url: mongoUrl(host, service.port, tenant, password, database) };
    }
    return { ...service, password, url: redisUrl(host, service.port, tenant, password) };
  });
  if (changed) writeTenantSecrets(path, secrets);
  return { sharedProject, tenant, services: planned };
}

/** Throws the plan's refusal, if it has one: before the engine is asked anything for it. */
export function checkTenantPlan(plan: TenantPlan | undefined): void {
  if (plan?.refused) throw new SandboxError(plan.refused);
}

/** The tenant's passwords forgotten (after its removal): a next tenant of the same name gets new ones. */
function forgetTenantSecrets(plan: TenantPlan, env: NodeJS.ProcessEnv = process.env): void {
  const path = tenantSecretsPath(plan.sharedProject, env);
  const secrets = readTenantSecrets(path);
  const names = plan.services.map((service) => tenantSecret(service.service, plan.tenant));
  if (!names.some((name) => name in secrets)) return;
  for (const name of names) delete secrets[name];
  writeTenantSecrets(path, secrets);
}

/** What the dev container gets: each wired service's connection variable, the tenant's. */
export function tenantEnvironment(plan: TenantPlan | undefined): Record<string, string> {
  return Object.fromEntries((plan?.services ?? []).map((service) => [service.variable, service.url]));
}

/** The administrators' passwords the dev container gets: none once there is a plan (every preset with a password has tenants). */
export function administratorSecrets(plan: TenantPlan | undefined, secrets: Record<string, string>): Record<string, string> {
  return plan ? {} : secrets;
}

/**
 * The running container of a shared service, or undefined. Never one the agent made: with
 * --testContainers the agent may label its own containers as another compose project's service
 * (compose inside needs those labels), so the host — about to hand it the administrator's
 * password — skips every container carrying the owner label the proxy stamps on what the agent creates.
 */
export function sharedServiceContainer(sharedProject: string, service: string, run: Runner): string | undefined {
  const ps = run('docker', [
    'ps',
    '--no-trunc',
    '--filter',
    `label=${COMPOSE_PROJECT_LABEL}=${sharedProject}`,
    '--filter',
    `label=${COMPOSE_SERVICE_LABEL}=${service}`,
    '--filter',
    'status=running',
    '--format',
    `{{.ID}}\t{{.Label "${OWNER_LABEL}"}}`,
  ]);
  if (ps.status !== 0) return undefined;
  return ps.stdout
    .split('\n')
    .map((line) => line.split('\t'))
    .find(([id, owner]) => id && !owner)?.[0];
}

/** psql in the container as its administrator (the image's local socket, as its own healthcheck uses it), the script on stdin. */
function psql(container: string, database: string, script: string, run: Runner): { stdout: string } {
  const result = run('docker', ['exec', '-i', container, 'psql', '-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', database], {
    input: script,
  });
  if (result.status !== 0) {
    const message = visibleText(`${result.stderr}${result.stdout}`.trim()).split('\n').slice(-3).join(' ');
    throw new SandboxError(`Postgres (${visible(container.slice(0, 12))}) refused what the host asked of it as its administrator: ${message}`);
  }
  return { stdout: result.stdout };
}

/** redis-cli in the container as the default user, its password from the environment (REDISCLI_AUTH, never an argument). */
function redisCli(container: string, adminPassword: string, lines: string, run: Runner): string[] {
  const result = run('docker', ['exec', '-i', '-e', 'REDISCLI_AUTH', container, 'redis-cli'], {
    input: lines,
    env: { ...process.env, REDISCLI_AUTH: adminPassword },
  });
  // redis-cli exits 0 on an error reply: each answer is read.
  const answers = result.stdout.split('\n').filter((line) => line.trim() !== '');
  const failed = answers.find((line) => /^(ERR|NOPERM|WRONGPASS|NOAUTH|WRONGTYPE)\b|^\(error\)/.test(line));
  if (result.status !== 0 || failed) {
    throw new SandboxError(`Redis (${visible(container.slice(0, 12))}) refused what the host asked of it: ${visibleText(failed ?? result.stderr.trim())}`);
  }
  return answers;
}

/** The mysql client in the container as root over its local socket, the password from the environment (MYSQL_PWD, never an argument). */
function mysqlClient(container: string, adminPassword: string, script: string, run: Runner): string {
  const result = run('docker', ['exec', '-i', '-e', 'MYSQL_PWD', container, 'mysql', '-uroot', '--batch', '--skip-column-names'], {
    input: script,
    env: { ...process.env, MYSQL_PWD: adminPassword },
  });
  if (result.status !== 0) {
    const message = visibleText(`${result.stderr}${result.stdout}`.trim()).split('\n').slice(-3).join(' ');
    throw new SandboxError(`MySQL (${visible(container.slice(0, 12))}) refused what the host asked of it as root: ${message}`);
  }
  return result.stdout;
}

/**
 * mongosh in the container, connected to its own port without credentials, the script on standard
 * input after a first line that logs in as root with the password from the environment
 * (DEVSEC_MONGO_ADMIN, never an argument). `--file /dev/stdin`: a script that throws ends mongosh
 * with a failure status, where a piped REPL would say nothing.
 */
function mongosh(container: string, port: number, adminPassword: string, script: string, run: Runner): string {
  const result = run(
    'docker',
    ['exec', '-i', '-e', MONGO_ADMIN_VARIABLE, container, 'mongosh', '--quiet', '--norc', `mongodb://127.0.0.1:${port}/admin`, '--file', '/dev/stdin'],
    { input: mongoAuthenticate() + script, env: { ...process.env, [MONGO_ADMIN_VARIABLE]: adminPassword } },
  );
  if (result.status !== 0) {
    const message = visibleText(`${result.stderr}${result.stdout}`.trim()).split('\n').slice(-3).join(' ');
    throw new SandboxError(`MongoDB (${visible(container.slice(0, 12))}) refused what the host asked of it as root: ${message}`);
  }
  return result.stdout;
}

function adminOf(service: TenantService, adminSecrets: Record<string, string>): string {
  const admin = adminSecrets[service.adminSecret];
  if (!admin) throw new SandboxError(`${service.service}: no administrator password (${service.adminSecret}) in the shared secrets.`);
  return admin;
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** CREATE DATABASE … TEMPLATE needs no one else on the template: wait a little, then end their sessions, saying so. */
function createFromTemplate(container: string, service: TenantPlan['services'][number], tenant: string, say: Say, run: Runner): void {
  const create = pgCreateDatabase(tenant, service.tenantDatabase!, service.database!, service.seed);
  for (let attempt = 0; ; attempt++) {
    const busy = service.seed === 'template' && Number(psql(container, 'postgres', pgTemplateSessions(service.database!), run).stdout.trim()) > 0;
    if (!busy) break;
    if (attempt === 5) {
      say.warn(
        `${service.service}: sessions are open on the shared database ${service.database}, and Postgres copies a database only when no one is on it: ` +
          'ending them (they reconnect) to make this worktree its copy.',
      );
      psql(container, 'postgres', pgEndTemplateSessions(service.database!), run);
      break;
    }
    sleep(1000);
  }
  psql(container, 'postgres', create, run);
  // Still the administrator's, and closed to the tenant: no setting or object of the agent's is there to run as superuser.
  psql(container, service.tenantDatabase!, pgHandOver(tenant), run);
  psql(container, 'postgres', pgGiveDatabase(tenant, service.tenantDatabase!), run);
}

/**
 * Makes sure the plan's tenant exists in every wired service that runs (the shared services
 * first: up-worktree depends on up-shared). A service that is not running is said, and skipped:
 * the dev container still gets the tenant's credentials, never the administrator's.
 */
export function provisionTenants(plan: TenantPlan | undefined, adminSecrets: Record<string, string>, say: Say, run: Runner = runCommand): void {
  checkTenantPlan(plan);
  if (!plan) return;
  for (const service of plan.services) {
    const container = sharedServiceContainer(plan.sharedProject, service.service, run);
    if (!container) {
      say.warn(
        `${service.service} (shared services ${plan.sharedProject}) is not running, so this worktree's tenant ${plan.tenant} was not made there: ` +
          `${service.variable} names it all the same. Start the shared services (up-shared), then up-worktree again.`,
      );
      continue;
    }
    if (service.kind === 'postgres') {
      psql(container, 'postgres', pgEnsureRole(plan.tenant, service.password), run);
      if (psql(container, 'postgres', pgDatabaseExists(service.tenantDatabase!), run).stdout.trim() !== '1') {
        createFromTemplate(container, service, plan.tenant, say, run);
        say.info(
          `${service.service}: made this worktree's tenant ${plan.tenant} with its own database ${service.tenantDatabase}` +
            `${service.seed === 'template' ? `, a copy of ${service.database}` : ' (empty)'}. ${service.variable} names it, ` +
            `not the administrator: data written to ${service.database} before stays there (the README says how to copy it).`,
        );
      }
      psql(container, 'postgres', pgLockDatabases(plan.tenant, service.tenantDatabase!, service.database!), run);
    } else if (service.kind === 'mysql') {
      const admin = adminOf(service, adminSecrets);
      const known = mysqlClient(container, admin, `SELECT COUNT(*) FROM mysql.user WHERE User = ${mysqlLiteral(service.user!)};\n`, run).trim();
      mysqlClient(container, admin, mysqlEnsureTenant(service.user!, service.password, service.tenantDatabase!), run);
      if (known === '0') {
        say.info(
          `${service.service}: made this worktree's tenant ${service.user} with its own schema ${service.tenantDatabase} (empty), ` +
            `and no privilege beyond it. ${service.variable} names it, not root.`,
        );
      }
    } else if (service.kind === 'mongodb') {
      const admin = adminOf(service, adminSecrets);
      const known = mongosh(container, service.port, admin, mongoTenantExists(service.user!, service.tenantDatabase!), run).trim();
      mongosh(container, service.port, admin, mongoEnsureTenant(service.user!, service.password, service.tenantDatabase!), run);
      if (known !== '1') {
        say.info(
          `${service.service}: made this worktree's tenant ${service.user} (readWrite and dbAdmin on its own database ${service.tenantDatabase}, empty, ` +
            `and nothing else). ${service.variable} names it, not root.`,
        );
      }
    } else {
      const admin = adminOf(service, adminSecrets);
      const known = redisCli(container, admin, `ACL GETUSER ${redisArg(plan.tenant)}\n`, run);
      redisCli(container, admin, redisEnsureTenant(plan.tenant, service.password, admin), run);
      if (known.length === 0 || known[0] === '(nil)') {
        say.info(
          `${service.service}: made this worktree's tenant ${plan.tenant} (keys ${redisPrefix(plan.tenant)}*); ${service.variable} names it, not the administrator.`,
        );
      }
    }
  }
}

/** The tenant removed from every wired service that runs (down-worktree --volumes), and its passwords forgotten. */
export function dropTenants(plan: TenantPlan | undefined, adminSecrets: Record<string, string>, say: Say, run: Runner = runCommand): void {
  checkTenantPlan(plan);
  if (!plan) return;
  let complete = true;
  for (const service of plan.services) {
    const container = sharedServiceContainer(plan.sharedProject, service.service, run);
    if (!container) {
      complete = false;
      say.warn(
        `${service.service} is not running: this worktree's tenant ${plan.tenant} stays in it. Start the shared services and run this again to remove it.`,
      );
      continue;
    }
    if (service.kind === 'postgres') psql(container, 'postgres', pgDropTenant(plan.tenant, service.tenantDatabase!), run);
    else if (service.kind === 'mysql') mysqlClient(container, adminOf(service, adminSecrets), mysqlDropTenant(service.user!, service.tenantDatabase!), run);
    else if (service.kind === 'mongodb')
      mongosh(container, service.port, adminOf(service, adminSecrets), mongoDropTenant(service.user!, service.tenantDatabase!), run);
    else {
      const admin = adminSecrets[service.adminSecret] ?? '';
      redisCli(container, admin, redisDropTenant(plan.tenant), run);
      deleteRedisKeys(container, admin, plan.tenant, run);
    }
    say.info(
      `${service.service}: removed this worktree's tenant ${plan.tenant}${service.tenantDatabase ? ` and its database ${service.tenantDatabase}` : ' and its keys'}.`,
    );
  }
  if (complete) forgetTenantSecrets(plan);
}

/**
 * Every key of the tenant's prefix, unlinked by the administrator in the server (a script that
 * scans and unlinks): no key name crosses to the host. A list read back from `redis-cli --scan`
 * would be split at newlines, and a key of the tenant's named `<prefix>x\n<another's key>` would
 * have the administrator unlink the other key too (red team, stop 8).
 */
export const REDIS_UNLINK_PREFIX =
  "local c = '0' local n = 0 repeat local r = redis.call('SCAN', c, 'MATCH', ARGV[1], 'COUNT', 500) c = r[1] " +
  "for _, k in ipairs(r[2]) do redis.call('UNLINK', k) n = n + 1 end until c == '0' return n";

function deleteRedisKeys(container: string, admin: string, tenant: string, run: Runner): void {
  redisCli(container, admin, `EVAL ${redisArg(REDIS_UNLINK_PREFIX)} 0 ${redisArg(`${redisPrefix(tenant)}*`)}\n`, run);
}

/**
 * The tenant's data back to the start (reset-data): its Postgres database dropped and made
 * again from the shared one (or empty), its Redis keys removed. The role and users stay.
 */
export function resetTenantData(plan: TenantPlan | undefined, adminSecrets: Record<string, string>, say: Say, run: Runner = runCommand): boolean {
  checkTenantPlan(plan);
  if (!plan || plan.services.length === 0) {
    say.warn('No shared Postgres, MySQL, MongoDB or Redis is wired to this sandbox: there is no tenant data to reset.');
    return true;
  }
  let ok = true;
  for (const service of plan.services) {
    const container = sharedServiceContainer(plan.sharedProject, service.service, run);
    if (!container) {
      ok = false;
      say.error(`${service.service} (shared services ${plan.sharedProject}) is not running: start the shared services (up-shared), then run this again.`);
      continue;
    }
    if (service.kind === 'postgres') {
      psql(container, 'postgres', pgEnsureRole(plan.tenant, service.password), run);
      psql(container, 'postgres', pgDropDatabase(service.tenantDatabase!), run);
      createFromTemplate(container, service, plan.tenant, say, run);
      psql(container, 'postgres', pgLockDatabases(plan.tenant, service.tenantDatabase!, service.database!), run);
      say.info(`${service.service}: ${service.tenantDatabase} made again${service.seed === 'template' ? ` from ${service.database}` : ' (empty)'}.`);
    } else if (service.kind === 'mysql') {
      const admin = adminOf(service, adminSecrets);
      mysqlClient(
        container,
        admin,
        mysqlDropDatabase(service.tenantDatabase!) + mysqlEnsureTenant(service.user!, service.password, service.tenantDatabase!),
        run,
      );
      say.info(`${service.service}: ${service.tenantDatabase} made again (empty).`);
    } else if (service.kind === 'mongodb') {
      const admin = adminOf(service, adminSecrets);
      mongosh(
        container,
        service.port,
        admin,
        mongoDropDatabase(service.tenantDatabase!) + mongoEnsureTenant(service.user!, service.password, service.tenantDatabase!),
        run,
      );
      say.info(`${service.service}: ${service.tenantDatabase} made again (empty).`);
    } else {
      const admin = adminSecrets[service.adminSecret] ?? '';
      redisCli(container, admin, redisEnsureTenant(plan.tenant, service.password, admin), run);
      deleteRedisKeys(container, admin, plan.tenant, run);
      say.info(`${service.service}: the keys ${redisPrefix(plan.tenant)}* removed.`);
    }
  }
  return ok;
}

/**
 * The administrator's password on each Redis of the shared file (the default user has none in
 * the image): set at every up-shared and up-worktree, since Redis keeps its users in memory.
 */
export function lockRedisAdministrators(
  model: ComposeModel | null | undefined,
  sharedProject: string,
  adminSecrets: Record<string, string>,
  run: Runner = runCommand,
): void {
  for (const [name, service] of Object.entries(model?.services ?? {})) {
    if (presetOf(service) !== 'redis' || !hasConnection(service)) continue;
    const admin = adminSecrets[adminSecretOf(name)];
    const container = sharedServiceContainer(sharedProject, name, run);
    if (!admin || !container) continue;
    redisCli(container, admin, `ACL SETUSER default on resetpass ${redisArg(`>${admin}`)}\n`, run);
  }
}

/** The Redis administrators' passwords the shared file needs besides those it names (a redis service names none). */
export function redisAdministratorSecrets(model: ComposeModel | null | undefined): string[] {
  return Object.entries(model?.services ?? {})
    .filter(([, service]) => presetOf(service) === 'redis' && hasConnection(service))
    .map(([name]) => adminSecretOf(name));
}
