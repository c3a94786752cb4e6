import { parse } from 'yaml';
import { workspaceWithProjects } from '../../testing/workspace';
import { sharedServiceGenerator } from '../shared-service/generator';
import { secureDevcontainerGenerator } from './generator';

const shared = (tree: ReturnType<typeof workspaceWithProjects>) => parse(tree.read('docker-compose.shared.yml', 'utf-8') as string);
const compose = (tree: ReturnType<typeof workspaceWithProjects>, root: string) =>
  parse(tree.read(`${root}/.devcontainer/docker-compose.yml`, 'utf-8') as string);

describe('a sandbox generated after the shared services exist', () => {
  it('is wired to them like the others: connection variables, its project in x-devsec.projects, the clients', async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'redis', skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
    expect(shared(tree).services.postgres['x-devsec'].projects).toEqual(['app', 'frontend']);
    expect(shared(tree).services.redis['x-devsec'].projects).toEqual(['app', 'frontend']);
    const app = compose(tree, 'apps/web/frontend').services.app;
    expect(Object.keys(app.environment)).toEqual(expect.arrayContaining(['DATABASE_URL', 'REDIS_URL']));
    expect(tree.read('apps/web/frontend/.devcontainer/sandbox.Dockerfile', 'utf-8')).toMatch(
      /postgresql-client[\s\S]*redis-tools|redis-tools[\s\S]*postgresql-client/,
    );
    // The file stays stamped: up-shared is still inferred from it.
    expect(tree.read('docker-compose.shared.yml', 'utf-8')).toMatch(/^# @org\/devsec managed file, fingerprint/);
  });

  it('leaves an edited shared file alone, and a re-run keeps the wiring shared-service chose', async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', projects: ['app'], skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true, force: true });
    expect(shared(tree).services.postgres['x-devsec'].projects).toEqual(['app']);
    tree.write('docker-compose.shared.yml', tree.read('docker-compose.shared.yml', 'utf-8')!.replace('retries: 30', 'retries: 31'));
    const before = tree.read('docker-compose.shared.yml', 'utf-8');
    await secureDevcontainerGenerator(tree, { project: '@acme/web', skipFormat: true });
    expect(tree.read('docker-compose.shared.yml', 'utf-8')).toBe(before);
  });
});
