/**
 * MongoDB tenants, wired at up-worktree as MySQL's are, with the engine stubbed: Debian has no
 * MongoDB (nor anything speaking its protocol) to build a stand-in image from, so these unit tests
 * are all that proves them here. They assert the exact commands the host runs: the ones
 * Postgres, MySQL and Redis run are proven on the real engine (tenants.docker.spec.ts,
 * shared-upgrade.docker.spec.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ComposeModel } from '../../sandbox/compose-model';
import { SandboxError } from '../../sandbox/errors';
import { sharedFileTrust } from '../../sandbox/shared-trust';
import { workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from '../../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../../generators/shared-service/generator';
import { sharedLogins } from '../audit/live-audit';
import type { CommandResult, Runner } from '../engine/run';
import type { SandboxStack } from './sandbox-stack';
import { mongoAuthenticate, mongoDropDatabase, mongoDropTenant, mongoEnsureTenant, mongoTenantExists, pgCreateDatabase, tenantName } from './tenant-statements';
import { administratorSecrets, dropTenants, planTenants, provisionTenants, resetTenantData, tenantEnvironment, tenantSecretsPath } from './tenants';

const SHARED_PROJECT = 'ws-shared-1a2b3c4d';
const COMPOSE_PROJECT = 'app-ws-0f1e2d3c';
const TENANT = tenantName(COMPOSE_PROJECT);
const DATABASE = `app_${TENANT}`;
const ADMIN = 'mongo-root-password-1';
const CONTAINER = 'c0ffee'.repeat(10) + 'abcd';

interface Call {
  command: string;
  args: string[];
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** The engine, stubbed: the shared mongodb runs as CONTAINER; mongosh answers with `answers` in turn (then nothing). */
function engine(answers: Array<Partial<CommandResult>> = []) {
  const calls: Call[] = [];
  const run: Runner = (command, args, options = {}) => {
    calls.push({ command, args, input: options.input, env: options.env });
    if (args[0] === 'ps') return { status: 0, stdout: `${CONTAINER}\t\n`, stderr: '' };
    return { status: 0, stdout: '', stderr: '', ...answers.shift() };
  };
  const mongosh = () => calls.filter((call) => call.args[0] === 'exec');
  return { run, calls, mongosh };
}

const say = () => {
  const said: string[] = [];
  return {
    said,
    say: { info: (m: string) => said.push(`info ${m}`), warn: (m: string) => said.push(`warn ${m}`), error: (m: string) => said.push(`error ${m}`) },
  };
};

/** What the host runs for every mongosh of the plan: no password on the command line, root's in the environment. */
const MONGOSH = [
  'exec',
  '-i',
  '-e',
  'DEVSEC_MONGO_ADMIN',
  CONTAINER,
  'mongosh',
  '--quiet',
  '--norc',
  'mongodb://127.0.0.1:27017/admin',
  '--file',
  '/dev/stdin',
];

