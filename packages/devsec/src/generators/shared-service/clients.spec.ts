import { logger, Tree } from '@nx/devkit';
import { readSpec } from '../../sandbox/spec';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from '../secure-devcontainer/generator';
import { sharedServiceGenerator } from './generator';
import type { SharedServiceGeneratorSchema } from './schema';

const add = (tree: Tree, options: SharedServiceGeneratorSchema) => sharedServiceGenerator(tree, { skipFormat: true, ...options });
const aptPackages = (tree: Tree, root = 'apps/app') => readSpec(tree, root)!.aptPackages;
const dockerfile = (tree: Tree) => tree.read('apps/app/.devcontainer/sandbox.Dockerfile', 'utf-8') as string;

describe('shared-service: the service’s client in every dev container it wires', () => {
  let tree: Tree;
  let info: jest.SpyInstance;
  beforeEach(async () => {
    info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', aptPackages: ['jq'], skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
  });
  afterEach(() => jest.restoreAllMocks());

  it.each([
    ['postgres', 'postgresql-client'],
    ['redis', 'redis-tools'],
    ['mysql', 'default-mysql-client'],
  ] as const)('%s adds %s to the stored spec and the image', async (preset, client) => {
    (await add(tree, { preset }))();
    expect(aptPackages(tree)).toEqual(['jq', client]);
    expect(aptPackages(tree, 'apps/web/frontend')).toEqual([client]);
    expect(dockerfile(tree)).toContain(`docker-cli jq ${client}`);
    expect(info.mock.calls.flat().join('\n')).toContain(`${client} added to the dev container of app, frontend`);
  });

  it('adds it once: a re-run, or a client already asked for, changes nothing', async () => {
    await add(tree, { preset: 'postgres' });
    await add(tree, { preset: 'redis' });
    const before = snapshot(tree);
    await add(tree, { preset: 'postgres' });
    await add(tree, { preset: 'redis' });
    expect(snapshot(tree)).toEqual(before);
    expect(aptPackages(tree)).toEqual(['jq', 'postgresql-client', 'redis-tools']);
  });

  it('adds it only to the projects it wires', async () => {
    await add(tree, { preset: 'postgres', projects: ['frontend'] });
    expect(aptPackages(tree)).toEqual(['jq']);
    expect(aptPackages(tree, 'apps/web/frontend')).toEqual(['postgresql-client']);
  });

  it('adds none with --noClient, and never removes one', async () => {
    await add(tree, { preset: 'postgres', noClient: true });
    expect(aptPackages(tree)).toEqual(['jq']);
    await add(tree, { preset: 'redis' });
    await add(tree, { preset: 'redis', noClient: true });
    expect(aptPackages(tree)).toEqual(['jq', 'redis-tools']);
  });

  it('says that mongodb has no Debian 13 client, and adds none', async () => {
    (await add(tree, { preset: 'mongodb' }))();
    expect(aptPackages(tree)).toEqual(['jq']);
    expect(info.mock.calls.flat().join('\n')).toMatch(/Debian 13 has no package for mongosh/);
  });

  it('leaves out a client the user dropped with secure-devcontainer until shared-service runs again for it', async () => {
    await add(tree, { preset: 'postgres' });
    await secureDevcontainerGenerator(tree, { project: 'app', aptPackages: ['jq'], skipFormat: true });
    expect(aptPackages(tree)).toEqual(['jq']);
    await add(tree, { preset: 'redis' });
    expect(aptPackages(tree)).toEqual(['jq', 'redis-tools']);
    await add(tree, { preset: 'postgres', noClient: true });
    expect(aptPackages(tree)).toEqual(['jq', 'redis-tools']);
  });
});
