import { Tree } from '@nx/devkit';
import { FsTree } from 'nx/src/generators/tree';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, parseDocument } from 'yaml';
import { SHARED_MARKER_NOTE } from '../../sandbox/shared-trust';
import { readSpec } from '../../sandbox/spec';
import { renderSandbox } from '../common/render';
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

describe('sync generator: a sandbox that missed a shared service', () => {
  const SHARED = 'docker-compose.shared.yml';
  const FRONTEND = 'apps/web/frontend/.devcontainer';
  const wiredTo = (tree: Tree) => (parse(read(tree, SHARED)).services.postgres['x-devsec'].projects as string[]).slice();
  /** As an older version left it: frontend generated after the service, not wired (the file restamped as a generator writes it). */
  async function missed(): Promise<Tree> {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
    expect(wiredTo(tree)).toEqual(['app', 'frontend']);
    const doc = parseDocument(read(tree, SHARED));
    doc.setIn(['services', 'postgres', 'x-devsec', 'projects'], doc.createNode(['app']));
    tree.write(SHARED, stampManaged(SHARED, doc.toString(), SHARED_MARKER_NOTE));
    const spec = readSpec(tree, 'apps/web/frontend')!;
    renderSandbox(
      tree,
      { project: 'frontend', projectRoot: 'apps/web/frontend' },
      { ...spec, aptPackages: spec.aptPackages.filter((p) => p !== 'postgresql-client') },
    );
    expect(read(tree, `${FRONTEND}/docker-compose.yml`)).not.toContain('DATABASE_URL');
    expect(read(tree, `${FRONTEND}/sandbox.Dockerfile`)).not.toContain('postgresql-client');
    return tree;
  }

  it('is wired again: its project in x-devsec.projects, DATABASE_URL, the client; reported, and then in sync', async () => {
    const tree = await missed();
    const result = await syncGenerator(tree);
    expect(result?.outOfSyncDetails).toEqual([`${FRONTEND}/docker-compose.yml`, `${FRONTEND}/sandbox.Dockerfile`, SHARED].sort());
    expect(wiredTo(tree)).toEqual(['app', 'frontend']);
    expect(Object.keys(parse(read(tree, `${FRONTEND}/docker-compose.yml`)).services.app.environment)).toContain('DATABASE_URL');
    expect(read(tree, `${FRONTEND}/sandbox.Dockerfile`)).toContain('postgresql-client');
    expect(managedState(SHARED, read(tree, SHARED))).toBe('pristine');
    // Idempotent: a second run changes nothing and reports nothing.
    const after = snapshot(tree);
    await expect(syncGenerator(tree)).resolves.toBeUndefined();
    expect(snapshot(tree)).toEqual(after);
  });

  it('dry run (nx sync:check, nx sync --dry-run): the files on disk are untouched, the change is only in the tree it reports', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsec-sync-'));
    try {
      const memory = await missed();
      for (const path of Object.keys(snapshot(memory))) {
        mkdirSync(dirname(join(dir, path)), { recursive: true });
        writeFileSync(join(dir, path), memory.read(path)!);
      }
      const onDisk = new FsTree(dir, false);
      const before = readFileSync(join(dir, SHARED), 'utf-8');
      const result = await syncGenerator(onDisk);
      expect(result?.outOfSyncDetails).toContain(SHARED);
      expect(onDisk.listChanges().map((change) => change.path)).toEqual(expect.arrayContaining([SHARED, `${FRONTEND}/docker-compose.yml`]));
      expect(readFileSync(join(dir, SHARED), 'utf-8')).toBe(before);
      expect(readFileSync(join(dir, FRONTEND, 'docker-compose.yml'), 'utf-8')).not.toContain('DATABASE_URL');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('never wires a sandbox an explicit --projects left out', async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    await secureDevcontainerGenerator(tree, { project: 'frontend', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', projects: ['app'], skipFormat: true });
    expect(parse(read(tree, SHARED)).services.postgres['x-devsec'].unwired).toEqual(['frontend']);
    // Its compose file is brought up to date (NO_PROXY names the new service: shared-service re-renders only the wired), not wired.
    const sharedBefore = read(tree, SHARED);
    expect((await syncGenerator(tree))?.outOfSyncDetails).toEqual([`${FRONTEND}/docker-compose.yml`]);
    expect(read(tree, SHARED)).toBe(sharedBefore);
    expect(wiredTo(tree)).toEqual(['app']);
    expect(read(tree, `${FRONTEND}/docker-compose.yml`)).not.toContain('DATABASE_URL');
    await expect(syncGenerator(tree)).resolves.toBeUndefined();
    // Wiring it later (shared-service --overwrite) drops the record; a re-run with the same options is the same service.
    await sharedServiceGenerator(tree, { preset: 'postgres', projects: ['app'], skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', projects: ['app', 'frontend'], overwrite: true, skipFormat: true });
    expect(parse(read(tree, SHARED)).services.postgres['x-devsec'].unwired).toBeUndefined();
    expect(wiredTo(tree)).toEqual(['app', 'frontend']);
  });

  it('leaves a hand-edited shared file alone and says what to do', async () => {
    const tree = await missed();
    tree.write(SHARED, read(tree, SHARED).replace('retries: 30', 'retries: 31'));
    const before = read(tree, SHARED);
    await expect(syncGenerator(tree)).rejects.toThrow(/docker-compose\.shared\.yml was edited by hand .*frontend is not wired to postgres/);
    expect(read(tree, SHARED)).toBe(before);
  });
});
