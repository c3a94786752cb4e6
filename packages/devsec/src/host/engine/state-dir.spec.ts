import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, stateDir, stateKey, stateRoot, writeStateFile } from './state-dir';

describe('the state directory', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'devsec-state-'));
    env = { HOME: home };
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('lives in XDG_STATE_HOME, else ~/.local/state, ignoring a relative XDG_STATE_HOME', () => {
    expect(stateRoot({ HOME: '/home/u', XDG_STATE_HOME: '/xdg' })).toBe('/xdg/devsec');
    expect(stateRoot({ HOME: '/home/u' })).toBe('/home/u/.local/state/devsec');
    expect(stateRoot({ HOME: '/home/u', XDG_STATE_HOME: 'relative' })).toBe('/home/u/.local/state/devsec');
  });

  it('creates each level 0700 and writes files 0600', () => {
    const dir = stateDir(['shared'], env);
    expect(dir).toBe(join(home, '.local/state/devsec/shared'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    writeStateFile(join(dir, 'x.env'), 'A=1\n');
    expect(statSync(join(dir, 'x.env')).mode & 0o777).toBe(0o600);
    expect(readStateFile(join(dir, 'x.env'))).toBe('A=1\n');
    expect(readStateFile(join(dir, 'missing'))).toBeUndefined();
  });

  it('never reads through a symlink, and refuses a symlinked directory', () => {
    const dir = stateDir(['shared'], env);
    writeFileSync(join(home, 'elsewhere'), 'SECRET=1\n');
    symlinkSync(join(home, 'elsewhere'), join(dir, 'x.env'));
    expect(() => readStateFile(join(dir, 'x.env'))).toThrow(/is a symlink/);
    // A write replaces the link itself; the file it pointed at is untouched.
    writeStateFile(join(dir, 'x.env'), 'A=2\n');
    expect(readFileSync(join(home, 'elsewhere'), 'utf-8')).toBe('SECRET=1\n');
    mkdirSync(join(home, 'other'));
    symlinkSync(join(home, 'other'), join(dir, 'linked'));
    expect(() => stateDir(['shared', 'linked'], env)).toThrow(/should be a directory of @org\/devsec's state/);
  });

  it("refuses another user's file", () => {
    if (process.getuid?.() !== 0) return;
    const dir = stateDir(['shared'], env);
    writeFileSync(join(dir, 'x.env'), 'A=1\n');
    chownSync(join(dir, 'x.env'), 4242, 4242);
    expect(() => readStateFile(join(dir, 'x.env'))).toThrow(/belongs to another user \(uid 4242\)/);
  });

  it('turns a key into one safe path segment', () => {
    expect(stateKey('ws-source-shared')).toBe('ws-source-shared');
    expect(stateKey('../../etc')).toBe('etc');
    expect(stateKey('a/b')).toBe('a-b');
    expect(() => stateKey('..')).toThrow(/cannot name a state file/);
  });
});