describe('a MongoDB tenant per worktree (unit-tested only: no MongoDB stand-in can be built from Debian)', () => {
  let model: ComposeModel;
  let text: string;
  let state: string;
  let env: NodeJS.ProcessEnv;
  const plan = () => planTenants(model, sharedFileTrust(text), SHARED_PROJECT, 'app', COMPOSE_PROJECT, env)!;

  beforeAll(async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'mongodb', skipFormat: true });
    text = tree.read('docker-compose.shared.yml', 'utf-8')!;
    model = parse(text) as ComposeModel;
  });

  const saved = process.env.XDG_STATE_HOME;
  beforeEach(() => {
    // The state directory of this process (dropTenants forgets the passwords there).
    state = mkdtempSync(join(tmpdir(), 'devsec-mongo-tenants-'));
    process.env.XDG_STATE_HOME = state;
    env = process.env;
  });

  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
    rmSync(state, { recursive: true, force: true });
  });

  it('gives the dev container MONGODB_URL of its own user and database, and no administrator’s password', () => {
    const planned = plan();
    expect(planned.services).toHaveLength(1);
    const [service] = planned.services;
    expect(service).toMatchObject({ service: 'mongodb', kind: 'mongodb', port: 27017, database: 'app', tenantDatabase: DATABASE, user: TENANT, seed: 'empty' });
    expect(tenantEnvironment(planned)).toEqual({
      MONGODB_URL: `mongodb://${TENANT}:${service.password}@mongodb:27017/${DATABASE}?authSource=${DATABASE}`,
    });
    expect(administratorSecrets(planned, { DEVSEC_MONGODB_PASSWORD: ADMIN })).toEqual({});
    // The tenant's password: generated once, 0600 in the state directory.
    expect(plan().services[0].password).toBe(service.password);
    const path = tenantSecretsPath(SHARED_PROJECT, env);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readFileSync(path, 'utf-8')).toContain(`_${TENANT.toUpperCase()}_PASSWORD=${service.password}`);
  });

  it('up-worktree: mongosh in the shared container as root makes the user (readWrite and dbAdmin on its own database only), saying so once', () => {
    const planned = plan();
    const { password } = planned.services[0];
    const first = engine([{ stdout: '0\n' }, { stdout: '' }]);
    const { said, say: s } = say();
    provisionTenants(planned, { DEVSEC_MONGODB_PASSWORD: ADMIN }, s, first.run);
    expect(first.calls[0].args).toEqual([
      'ps',
      '--no-trunc',
      '--filter',
      `label=com.docker.compose.project=${SHARED_PROJECT}`,
      '--filter',
      'label=com.docker.compose.service=mongodb',
      '--filter',
      'status=running',
      '--format',
      expect.stringContaining('{{.ID}}'),
    ]);
    expect(first.mongosh().map((call) => call.args)).toEqual([MONGOSH, MONGOSH]);
    expect(first.mongosh().map((call) => call.input)).toEqual([
      mongoAuthenticate() + mongoTenantExists(TENANT, DATABASE),
      mongoAuthenticate() + mongoEnsureTenant(TENANT, password, DATABASE),
    ]);
    expect(mongoAuthenticate()).toBe("db.getSiblingDB('admin').auth('root', process.env.DEVSEC_MONGO_ADMIN);\n");
    expect(mongoEnsureTenant(TENANT, password, DATABASE)).toContain(
      `roles: [{ role: 'readWrite', db: "${DATABASE}" }, { role: 'dbAdmin', db: "${DATABASE}" }]`,
    );
    for (const call of first.mongosh()) {
      expect(call.env?.DEVSEC_MONGO_ADMIN).toBe(ADMIN);
      expect(call.args.join(' ')).not.toContain(ADMIN);
      expect(call.args.join(' ')).not.toContain(password);
    }
    expect(said).toEqual([expect.stringMatching(new RegExp(`^info mongodb: made this worktree's tenant ${TENANT} .*MONGODB_URL names it, not root\\.$`))]);
    // The next start finds the user: made again as a tenant is (its password, its roles), said nothing.
    const again = engine([{ stdout: '1\n' }, { stdout: '' }]);
    const next = say();
    provisionTenants(planned, { DEVSEC_MONGODB_PASSWORD: ADMIN }, next.say, again.run);
    expect(again.mongosh().map((call) => call.input)).toEqual([
      mongoAuthenticate() + mongoTenantExists(TENANT, DATABASE),
      mongoAuthenticate() + mongoEnsureTenant(TENANT, password, DATABASE),
    ]);
    expect(next.said).toEqual([]);
  });

  it('down-worktree --volumes drops the user and its database; reset-data empties the database and keeps the user', () => {
    const planned = plan();
    const { password } = planned.services[0];
    const down = engine();
    dropTenants(planned, { DEVSEC_MONGODB_PASSWORD: ADMIN }, say().say, down.run);
    expect(down.mongosh().map((call) => [call.args, call.input])).toEqual([[MONGOSH, mongoAuthenticate() + mongoDropTenant(TENANT, DATABASE)]]);
    // Its password forgotten: a next tenant of that name gets a new one.
    expect(readFileSync(tenantSecretsPath(SHARED_PROJECT, env), 'utf-8')).not.toContain(password);

    const reset = engine();
    const again = plan();
    expect(resetTenantData(again, { DEVSEC_MONGODB_PASSWORD: ADMIN }, say().say, reset.run)).toBe(true);
    expect(reset.mongosh().map((call) => [call.args, call.input])).toEqual([
      [MONGOSH, mongoAuthenticate() + mongoDropDatabase(DATABASE) + mongoEnsureTenant(TENANT, again.services[0].password, DATABASE)],
    ]);
  });

  it('stops the start when MongoDB refuses (mongosh --file ends with a failure status), its answer made visible', () => {
    const refused = engine([{ status: 1, stderr: 'MongoServerError: Authentication failed.\u001b[31m' }]);
    expect(() => provisionTenants(plan(), { DEVSEC_MONGODB_PASSWORD: ADMIN }, say().say, refused.run)).toThrow(SandboxError);
    expect(() => provisionTenants(plan(), { DEVSEC_MONGODB_PASSWORD: ADMIN }, say().say, engine([{ status: 1, stderr: 'x\u001b[31m' }]).run)).toThrow(
      /MongoDB \(c0ffeec0ffee\) refused what the host asked of it as root: x\\x1b\[31m$/,
    );
    // Without root's password the host asks nothing.
    const none = engine();
    expect(() => provisionTenants(plan(), {}, say().say, none.run)).toThrow(/no administrator password \(DEVSEC_MONGODB_PASSWORD\)/);
    expect(none.mongosh()).toEqual([]);
  });

  it('audit --live asks connectionStatus from inside with the dev container’s mongosh: only readWrite/dbAdmin on its own database is a tenant', () => {
    const root = mkdtempSync(join(tmpdir(), 'devsec-mongo-audit-'));
    try {
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, 'docker-compose.shared.yml'), JSON.stringify(model));
      const stack = { identity: { workspaceRoot: root }, project: 'app' } as unknown as SandboxStack;
      const asked = (stdout: string) => {
        const calls: Call[] = [];
        const run: Runner = (command, args) => (calls.push({ command, args }), { status: 0, stdout, stderr: '' });
        return { logins: sharedLogins(stack, 'the-app-1', run), calls };
      };
      const tenant = asked('tenant\n');
      expect(tenant.logins).toEqual([{ service: 'mongodb', variable: 'MONGODB_URL', admin: false, detail: expect.stringMatching(/readWrite and dbAdmin/) }]);
      expect(tenant.calls[0].args.slice(0, 7)).toEqual(['exec', '-u', '65534:65534', '-w', '/', 'the-app-1', 'sh']);
      const script = tenant.calls[0].args[8];
      expect(script).toContain('command -v mongosh >/dev/null || { echo no-client; exit 0; }');
      expect(script).toContain('mongosh "$MONGODB_URL" --quiet --norc --eval');
      expect(script).toContain('db.runCommand({ connectionStatus: 1 }).authInfo.authenticatedUserRoles');
      expect(script).toContain('r.db === own && (r.role === "readWrite" || r.role === "dbAdmin")');
      expect(asked('admin\n').logins).toEqual([expect.objectContaining({ service: 'mongodb', admin: true })]);
      // No mongosh in the image (Debian has none), or an answer that is not one of the two words: not checked, never "tenant".
      expect(asked('no-client\n').logins).toEqual([]);
      expect(asked('MongoServerError: Authentication failed.\n').logins).toEqual([]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('tenants from a docker-compose.shared.yml edited since it was stamped (red team: a merged commit)', () => {
  const ADMINS = { DEVSEC_POSTGRES_PASSWORD: 'pg-admin-1', DEVSEC_REDIS_PASSWORD: 'redis-admin-1' };
  let tree: ReturnType<typeof workspaceWithProjects>;
  let generated: string;
  let state: string;
  const saved = process.env.XDG_STATE_HOME;
  /** What up-worktree plans from the file's text, as prepareWorktree reads it: its model and its stamp, from the same text. */
  const plan = (text: string) => planTenants(parse(text) as ComposeModel, sharedFileTrust(text), SHARED_PROJECT, 'app', COMPOSE_PROJECT, process.env)!;
  /** The commit the agent's branch brings: the Postgres template pointed at another database on the same server, the stamp left as it was. */
  const merged = (text: string) => {
    const edited = text.replace(/^(\s+)POSTGRES_DB: app$/m, '$1POSTGRES_DB: billing');
    expect(edited).not.toBe(text);
    return edited;
  };

  beforeAll(async () => {
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'redis', skipFormat: true });
    generated = tree.read('docker-compose.shared.yml', 'utf-8')!;
  });

  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'devsec-edited-tenants-'));
    process.env.XDG_STATE_HOME = state;
  });

  afterEach(() => {
    if (saved === undefined) delete process.env.XDG_STATE_HOME;
    else process.env.XDG_STATE_HOME = saved;
    rmSync(state, { recursive: true, force: true });
  });

  it('the generated file wires the tenant: a copy of app', () => {
    const planned = plan(generated);
    expect(planned.refused).toBeUndefined();
    expect(planned.services.map((service) => [service.service, service.database, service.tenantDatabase ?? null])).toEqual([
      ['postgres', 'app', `app_${TENANT}`],
      ['redis', undefined, null],
    ]);
  });

  it('up-worktree, reset-data and down-worktree --volumes refuse it, naming the file and the restamp, before the engine is asked anything', () => {
    const planned = plan(merged(generated));
    // Nothing of the file's is planned: no variable for the dev container, no administrator's password instead, no tenant password kept.
    expect(planned.services).toEqual([]);
    expect(tenantEnvironment(planned)).toEqual({});
    expect(administratorSecrets(planned, ADMINS)).toEqual({});
    expect(existsSync(tenantSecretsPath(SHARED_PROJECT))).toBe(false);
    const refusal =
      /^Refusing: app's tenant in the shared postgres, redis is made, reset and removed as docker-compose\.shared\.yml says .*docker-compose\.shared\.yml was edited after @org\/devsec wrote it \(its fingerprint no longer matches\).* run nx g @org\/devsec:shared-service <preset> for one of its services/;
    for (const act of [provisionTenants, resetTenantData, dropTenants]) {
      const stub = engine();
      const { said, say: s } = say();
      expect(() => act(planned, ADMINS, s, stub.run)).toThrow(SandboxError);
      expect(() => act(planned, ADMINS, s, stub.run)).toThrow(refusal);
      // No database made from billing (nor anything else asked of the shared services), nothing said as done.
      expect(stub.calls).toEqual([]);
      expect(said).toEqual([]);
    }
  });

  it('an edit the user accepts (reviewed, then stamped again by shared-service) wires as before, from the edited database', async () => {
    tree.write('docker-compose.shared.yml', merged(generated));
    // RESTAMP's advice: shared-service for one of its services keeps the edit and stamps the file again.
    await sharedServiceGenerator(tree, { preset: 'redis', skipFormat: true });
    const accepted = tree.read('docker-compose.shared.yml', 'utf-8')!;
    expect(accepted).toMatch(/^\s+POSTGRES_DB: billing$/m);
    const planned = plan(accepted);
    expect(planned.refused).toBeUndefined();
    const [postgres] = planned.services;
    expect(postgres).toMatchObject({ service: 'postgres', database: 'billing', tenantDatabase: `billing_${TENANT}`, seed: 'template' });
    expect(tenantEnvironment(planned).DATABASE_URL).toMatch(new RegExp(`@postgres:5432/billing_${TENANT}$`));
    const stub = engine();
    provisionTenants(planned, ADMINS, say().say, stub.run);
    expect(stub.calls.map((call) => call.input)).toContain(pgCreateDatabase(TENANT, `billing_${TENANT}`, 'billing', 'template'));
  });
});
