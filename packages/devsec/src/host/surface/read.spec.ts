import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSurfaceFile, readWorkspaceFile } from './read';

describe('reading files the agent may have written', () => {
  let dir: string;
  beforeEach(() => {
    dir = realpathSync(mkdtempSync(join(tmpdir(), 'devsec-read-')));
    mkdirSync(join(dir, 'ws/app'), { recursive: true });
    mkdirSync(join(dir, 'outside'));
    writeFileSync(join(dir, 'outside/package.json'), 'secret\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('never reads through a symlink, nor blocks on a FIFO', () => {
    symlinkSync(join(dir, 'outside/package.json'), join(dir, 'ws/link'));
    expect(readSurfaceFile(join(dir, 'ws/link'))).toBeUndefined();
    execFileSync('mkfifo', [join(dir, 'ws/fifo')]);
    expect(readSurfaceFile(join(dir, 'ws/fifo'))).toBeUndefined();
  });

  it('refuses a file reached through a folder that is a symlink (swapped in during the walk)', () => {
    writeFileSync(join(dir, 'ws/app/package.json'), '{}\n');
    expect(readWorkspaceFile(join(dir, 'ws'), 'app/package.json')).toMatchObject({ text: '{}\n' });
    rmSync(join(dir, 'ws/app'), { recursive: true });
    symlinkSync(join(dir, 'outside'), join(dir, 'ws/app'));
    expect(readWorkspaceFile(join(dir, 'ws'), 'app/package.json')).toBe('moved');
  });
});
