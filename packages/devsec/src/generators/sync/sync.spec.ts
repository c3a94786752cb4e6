import { Tree } from '@nx/devkit';
import { managedState, stampManaged } from '../../sandbox/managed-file';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { localhostProxyGenerator } from '../localhost-proxy/generator';
import { secureDevcontainerGenerator } from '../secure-devcontainer/generator';
import { sharedServiceGenerator } from '../shared-service/generator';
import { syncGenerator } from './sync';

const DIR = 'apps/app/.devcontainer';
const COMPOSE = `${DIR}/docker-compose.yml`;
const read = (tree: Tree, path: string) => tree.read(path, 'utf-8') as string;

describe('sync generator (nx sync, nx sync:check)', () => {
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', agent: 'claude', aptPackages: ['jq'], skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    tree.write(`${DIR}/docker-compose.services.yml`, 'services:\n  web:\n    image: node:24-trixie-slim\n    networks: [sandbox]\n');
    await localhostProxyGenerator(tree, { project: 'app', skipFormat: true });
  });

  it('changes nothing, and reports nothing, when every sandbox is as this version renders it', async () => {
    const before = snapshot(tree);
    await expect(syncGenerator(tree)).resolves.toBeUndefined();
    expect(snapshot(tree)).toEqual(before);
  });

  it('rewrites what an older version rendered from the same spec, reports it, and is then in sync', async () => {
    const fresh = read(tree, COMPOSE);
    // An older template: other bytes and meaning, stamped by the version that wrote it.
    tree.write(COMPOSE, stampManaged(COMPOSE, fresh.replace('LOG_LEVEL: info', 'LOG_LEVEL: warn')));
    const result = await syncGenerator(tree);
    expect(result?.outOfSyncMessage).toMatch(
      /^1 sandbox file\(s\) differ from what @org\/devsec \d+\.\d+\.\d+ renders from their stored spec; nx sync rewrites them\.$/,
    );
    expect(result?.outOfSyncDetails).toEqual([COMPOSE]);
    expect(read(tree, COMPOSE)).toContain('LOG_LEVEL: info');
    expect(managedState(COMPOSE, read(tree, COMPOSE))).toBe('pristine');
    const after = snapshot(tree);
    await expect(syncGenerator(tree)).resolves.toBeUndefined();
    expect(snapshot(tree)).toEqual(after);
  });

  it('moves a Dockerfile still under its pre-0.2.0 name', async () => {
    tree.rename(`${DIR}/sandbox.Dockerfile`, `${DIR}/Dockerfile`);
    tree.write(COMPOSE, stampManaged(COMPOSE, read(tree, COMPOSE).replace('dockerfile: sandbox.Dockerfile', 'dockerfile: Dockerfile')));
    const result = await syncGenerator(tree);
    expect(result?.outOfSyncDetails).toEqual([`${DIR}/Dockerfile`, COMPOSE, `${DIR}/sandbox.Dockerfile`].sort());
    expect(tree.exists(`${DIR}/Dockerfile`)).toBe(false);
  });

  it('leaves a hand-edited file alone and fails with how to resolve it, so that sync:check fails', async () => {
    tree.write(COMPOSE, read(tree, COMPOSE).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
    const before = snapshot(tree);
    await expect(syncGenerator(tree)).rejects.toThrow(
      /apps\/app\/\.devcontainer\/docker-compose\.yml was edited by hand .* leaves it alone\. To keep your version, delete its "@org\/devsec managed file" line.*To take the generated one, delete the file and run nx sync/,
    );
    expect(snapshot(tree)).toEqual(before);
  });

  it('fixes the rest when a file is also edited by hand, and says which one it left', async () => {
    tree.write(COMPOSE, read(tree, COMPOSE).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
    const frontend = 'apps/web/frontend/.devcontainer/sandbox.Dockerfile';
    const fresh = read(tree, frontend);
    tree.write(frontend, stampManaged(frontend, fresh.replace('USER node', 'USER node\nRUN true')));
    const result = await syncGenerator(tree);
    expect(result?.outOfSyncDetails).toEqual([frontend]);
    expect(result?.outOfSyncMessage).toMatch(/Left alone, to settle by hand:\napps\/app\/\.devcontainer\/docker-compose\.yml was edited by hand/);
    expect(read(tree, COMPOSE)).toContain('LOG_LEVEL: debug');
    expect(read(tree, frontend)).not.toContain('RUN true');
  });

  it('skips a file whose marker the user deleted', async () => {
    const owned = read(tree, `${DIR}/sandbox.Dockerfile`).split('\n').slice(1).join('\n') + 'RUN echo mine\n';
    tree.write(`${DIR}/sandbox.Dockerfile`, owned);
    await expect(syncGenerator(tree)).resolves.toBeUndefined();
    expect(read(tree, `${DIR}/sandbox.Dockerfile`)).toBe(owned);
  });

  it('names a stored spec it cannot read', async () => {
    tree.write(COMPOSE, read(tree, COMPOSE).replace('"network":"dev"', '"network":"bad name"'));
    await expect(syncGenerator(tree)).rejects.toThrow(/docker-compose\.yml: x-devsec\.options --network: "bad name"/);
  });
});
