import { logger, Tree } from '@nx/devkit';
import { managedState } from '../../../sandbox/managed-file';
import { sharedFileTrust } from '../../../sandbox/shared-trust';
import { snapshot, workspaceWithProjects } from '../../../testing/workspace';
import migrate from './stamp-shared-compose';

const SHARED = 'docker-compose.shared.yml';
/** What shared-service wrote before 0.2.0: comments, x-devsec.project, no marker. */
const WRITTEN_BY_010 = `# Shared services for every worktree's sandbox, started once: nx run shared-infra:up-shared
# Managed with nx g @org/devsec:shared-service; your own services and comments are kept.
name: acme-shared
x-devsec:
  project: shared-infra
services:
  redis:
    image: redis:7 # ours
networks:
  shared:
    name: dev
    external: true
`;

describe('migration stamp-shared-compose (0.2.0)', () => {
  let tree: Tree;
  beforeEach(() => {
    jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    tree = workspaceWithProjects();
  });
  afterEach(() => jest.restoreAllMocks());

  it('stamps a file an older shared-service wrote, keeps every byte of it, and asks for a review', () => {
    tree.write(SHARED, WRITTEN_BY_010);
    expect(sharedFileTrust(WRITTEN_BY_010)).toMatchObject({ trusted: false, reason: 'unmarked' });
    const { nextSteps } = migrate(tree);
    const text = tree.read(SHARED, 'utf-8') as string;
    expect(text.split('\n').slice(1).join('\n')).toBe(WRITTEN_BY_010);
    expect(managedState(SHARED, text)).toBe('pristine');
    expect(sharedFileTrust(text)).toEqual({ trusted: true, infraProject: 'shared-infra' });
    expect(nextSteps).toEqual([expect.stringMatching(/stamped .* shared-infra:up-shared .* Review it now/)]);
  });

  it('changes nothing when run again', () => {
    tree.write(SHARED, WRITTEN_BY_010);
    migrate(tree);
    const once = snapshot(tree);
    expect(migrate(tree)).toEqual({ nextSteps: [] });
    expect(snapshot(tree)).toEqual(once);
  });

  it("leaves the user's own file (no x-devsec.project) and a missing file alone", () => {
    expect(migrate(tree)).toEqual({ nextSteps: [] });
    const own = 'services:\n  mailhog:\n    image: mailhog/mailhog:v1.0.1\n';
    tree.write(SHARED, own);
    expect(migrate(tree)).toEqual({ nextSteps: [] });
    expect(tree.read(SHARED, 'utf-8')).toBe(own);
  });

  it('leaves a file that is not YAML alone, and says so', () => {
    tree.write(SHARED, 'services: [\n');
    expect(migrate(tree).nextSteps).toEqual([expect.stringMatching(/not valid YAML: left as is/)]);
    expect(tree.read(SHARED, 'utf-8')).toBe('services: [\n');
  });
});
