import { logger, Tree } from '@nx/devkit';
import { managedState, stampManaged } from '../../../sandbox/managed-file';
import { snapshot, workspaceWithProjects } from '../../../testing/workspace';
import { secureDevcontainerGenerator } from '../../secure-devcontainer/generator';
import migrate from './rename-sandbox-image';

const DIR = 'apps/app/.devcontainer';
const COMPOSE = `${DIR}/docker-compose.yml`;
const OLD = `${DIR}/Dockerfile`;
const NEW = `${DIR}/sandbox.Dockerfile`;
const read = (tree: Tree, path: string) => tree.read(path, 'utf-8') as string;

/** The sandbox as 0.1.0 wrote it: the image in `Dockerfile`, and the compose file building from it. */
function asWrittenBy010(tree: Tree): void {
  tree.rename(NEW, OLD);
  tree.write(COMPOSE, stampManaged(COMPOSE, read(tree, COMPOSE).replace('dockerfile: sandbox.Dockerfile', 'dockerfile: Dockerfile')));
}

describe('migration rename-sandbox-image (0.2.0)', () => {
  let tree: Tree;
  afterEach(() => jest.restoreAllMocks());
  beforeEach(async () => {
    jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', aptPackages: ['jq'], skipFormat: true });
  });

  it('renames the Dockerfile and rewrites the compose file: the result is what this version generates', async () => {
    const fresh = snapshot(tree);
    asWrittenBy010(tree);
    expect(migrate(tree)).toEqual({ nextSteps: [] });
    expect(tree.exists(OLD)).toBe(false);
    expect(read(tree, COMPOSE)).toContain('dockerfile: sandbox.Dockerfile');
    expect(managedState(COMPOSE, read(tree, COMPOSE))).toBe('pristine');
    expect(managedState(NEW, read(tree, NEW))).toBe('pristine');
    expect(snapshot(tree)).toEqual(fresh);
    // And the generators go on from there without a complaint or a change.
    await secureDevcontainerGenerator(tree, { project: 'app', aptPackages: ['jq'], skipFormat: true });
    expect(snapshot(tree)).toEqual(fresh);
  });

  it('changes nothing when run again', () => {
    asWrittenBy010(tree);
    migrate(tree);
    const once = snapshot(tree);
    expect(migrate(tree)).toEqual({ nextSteps: [] });
    expect(snapshot(tree)).toEqual(once);
  });

  it('keeps an edited compose file edited: the reference moves, the fingerprint does not', () => {
    asWrittenBy010(tree);
    tree.write(COMPOSE, read(tree, COMPOSE).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
    migrate(tree);
    expect(read(tree, COMPOSE)).toContain('dockerfile: sandbox.Dockerfile');
    expect(read(tree, COMPOSE)).toContain('LOG_LEVEL: debug');
    expect(managedState(COMPOSE, read(tree, COMPOSE))).toBe('edited');
    expect(tree.exists(NEW)).toBe(true);
  });

  it('leaves a Dockerfile the user owns alone, and says what to do', () => {
    asWrittenBy010(tree);
    const owned = read(tree, OLD).split('\n').slice(1).join('\n') + 'RUN echo mine\n';
    tree.write(OLD, owned);
    const before = snapshot(tree);
    const { nextSteps } = migrate(tree);
    expect(snapshot(tree)).toEqual(before);
    expect(nextSteps).toEqual([expect.stringMatching(/apps\/app\/\.devcontainer\/Dockerfile has no @org\/devsec marker: it is yours.*git mv/)]);
  });

  it('leaves both files alone when the compose file is the user’s', () => {
    asWrittenBy010(tree);
    tree.write(COMPOSE, read(tree, COMPOSE).split('\n').slice(1).join('\n'));
    const before = snapshot(tree);
    const { nextSteps } = migrate(tree);
    expect(snapshot(tree)).toEqual(before);
    expect(nextSteps[0]).toMatch(/docker-compose\.yml has no @org\/devsec marker and builds from apps\/app\/\.devcontainer\/Dockerfile/);
  });

  it('makes the generators refuse, with the same advice, until the user acts', async () => {
    asWrittenBy010(tree);
    tree.write(OLD, read(tree, OLD).split('\n').slice(1).join('\n'));
    await expect(secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true })).rejects.toThrow(
      /it is yours, left as is.*Then run the generator again/,
    );
  });
});
