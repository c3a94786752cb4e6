import { addProjectConfiguration, Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';

/** An empty workspace with the projects the tests use, as `nx g` would find them. */
export function workspaceWithProjects(): Tree {
  const tree = createTreeWithEmptyWorkspace();
  addProjectConfiguration(tree, 'app', { root: 'apps/app', projectType: 'application', targets: {} });
  addProjectConfiguration(tree, 'frontend', { root: 'apps/web/frontend', projectType: 'application', targets: {} });
  addProjectConfiguration(tree, '@acme/web', { root: 'packages/web', projectType: 'application', targets: {} });
  return tree;
}

/** Every file of the tree with its content, for "nothing changed" assertions. */
export function snapshot(tree: Tree): Record<string, string> {
  const files: Record<string, string> = {};
  const visit = (dir: string) => {
    for (const child of tree.children(dir)) {
      const path = dir === '' ? child : `${dir}/${child}`;
      if (tree.isFile(path)) files[path] = tree.read(path, 'utf-8') ?? '';
      else visit(path);
    }
  };
  visit('');
  return files;
}
