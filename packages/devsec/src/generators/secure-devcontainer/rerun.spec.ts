import { readProjectConfiguration, Tree } from '@nx/devkit';
import { FsTree } from 'nx/src/generators/tree';
import { mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DOCKERFILE } from '../../sandbox/vocabulary';
import { generated, run } from '../../testing/generated-sandbox';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { secureDevcontainerGenerator } from './generator';

describe('secure-devcontainer generator, run again and given bad input', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspaceWithProjects();
  });

  describe('re-runs and user edits', () => {
    it('changes nothing when run again with the same options', async () => {
      await run(tree, { agent: 'claude' });
      const before = snapshot(tree);
      await run(tree, { agent: 'claude' });
      expect(snapshot(tree)).toEqual(before);
    });

    it('records no change at all for a re-run on a committed workspace', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'devsec-rerun-'));
      try {
        writeFileSync(join(dir, 'nx.json'), '{}');
        writeFileSync(join(dir, 'package.json'), '{"name":"ws"}');
        mkdirSync(join(dir, 'apps/app'), { recursive: true });
        writeFileSync(join(dir, 'apps/app/project.json'), '{"name":"app","root":"apps/app"}');
        const first = new FsTree(dir, false);
        await run(first);
        const { flushChanges } = jest.requireActual('nx/src/generators/tree');
        flushChanges(dir, first.listChanges());
        const second = new FsTree(dir, false);
        await run(second);
        expect(second.listChanges().map((change) => `${change.type} ${change.path}`)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('regenerates an untouched file whose options changed', async () => {
      await run(tree);
      await run(tree, { network: 'other' });
      expect(generated(tree).compose.networks.shared.name).toBe('other');
    });

    it('stops, naming the file, instead of losing a hand edit; the tree is unchanged', async () => {
      await run(tree);
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      tree.write(path, (tree.read(path, 'utf-8') as string).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
      const before = snapshot(tree);
      await expect(run(tree, { network: 'other' })).rejects.toThrow(
        /edited by hand: apps\/app\/\.devcontainer\/docker-compose\.yml.*delete its "@org\/devsec managed file" line.*--force/,
      );
      expect(snapshot(tree)).toEqual(before);
    });

    it('does not count reformatting or comments as an edit', async () => {
      await run(tree);
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      const text = tree.read(path, 'utf-8') as string;
      tree.write(path, text.replace('LOG_LEVEL: info', "LOG_LEVEL: 'info'   # quoted by a formatter"));
      await expect(run(tree)).resolves.toBeDefined();
    });

    it('leaves a file alone once the user deletes its marker', async () => {
      await run(tree);
      const path = `apps/app/.devcontainer/${DOCKERFILE}`;
      const owned = (tree.read(path, 'utf-8') as string).split('\n').slice(1).join('\n') + 'RUN echo mine\n';
      tree.write(path, owned);
      await run(tree, { aptPackages: ['jq'] });
      expect(tree.read(path, 'utf-8')).toBe(owned);
    });

    it('replaces an edited file with --force', async () => {
      await run(tree);
      const path = 'apps/app/.devcontainer/docker-compose.yml';
      tree.write(path, (tree.read(path, 'utf-8') as string).replace('LOG_LEVEL: info', 'LOG_LEVEL: debug'));
      await run(tree, { force: true });
      expect(tree.read(path, 'utf-8')).toContain('LOG_LEVEL: info');
    });
  });

  it('has no side effect outside the Tree (what --dry-run relies on)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsec-dry-'));
    try {
      writeFileSync(join(dir, 'nx.json'), '{}');
      mkdirSync(join(dir, 'apps/app'), { recursive: true });
      writeFileSync(join(dir, 'apps/app/project.json'), '{"name":"app","root":"apps/app"}');
      const list = () => readdirSync(dir, { recursive: true }).map(String).sort();
      const before = list();
      const dryTree = new FsTree(dir, false);
      await secureDevcontainerGenerator(dryTree, { project: 'app' });
      expect(dryTree.listChanges().length).toBeGreaterThan(0);
      expect(list()).toEqual(before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('bad input: a clear error naming the option and the fix, and an unchanged tree', () => {
    it.each([
      [{ project: 'nope' }, /--project: no project named "nope".*Pick one of: @acme\/web, app, frontend/],
      [{ network: 'bad net' }, /--network: "bad net" is not a valid Docker network name.*--network=dev/],
      [{ network: '-dev' }, /--network: "-dev"/],
      [{ baseImage: 'node:24 trixie' }, /--baseImage: "node:24 trixie" is not an image reference.*--baseImage=node:24-trixie-slim/],
      [{ baseImage: 'Node:24' }, /--baseImage/],
      [{ agent: 'copilot' as never }, /--agent: "copilot" is not supported. Use one of: claude, codex, none/],
      [{ aptPackages: ['sudo'] }, /--aptPackages: sudo would let the agent become root/],
      [{ aptPackages: ['rm -rf'] }, /--aptPackages: "rm" is not|--aptPackages: "-rf" is not/],
      [{ POST: true }, /--POST: the socket proxy is read-only by construction/],
      [{ EXEC: true, BUILD: true }, /--BUILD, --EXEC|--EXEC, --BUILD/],
      [{ PING: false }, /--PING=false/],
    ])('%p', async (options, message) => {
      const before = snapshot(tree);
      await expect(run(tree, options)).rejects.toThrow(message);
      expect(snapshot(tree)).toEqual(before);
    });

    it('refuses a project that already has a foreign .devcontainer', async () => {
      tree.write('apps/app/.devcontainer/devcontainer.json', '{ "image": "mcr.microsoft.com/devcontainers/base" }');
      const before = snapshot(tree);
      await expect(run(tree)).rejects.toThrow(/apps\/app\/\.devcontainer already exists and was not created by @org\/devsec \(devcontainer\.json\).*git mv/);
      expect(snapshot(tree)).toEqual(before);
    });

    it('keeps the project configuration untouched', async () => {
      const before = readProjectConfiguration(tree, 'app');
      await run(tree);
      expect(readProjectConfiguration(tree, 'app')).toEqual(before);
    });
  });
});
