import { readJson, readNxJson, Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { snapshot } from '../../testing/workspace';
import { initGenerator } from './init';

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
});
