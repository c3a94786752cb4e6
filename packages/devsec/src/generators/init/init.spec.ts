import { readJson, readNxJson, Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { snapshot } from '../../testing/workspace';
import { initGenerator, InitHost } from './init';

describe('init generator (nx add @org/devsec)', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it('registers the plugin in nx.json and the proxy package in package.json', async () => {
    await initGenerator(tree, { skipFormat: true });
    expect(readNxJson(tree)?.plugins).toContainEqual({ plugin: '@org/devsec', options: {} });
    expect(readNxJson(tree)?.sync?.globalGenerators).toEqual(['@org/devsec:sync']);
    expect(readJson(tree, 'package.json').devDependencies['@org/devsec-socket-proxy']).toBe(require('../../../package.json').version);
  });

  it('is a no-op the second time', async () => {
    await initGenerator(tree, { skipFormat: true });
    const before = snapshot(tree);
    await initGenerator(tree, { skipFormat: true });
    expect(snapshot(tree)).toEqual(before);
  });

  it('keeps an existing registration with options, and an installed proxy version', async () => {
    tree.write(
      'nx.json',
      JSON.stringify({
        plugins: [{ plugin: '@org/devsec', options: { upTargetName: 'sandbox' } }],
        sync: { applyChanges: true, globalGenerators: ['@acme/x:sync'] },
      }),
    );
    tree.write('package.json', JSON.stringify({ name: 'ws', devDependencies: { '@org/devsec-socket-proxy': 'file:../proxy.tgz' } }));
    await initGenerator(tree, { skipFormat: true });
    expect(readNxJson(tree)?.plugins).toEqual([{ plugin: '@org/devsec', options: { upTargetName: 'sandbox' } }]);
    expect(readNxJson(tree)?.sync).toEqual({ applyChanges: true, globalGenerators: ['@acme/x:sync', '@org/devsec:sync'] });
    expect(readJson(tree, 'package.json').devDependencies['@org/devsec-socket-proxy']).toBe('file:../proxy.tgz');
  });

  describe('a workspace without @nx/devkit (made by nx init alone)', () => {
    const host = (devkitInstalled: boolean) => {
      const installs: string[] = [];
      const fake: InitHost = { devkitInstalled: () => devkitInstalled, nxVersion: () => '24.0.7', install: (root, pm) => installs.push(`${pm} in ${root}`) };
      return { fake, installs };
    };

    it("adds @nx/devkit of the workspace's nx major, then installs once", async () => {
      const { fake, installs } = host(false);
      const install = await initGenerator(tree, {}, fake);
      expect(readJson(tree, 'package.json').devDependencies['@nx/devkit']).toBe('^24.0.0');
      expect(installs).toEqual([]);
      install();
      expect(installs).toEqual([`npm in ${tree.root}`]);
    });

    it("installs with the workspace's package manager, and refuses one the sandbox cannot serve before writing", async () => {
      tree.write('pnpm-lock.yaml', "lockfileVersion: '9.0'\n");
      const { fake, installs } = host(false);
      (await initGenerator(tree, {}, fake))();
      expect(installs).toEqual([`pnpm in ${tree.root}`]);
      const berry = createTreeWithEmptyWorkspace();
      berry.write('yarn.lock', '__metadata:\n  version: 8\n');
      berry.write('package.json', JSON.stringify({ name: 'ws', packageManager: 'yarn@4.12.0' }));
      const before = snapshot(berry);
      await expect(initGenerator(berry, {}, fake)).rejects.toThrow(/nodeLinker: pnp .*Add `nodeLinker: node-modules` to .yarnrc.yml/);
      expect(snapshot(berry)).toEqual(before);
    });

    it('adds no @nx/devkit when one resolves, or when package.json already lists one', async () => {
      await initGenerator(tree, { skipFormat: true }, host(true).fake);
      expect(readJson(tree, 'package.json').devDependencies['@nx/devkit']).toBeUndefined();
      const other = createTreeWithEmptyWorkspace();
      other.write('package.json', JSON.stringify({ name: 'ws', dependencies: { '@nx/devkit': '^22.0.0' } }));
      await initGenerator(other, {}, host(false).fake);
      expect(readJson(other, 'package.json')).toEqual({
        name: 'ws',
        dependencies: { '@nx/devkit': '^22.0.0' },
        devDependencies: { '@org/devsec-socket-proxy': expect.any(String) },
      });
    });

    it('installs nothing when package.json is left as it was', async () => {
      tree.write('package.json', JSON.stringify({ name: 'ws', devDependencies: { '@nx/devkit': '24.0.7', '@org/devsec-socket-proxy': '0.1.0' } }));
      const { fake, installs } = host(false);
      (await initGenerator(tree, {}, fake))();
      expect(installs).toEqual([]);
    });

    it("keeps nx.json's comments and settings", async () => {
      tree.write('nx.json', '{\n  // the team\'s note\n  "namedInputs": { "default": ["{projectRoot}/**/*"] }\n}\n');
      await initGenerator(tree, {}, host(false).fake);
      const text = tree.read('nx.json', 'utf-8')!;
      expect(text).toContain("// the team's note");
      expect(readNxJson(tree)?.namedInputs).toEqual({ default: ['{projectRoot}/**/*'] });
      expect(readNxJson(tree)?.plugins).toEqual([{ plugin: '@org/devsec', options: {} }]);
    });

    it('refuses an nx.json that is not JSON, naming it, and changes nothing', async () => {
      tree.write('nx.json', '{ "plugins": [ }');
      const before = snapshot(tree);
      await expect(initGenerator(tree, {}, host(false).fake)).rejects.toThrow('nx.json is not a JSON object: fix it, then run nx g @org/devsec:init.');
      expect(snapshot(tree)).toEqual(before);
    });
  });
});
