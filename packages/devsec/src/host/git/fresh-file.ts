/**
 * Files the host writes into the workspace, which is the agent's to write: whatever stands at the
 * path (a symlink to a file of yours, a hard link to one, a folder) is removed first and the file
 * created anew — exclusively, never following a link — so no write of ours lands anywhere the
 * agent aimed it.
 */
import { closeSync, constants, lstatSync, openSync, rmSync, writeSync } from 'node:fs';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

export function writeFresh(path: string, text: string, mode = 0o644): void {
  const there = lstatSync(path, { throwIfNoEntry: false });
  if (there?.isDirectory()) throw new SandboxError(`${visible(path)} is a folder where @org/devsec writes a file: remove it and run again.`);
  // Unlinking a symlink or a hard link removes the name only: the file it led to stays as it was.
  if (there) rmSync(path, { force: true });
  writeNewFile(path, Buffer.from(text), mode);
}

/** Writes bytes to a file that must not exist yet: created exclusively, never through a link. */
export function writeNewFile(path: string, data: Buffer, mode = 0o600): void {
  const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    let offset = 0;
    while (offset < data.length) offset += writeSync(fd, data, offset);
  } finally {
    closeSync(fd);
  }
}
