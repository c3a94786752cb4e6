/**
 * Reading files the agent may have written: never through a symlink (O_NOFOLLOW), never
 * blocking on a FIFO (O_NONBLOCK, then only regular files are read), whole for the hash,
 * and kept as text only when it is UTF-8 and under a size cap (NUL bytes included: they are
 * shown escaped, as every control character is, and mark the file binary).
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** Text kept per file in the snapshot, to show a diff later; larger files are kept as a hash. */
export const TEXT_CAP_BYTES = 256 * 1024;

export interface FileContent {
  sha256: string;
  size: number;
  /** The content, when it is UTF-8 and at most the cap. */
  text?: string;
  /** Not UTF-8, or holding a NUL byte. */
  binary: boolean;
}

const CHUNK = 64 * 1024;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function openNoFollow(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
}

/** Hash and (when text, under textCap) content of a regular file; undefined when it is not one (any more). */
export function readSurfaceFile(path: string, textCap = TEXT_CAP_BYTES): FileContent | undefined {
  let fd: number;
  try {
    fd = openNoFollow(path);
  } catch (error) {
    // Gone, or replaced by a symlink or another kind, since the walk saw it: the caller records what lstat says now.
    if (['ENOENT', 'ELOOP', 'ENXIO', 'EISDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw error;
  }
  try {
    if (!fstatSync(fd).isFile()) return undefined;
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    const buffer = Buffer.alloc(CHUNK);
    let size = 0;
    for (let read = readSync(fd, buffer, 0, CHUNK, null); read > 0; read = readSync(fd, buffer, 0, CHUNK, null)) {
      hash.update(buffer.subarray(0, read));
      if (size + read <= textCap) kept.push(Buffer.from(buffer.subarray(0, read)));
      size += read;
    }
    const bytes = Buffer.concat(kept);
    const text = size <= textCap ? decodeText(bytes) : undefined;
    const binary = size <= textCap ? text === undefined || bytes.includes(0) : bytes.subarray(0, CHUNK).includes(0);
    return { sha256: hash.digest('hex'), size, text, binary };
  } finally {
    closeSync(fd);
  }
}

/**
 * `root/rel` read as readSurfaceFile does, then 'moved' unless the folder it was read from is
 * still that folder of the (real) root: O_NOFOLLOW guards the last name only, and a folder above
 * it swapped for a symlink during the walk would have sent the read outside the workspace.
 */
export function readWorkspaceFile(root: string, rel: string, textCap = TEXT_CAP_BYTES): FileContent | 'moved' | undefined {
  const abs = join(root, rel);
  const content = readSurfaceFile(abs, textCap);
  if (content === undefined) return undefined;
  try {
    return realpathSync.native(dirname(abs)) === dirname(abs) ? content : 'moved';
  } catch {
    return 'moved';
  }
}

/** A symlink's target text, or undefined when it is gone. */
export function readLink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** UTF-8, or undefined (binary). */
function decodeText(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** A small file's text (nx.json, tsconfig, git's pointers and config), or undefined when it is missing, not a regular file, binary, or larger than cap. */
export function readSmallText(path: string, cap = 1024 * 1024): string | undefined {
  const content = readSurfaceFile(path, cap);
  return content?.binary ? undefined : content?.text;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
