import { Tree } from '@nx/devkit';

/** Adds a path to the root .gitignore once (re-runs leave it as it is). */
export function ensureGitignored(tree: Tree, path: string): void {
  const current = tree.read('.gitignore', 'utf-8') ?? '';
  const lines = current.split('\n').map((line) => line.trim());
  if (lines.includes(path) || lines.includes(`/${path}`)) return;
  const prefix = current === '' || current.endsWith('\n') ? current : `${current}\n`;
  const header = lines.includes('# @org/devsec: per-machine sandbox settings') ? '' : '\n# @org/devsec: per-machine sandbox settings\n';
  tree.write('.gitignore', `${prefix}${header}${path}\n`);
}
