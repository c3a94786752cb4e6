/**
 * Figure 10: git in the sandbox's repository of its own (git-mounts.ts: its own objects and refs,
 * the repository's objects behind alternates) against a plain clone of the same history:
 * `git status` and `git log -1000`. The sandbox's git dir is made by the shipped code
 * (ensurePrivateGitDir: its config, packed-refs, index); only its alternates line names the
 * repository's objects at their host path instead of /devsec/repository-objects, since git runs
 * on the host here (a Linux bind mount adds nothing to a file read; what is measured is git
 * looking objects up across two stores).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rows } from './common';
import { ratioRow, rotate } from './measure';
import { readGitLayout } from '../packages/devsec/src/host/git/git-layout';
import { ensurePrivateGitDir } from '../packages/devsec/src/host/git/git-mounts';

const FILES = 5000;
const COMMITS = 3000;

export function benchGit() {
  const base = mkdtempSync(join(tmpdir(), 'devsec-bench-git-'));
  const repo = join(base, 'repo');
  mkdirSync(repo);
  const git = (cwd: string, args: string[], input?: string) =>
    execFileSync('git', ['-c', 'user.name=b', '-c', 'user.email=b@b', ...args], { cwd, input, encoding: 'utf-8', maxBuffer: 256 * 1024 * 1024 });
  git(repo, ['init', '-q', '-b', 'main']);
  // A history of COMMITS commits over FILES files (each commit changes a few), by fast-import.
  const stream: string[] = [];
  let mark = 0;
  for (let c = 0; c < COMMITS; c++) {
    const touched = c === 0 ? Array.from({ length: FILES }, (_, i) => i) : [c % FILES, (c * 7) % FILES, (c * 13) % FILES];
    const commitMark = ++mark;
    stream.push(`commit refs/heads/main\nmark :${commitMark}\ncommitter b <b@b> ${1700000000 + c} +0000\ndata <<EOM\ncommit ${c}\nEOM`);
    for (const f of touched) {
      const body = `file ${f}, commit ${c}\n`;
      stream.push(`M 100644 inline src/d${f % 50}/f${f}.txt\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    stream.push('');
  }
  git(repo, ['fast-import', '--quiet'], stream.join('\n') + '\n');
  git(repo, ['checkout', '-q', '-f', 'main']);
  const clone = join(base, 'clone');
  git(base, ['clone', '-q', '--no-local', repo, clone]);
  // The sandbox's repository, as a start makes it.
  const privateDir = join(base, 'state/git');
  mkdirSync(join(base, 'state'));
  ensurePrivateGitDir(readGitLayout(repo), privateDir);
  writeFileSync(join(privateDir, 'objects/info/alternates'), `${join(repo, '.git/objects')}\n`);
  const sandbox = (args: string[]) => git(repo, ['--git-dir', privateDir, '--work-tree', repo, ...args]);
  const plain = (args: string[]) => git(clone, args);
  for (const [name, args] of [
    ['`git status`', ['status', '--porcelain']],
    ['`git log -1000`', ['log', '-1000', '--format=%H %an %s']],
  ] as const) {
    const [ta, tb] = rotate(31, [() => sandbox([...args]), () => plain([...args])]);
    rows.push(
      ratioRow(`10. ${name} on ${FILES} files, ${COMMITS} commits: the sandbox's repository (alternates) / a plain clone (31 rounds)`, ta, tb, '≤ 1.10'),
    );
  }
  rmSync(base, { recursive: true, force: true });
}
