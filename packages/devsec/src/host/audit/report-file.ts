/**
 * `audit --output-file=<path>`: the report written inside the workspace, which in mount mode is
 * the agent's to write. So the path is not only checked as text: every folder on the way from the
 * workspace root is checked to be a folder (never a symlink the agent planted to aim the write
 * elsewhere), and the file is a new one, created exclusively beside the target and renamed over
 * it, so a symlink or a hard link planted at the target is replaced, never written through.
 */
import { closeSync, constants, fchmodSync, fstatSync, lstatSync, openSync, realpathSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, isAbsolute, join, relative, sep } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

const refuse = (option: string, why: string) => new SandboxError(`--outputFile=${visible(option)}: ${why}`);

/** Writes `content` to `option` (a path from the workspace root) as a new file of mode 0644; the path is returned. */
export function writeReportFile(workspaceRoot: string, option: string, content: string): string {
  const target = join(workspaceRoot, option);
  const fromRoot = relative(workspaceRoot, target);
  if (fromRoot === '' || fromRoot.startsWith('..') || isAbsolute(fromRoot) || fromRoot.split(/[\\/]/).includes('.git')) {
    throw refuse(option, 'the report goes inside the workspace, outside .git (e.g. --outputFile=audit.sarif).');
  }
  // Each folder from the root down, as itself: a symlink among them would aim the write wherever it points.
  const folders = fromRoot.split(sep).slice(0, -1);
  for (let depth = 1; depth <= folders.length; depth++) {
    const folder = folders.slice(0, depth).join(sep);
    const stat = lstatSync(join(workspaceRoot, folder), { throwIfNoEntry: false });
    if (!stat) throw refuse(option, `the folder ${visible(folder)} does not exist: make it first.`);
    if (stat.isSymbolicLink())
      throw refuse(
        option,
        `${visible(folder)} is a symlink: the report is written only through real folders of the workspace (remove it, or choose another path).`,
      );
    if (!stat.isDirectory()) throw refuse(option, `${visible(folder)} is not a folder.`);
  }
  if (lstatSync(target, { throwIfNoEntry: false })?.isDirectory()) throw refuse(option, `${visible(fromRoot)} is a folder: name a file.`);

  const folder = dirname(target);
  const expected = join(realpathSync(workspaceRoot), ...folders);
  const temporary = join(folder, `.${basename(target)}.${randomBytes(8).toString('hex')}.tmp`);
  // A new file of ours: exclusive (never an existing file, link or not), never through a symlink.
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
  let renamed = false;
  try {
    fchmodSync(fd, 0o644);
    const bytes = Buffer.from(content, 'utf-8');
    for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
    // The folder checked above is still the one the file was made in (not swapped for a symlink meanwhile).
    const made = fstatSync(fd);
    const there = lstatSync(temporary, { throwIfNoEntry: false });
    if (realpathSync(folder) !== expected || !there || there.ino !== made.ino || there.dev !== made.dev) {
      throw refuse(option, `a folder on the way to ${visible(fromRoot)} changed while the report was written: run again.`);
    }
    renameSync(temporary, target);
    renamed = true;
  } finally {
    closeSync(fd);
    if (!renamed) {
      try {
        unlinkSync(temporary);
      } catch {
        // gone already
      }
    }
  }
  return target;
}
