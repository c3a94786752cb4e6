import { logger, Tree } from '@nx/devkit';
import { managedState } from '../../sandbox/managed-file';
import { sharedFileTrust } from '../../sandbox/shared-trust';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from '../secure-devcontainer/generator';
import { sharedServiceGenerator } from './generator';

const SHARED = 'docker-compose.shared.yml';
const read = (tree: Tree) => tree.read(SHARED, 'utf-8') as string;

describe('shared-service stamps docker-compose.shared.yml after every write', () => {
  let tree: Tree;
  let info: jest.SpyInstance;
  beforeEach(async () => {
    info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    (await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true }))();
  });
  afterEach(() => jest.restoreAllMocks());

  it('writes a stamped file that the plugin trusts', () => {
    expect(read(tree)).toMatch(/^# @org\/devsec managed file, fingerprint [0-9a-f]{12}\. Edits are kept, but up-shared\/down-shared/);
    expect(managedState(SHARED, read(tree))).toBe('pristine');
    expect(sharedFileTrust(read(tree))).toEqual({ trusted: true, infraProject: 'shared-infra' });
  });

  it("stamps again after adding a service, keeping the user's comments", async () => {
    tree.write(SHARED, read(tree).replace('services:', '# ours\nservices:'));
    await sharedServiceGenerator(tree, { preset: 'redis', skipFormat: true });
    expect(read(tree)).toContain('# ours');
    expect(read(tree).match(/managed file/g)).toHaveLength(1);
    expect(sharedFileTrust(read(tree))).toMatchObject({ trusted: true });
  });

  it('stamps an edited file again when run, keeping the edit, and says so', async () => {
    const edited = read(tree).replace('services:', 'services:\n  mailhog:\n    image: mailhog/mailhog:v1.0.1\n');
    tree.write(SHARED, edited);
    expect(sharedFileTrust(edited)).toMatchObject({ trusted: false, reason: 'edited' });
    info.mockClear();
    (await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true }))();
    expect(read(tree).split('\n').slice(1).join('\n')).toBe(edited.split('\n').slice(1).join('\n'));
    expect(sharedFileTrust(read(tree))).toMatchObject({ trusted: true });
    expect(info.mock.calls.flat().join('\n')).toMatch(/had been edited by hand: it is kept, and stamped now.*git diff docker-compose\.shared\.yml/);
  });

  it('changes nothing on a re-run: the stamp of an untouched file stays as it is', async () => {
    const before = snapshot(tree);
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    expect(snapshot(tree)).toEqual(before);
  });

  it('names the infrastructure project in a file the user started without it', async () => {
    tree.write(SHARED, 'services:\n  mailhog:\n    image: mailhog/mailhog:v1.0.1\n');
    await sharedServiceGenerator(tree, { preset: 'redis', skipFormat: true });
    expect(sharedFileTrust(read(tree))).toEqual({ trusted: true, infraProject: 'shared-infra' });
  });
});
