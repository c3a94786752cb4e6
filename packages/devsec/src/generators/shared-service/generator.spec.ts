import { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { validateCompose } from '../../testing/schemas';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from '../secure-devcontainer/generator';
import { sharedServiceGenerator } from './generator';
import type { SharedServiceGeneratorSchema } from './schema';

const add = (tree: Tree, options: Partial<SharedServiceGeneratorSchema> & { preset: SharedServiceGeneratorSchema['preset'] }) =>
  sharedServiceGenerator(tree, { skipFormat: true, ...options });
const shared = (tree: Tree) => parse(tree.read('docker-compose.shared.yml', 'utf-8') as string);
const appCompose = (tree: Tree) => parse(tree.read('apps/app/.devcontainer/docker-compose.yml', 'utf-8') as string);

describe('shared-service generator', () => {
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceWithProjects();
    tree.write('package.json', JSON.stringify({ name: '@acme/source' }));
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
  });

  it('adds postgres to docker-compose.shared.yml: fixed network name, volume, healthcheck, restart, scope label, no literal password', async () => {
    await add(tree, { preset: 'postgres' });
    const file = shared(tree);
    expect(validateCompose(file)).toEqual([]);
    expect(file.name).toBe('acme-source-shared');
    expect(file['x-devsec']).toEqual({ project: 'shared-infra' });
    expect(file.networks).toEqual({ shared: { name: 'dev', external: true } });
    expect(file.volumes).toEqual({ 'postgres-data': null });
    expect(file.services.postgres).toEqual({
      image: 'postgres:17',
      restart: 'unless-stopped',
      environment: { POSTGRES_PASSWORD: '${DEVSEC_POSTGRES_PASSWORD:?run nx run shared-infra:up-shared}', POSTGRES_DB: 'app' },
      volumes: ['postgres-data:/var/lib/postgresql/data'],
      healthcheck: { test: ['CMD', 'pg_isready', '-U', 'postgres', '-d', 'app'], interval: '2s', timeout: '5s', retries: 30, start_period: '5s' },
      networks: ['shared'],
      security_opt: ['no-new-privileges:true'],
      cap_drop: ['AUDIT_WRITE', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'NET_RAW', 'SETFCAP', 'SETPCAP', 'SYS_CHROOT'],
      pids_limit: 512,
      mem_limit: '2g',
      labels: { 'org.devsec.managed': 'true', 'org.devsec.scope': 'dev' },
      'x-devsec': {
        connection: { DATABASE_URL: 'postgresql://postgres:${DEVSEC_POSTGRES_PASSWORD:-}@postgres:5432/app' },
        projects: ['app', 'frontend'],
      },
    });
    // A service an older version wrote, without the hardening, is the same service: run again, it gets the hardening.
    const older = tree.read('docker-compose.shared.yml', 'utf-8')!.replace(/\n {4}security_opt:[\s\S]*?mem_limit: 2g/, '');
    expect(older).not.toContain('cap_drop');
    tree.write('docker-compose.shared.yml', older);
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    expect(shared(tree).services.postgres.pids_limit).toBe(512);
    // The only password in the committed file is a reference that up-shared fills in.
    const text = tree.read('docker-compose.shared.yml', 'utf-8') as string;
    expect(text.match(/PASSWORD[^\n]*/g)).toEqual([
      'PASSWORD: ${DEVSEC_POSTGRES_PASSWORD:?run nx run shared-infra:up-shared}',
      'PASSWORD:-}@postgres:5432/app',
    ]);
  });

  it('wires the connection variable into every dev container, by hostname', async () => {
    await add(tree, { preset: 'postgres' });
    await add(tree, { preset: 'redis' });
    const env = appCompose(tree).services.app.environment;
    expect(env.DATABASE_URL).toBe('postgresql://postgres:${DEVSEC_POSTGRES_PASSWORD:-}@postgres:5432/app');
    expect(env.REDIS_URL).toBe('redis://redis:6379');
    // By hostname, never localhost (NO_PROXY lists localhost: it is not a connection).
    expect(JSON.stringify([env.DATABASE_URL, env.REDIS_URL])).not.toContain('localhost');
    expect(env.NO_PROXY).toBe('localhost,127.0.0.1,::1,docker-proxy,postgres,redis');
    const frontend = parse(tree.read('apps/web/frontend/.devcontainer/docker-compose.yml', 'utf-8') as string);
    expect(frontend.services.app.environment.REDIS_URL).toBe('redis://redis:6379');
  });

  it('wires only the projects asked for, and names the variable after a non-preset name', async () => {
    await add(tree, { preset: 'postgres', name: 'analytics-db', projects: ['frontend'], database: 'events' });
    expect(appCompose(tree).services.app.environment).not.toHaveProperty('ANALYTICS_DB_URL');
    const frontend = parse(tree.read('apps/web/frontend/.devcontainer/docker-compose.yml', 'utf-8') as string);
    expect(frontend.services.app.environment.ANALYTICS_DB_URL).toBe('postgresql://postgres:${DEVSEC_ANALYTICS_DB_PASSWORD:-}@analytics-db:5432/events');
  });

  it('publishes a port only when asked, and then on 127.0.0.1', async () => {
    await add(tree, { preset: 'redis' });
    expect(shared(tree).services.redis.ports).toBeUndefined();
    await add(tree, { preset: 'redis', publish: true, overwrite: true });
    expect(shared(tree).services.redis.ports).toEqual(['127.0.0.1:6379:6379']);
  });

  it('writes an explicit password as given, escaped for compose and for the URL', async () => {
    await add(tree, { preset: 'postgres', password: 'p@ss$word' });
    expect(shared(tree).services.postgres.environment.POSTGRES_PASSWORD).toBe('p@ss$$word');
    expect(appCompose(tree).services.app.environment.DATABASE_URL).toBe('postgresql://postgres:p%40ss%24word@postgres:5432/app');
  });

  it.each(['mysql', 'mongodb'] as const)('has a healthcheck and a connection variable for %s', async (preset) => {
    await add(tree, { preset });
    const service = shared(tree).services[preset];
    expect(service.healthcheck.test.join(' ')).toMatch(preset === 'mysql' ? /mysqladmin ping/ : /mongosh .*ping/);
    expect(Object.keys(appCompose(tree).services.app.environment)).toContain(preset === 'mysql' ? 'MYSQL_URL' : 'MONGODB_URL');
    expect(validateCompose(shared(tree))).toEqual([]);
  });

  it('runs a custom image', async () => {
    await add(tree, { preset: 'custom', name: 'mailpit', image: 'axllent/mailpit:v1.21', port: 8025, env: ['MP_SMTP_AUTH_ACCEPT_ANY=1'] });
    expect(shared(tree).services.mailpit).toMatchObject({ image: 'axllent/mailpit:v1.21', environment: { MP_SMTP_AUTH_ACCEPT_ANY: '1' } });
  });

  it('changes nothing when run again with the same options', async () => {
    await add(tree, { preset: 'postgres' });
    const before = snapshot(tree);
    await add(tree, { preset: 'postgres' });
    expect(snapshot(tree)).toEqual(before);
  });

  it("keeps the user's comments, services and keys in docker-compose.shared.yml", async () => {
    await add(tree, { preset: 'postgres' });
    const edited = (tree.read('docker-compose.shared.yml', 'utf-8') as string)
      .replace('services:', '# our team keeps mailhog here\nservices:\n  mailhog:\n    image: mailhog/mailhog:v1.0.1 # pinned on purpose\n')
      .concat('x-team:\n  owner: platform\n');
    tree.write('docker-compose.shared.yml', edited);
    await add(tree, { preset: 'redis' });
    const text = tree.read('docker-compose.shared.yml', 'utf-8') as string;
    expect(text).toContain('# our team keeps mailhog here');
    expect(text).toContain('image: mailhog/mailhog:v1.0.1 # pinned on purpose');
    expect(shared(tree)['x-team']).toEqual({ owner: 'platform' });
    expect(Object.keys(shared(tree).services)).toEqual(['mailhog', 'postgres', 'redis']);
  });

  describe('bad input: a clear error and an unchanged tree', () => {
    it.each<[Partial<SharedServiceGeneratorSchema>, RegExp]>([
      [{ preset: 'oracle' as never }, /--preset: "oracle" is not one of postgres, redis, mysql, mongodb, custom/],
      [{ preset: 'postgres', name: 'app' }, /--name: "app" is reserved/],
      [{ preset: 'redis', name: 'docker-proxy' }, /--name: "docker-proxy" is reserved/],
      [{ preset: 'redis', name: 'Bad_Name' }, /--name: "Bad_Name" is not a DNS-safe service name/],
      [{ preset: 'custom', name: 'mailpit' }, /--image is required with --preset=custom/],
      [{ preset: 'custom' }, /--name: "" is not a DNS-safe/],
      [{ preset: 'redis', port: 70000 }, /--port: "70000" is not a port/],
      [{ preset: 'redis', port: 1.5 }, /--port/],
      [{ preset: 'redis', image: 'redis latest' }, /--image: "redis latest"/],
      [{ preset: 'redis', env: ['NOVALUE'] }, /--env: "NOVALUE" is not KEY=VALUE/],
      [
        { preset: 'redis', projects: ['@acme/web'] },
        /"@acme\/web" has no secure dev container. Run nx g @org\/devsec:secure-devcontainer --project=@acme\/web first/,
      ],
      [{ preset: 'redis', projects: ['ghost'] }, /--projects: no project named "ghost"/],
      [{ preset: 'redis', password: 'x' }, /--password: redis takes no password/],
      [{ preset: 'redis', infraProject: 'app' }, /--infraProject: a project named "app" already exists/],
    ])('%p', async (options, message) => {
      const before = snapshot(tree);
      await expect(add(tree, options as SharedServiceGeneratorSchema)).rejects.toThrow(message);
      expect(snapshot(tree)).toEqual(before);
    });

    it('refuses the same service with other options unless --overwrite', async () => {
      await add(tree, { preset: 'postgres' });
      const before = snapshot(tree);
      await expect(add(tree, { preset: 'postgres', database: 'other' })).rejects.toThrow(
        /already has a service "postgres" with other options. Pass --overwrite/,
      );
      expect(snapshot(tree)).toEqual(before);
      await add(tree, { preset: 'postgres', database: 'other', overwrite: true });
      expect(appCompose(tree).services.app.environment.DATABASE_URL).toMatch(/\/other$/);
    });

    it('refuses, unchanged, when a dev container it must re-render was edited by hand', async () => {
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      tree.write(path, (tree.read(path, 'utf-8') as string).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
      const before = snapshot(tree);
      await expect(add(tree, { preset: 'redis' })).rejects.toThrow(/edited by hand: apps\/app\/\.devcontainer\/docker-compose\.yml/);
      expect(snapshot(tree)).toEqual(before);
    });
  });
});
