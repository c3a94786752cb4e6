/**
 * Where one path sits relative to another: one definition for the gate, mount pins and git's
 * folders, so a folder named `..x` is below its parent everywhere and `/ab` is never below `/a`.
 */
import { isAbsolute, relative, sep } from 'node:path';

/** `path` is `root` or below it, both normalized absolute POSIX paths (no `..`, no trailing `/`). */
export const isUnder = (path: string, root: string): boolean => path === root || path.startsWith(root === '/' ? '/' : `${root}/`);

/** `path` relative to `root` when strictly below it; undefined for `root` itself and anything outside. */
export function below(root: string, path: string): string | undefined {
  const rel = relative(root, path);
  return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? undefined : rel;
}
