import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFresh } from './fresh-file';

describe('writeFresh: a host write into the workspace never lands where a link points', () => {
  let dir: string;
  let outside: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-fresh-'));
    outside = join(dir, 'bashrc');
    writeFileSync(outside, 'the user file\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['a symlink', (path: string) => symlinkSync(outside, path)],
    ['a hard link', (path: string) => linkSync(outside, path)],
    ['a dangling symlink', (path: string) => symlinkSync(join(dir, 'created-through-the-link'), path)],
  ])('replaces %s, leaving its target as it was', (_what, plant) => {
    const path = join(dir, '.env');
    plant(path);
    writeFresh(path, 'OURS=1\n', 0o600);
    expect(readFileSync(path, 'utf-8')).toBe('OURS=1\n');
    expect(readFileSync(outside, 'utf-8')).toBe('the user file\n');
    expect(() => readFileSync(join(dir, 'created-through-the-link'))).toThrow(/ENOENT/);
  });

  it('refuses a folder at the path, naming it', () => {
    mkdirSync(join(dir, '.env'));
    expect(() => writeFresh(join(dir, '.env'), 'x')).toThrow(/\.env is a folder where @org\/devsec writes a file/);
  });
});
