import { existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { runAudit } from './audit';
import { writeReportFile } from './report-file';

describe('writeReportFile: the report is written only where the agent cannot aim it', () => {
  let base: string;
  let root: string;
  let outside: string;
  const before = '# the user\'s own file\nalias ls="ls --color"\n';

  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'devsec-report-'));
    root = join(base, 'ws');
    mkdirSync(root);
    outside = join(base, 'home-bashrc');
    writeFileSync(outside, before);
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('writes a new file of mode 0644, and replaces an earlier report', () => {
    writeReportFile(root, 'audit.txt', 'first\n');
    writeReportFile(root, 'audit.txt', 'second\n');
    expect(readFileSync(join(root, 'audit.txt'), 'utf-8')).toBe('second\n');
    expect(statSync(join(root, 'audit.txt')).mode & 0o777).toBe(0o644);
    expect(readdirSync(root)).toEqual(['audit.txt']);
  });

  it('replaces a planted symlink to a file outside: the outside file is byte-identical after', () => {
    symlinkSync(outside, join(root, 'audit.txt'));
    writeReportFile(root, 'audit.txt', 'report\n');
    expect(readFileSync(outside, 'utf-8')).toBe(before);
    expect(lstatSync(join(root, 'audit.txt')).isSymbolicLink()).toBe(false);
    expect(readFileSync(join(root, 'audit.txt'), 'utf-8')).toBe('report\n');
  });

  it('replaces a planted hard link to a file outside: the outside file is byte-identical after', () => {
    linkSync(outside, join(root, 'audit.txt'));
    writeReportFile(root, 'audit.txt', 'report\n');
    expect(readFileSync(outside, 'utf-8')).toBe(before);
    expect(statSync(outside).nlink).toBe(1);
    expect(readFileSync(join(root, 'audit.txt'), 'utf-8')).toBe('report\n');
  });

  it('refuses a symlinked folder on the way, naming it, and writes nothing there', () => {
    mkdirSync(join(root, 'reports'));
    const elsewhere = join(base, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(root, 'reports', 'ci'));
    expect(() => writeReportFile(root, 'reports/ci/audit.txt', 'report\n')).toThrow(
      /^--outputFile=reports\/ci\/audit\.txt: reports\/ci is a symlink: the report is written only through real folders/,
    );
    expect(readdirSync(elsewhere)).toEqual([]);
  });

  it('refuses an existing folder as the target, and paths outside the workspace or in .git', () => {
    mkdirSync(join(root, 'audit.txt'));
    expect(() => writeReportFile(root, 'audit.txt', 'report\n')).toThrow(/audit\.txt is a folder: name a file/);
    expect(() => writeReportFile(root, '../audit.txt', 'report\n')).toThrow(/the report goes inside the workspace/);
    expect(() => writeReportFile(root, '.git/audit.txt', 'report\n')).toThrow(/outside \.git/);
    expect(() => writeReportFile(root, 'missing/audit.txt', 'report\n')).toThrow(/the folder missing does not exist/);
  });

  it('names what came from the workspace as text', () => {
    mkdirSync(join(root, 'a'));
    symlinkSync(base, join(root, 'a', 'x\x1b[2J'));
    expect(() => writeReportFile(root, 'a/x\x1b[2J/audit.txt', 'report\n')).toThrow('a/x\\x1b[2J is a symlink');
  });
});

describe('audit: a nested .git whose name is shell', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-audit-shell-'));
    execFileSync('git', ['init', '-q', root]);
    mkdirSync(join(root, 'x;id>audit.ran;#', '.git'), { recursive: true });
    mkdirSync(join(root, 'apps/app/.devcontainer'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is printed inert: no line of the report, pasted into a shell, runs it', () => {
    let report = '';
    runAudit(root, 'apps/app/.devcontainer/docker-compose.yml', { outputFile: 'audit.txt' }, (text) => (report += text));
    expect(report).toMatch(/^HIGH +'x;id>audit\.ran;#\/\.git' +nested-git: 'x;id>audit\.ran;#\/\.git' is a git repository/m);
    expect(readFileSync(join(root, 'audit.txt'), 'utf-8')).toBe(report);
    // Each line as a user would paste it, run by a real shell where the name would write audit.ran.
    const shell = mkdtempSync(join(tmpdir(), 'devsec-paste-'));
    try {
      for (const line of report.split('\n')) spawnSync('bash', ['-c', line], { cwd: shell, stdio: 'ignore', timeout: 5000 });
      expect(existsSync(join(shell, 'audit.ran'))).toBe(false);
      // The same shell runs the name when it is printed bare: the check above could fail.
      spawnSync('bash', ['-c', 'HIGH  x;id>audit.ran;#/.git  nested-git'], { cwd: shell, stdio: 'ignore' });
      expect(existsSync(join(shell, 'audit.ran'))).toBe(true);
    } finally {
      rmSync(shell, { recursive: true, force: true });
    }
  });
});
