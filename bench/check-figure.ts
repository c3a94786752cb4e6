/**
 * Figure 9: `devsec check` on a workspace of 100,000 files (issue #26, item 7), from the compiled
 * bin as a workspace installs it. The workspace is generated outside this repository: 1,000
 * projects of 100 files each (project.json, jest.config.ts for `@nx/jest/plugin` in nx.json,
 * 98 sources in 7 folders), committed, with 2 s left before the first walk so no file is "racy".
 * Timed: the first run (no snapshot: the baseline is recorded), a run with the snapshot but
 * without the stat cache (every file read and hashed again), and the warm run with nothing
 * changed, side by side with `git status` on the same workspace (the same stat walk, by git).
 * With DEVSEC_BENCH_CHECK_BEFORE=<another build's bin/devsec.js>, that build's warm run is timed
 * in the same rounds (its own state directory), for a before/after ratio.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, rows } from './common';
import { median, ms, ratioRow, rotate, spread } from './measure';

const BIN = join(ROOT, 'dist/packages/devsec/src/bin/devsec.js');
const PROJECTS = 1000;
const FILES_PER_PROJECT = 100;
const WARM_ROUNDS = 11;
const COLD_ROUNDS = 3;
const TARGET_MS = 1000;

/** The generated workspace's root: a git repository with every file committed. */
export function generateWorkspace(dir: string, projects = PROJECTS): string {
  const root = join(dir, 'ws');
  mkdirSync(root);
  writeFileSync(join(root, 'nx.json'), JSON.stringify({ plugins: ['@nx/jest/plugin'] }, null, 2) + '\n');
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'bench-ws', private: true }, null, 2) + '\n');
  writeFileSync(join(root, '.gitignore'), 'node_modules\n.nx\n');
  for (let p = 0; p < projects; p++) {
    const project = join(root, 'packages', `p${p}`);
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, 'project.json'), JSON.stringify({ name: `p${p}`, targets: { build: { command: 'true' } } }) + '\n');
    writeFileSync(join(project, 'jest.config.ts'), `export default { displayName: 'p${p}' };\n`);
    for (let f = 0; f < FILES_PER_PROJECT - 2; f++) {
      const folder = join(project, 'src', `d${f % 7}`);
      if (f < 7) mkdirSync(folder, { recursive: true });
      writeFileSync(join(folder, `f${f}.ts`), `export const value${f} = ${p * FILES_PER_PROJECT + f};\n`);
    }
  }
  const git = (...args: string[]) => {
    const result = spawnSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.invalid', ...args], { cwd: root, encoding: 'utf-8' });
    if (result.status !== 0) throw new Error(`bench: git ${args.join(' ')}: ${result.stderr}`);
  };
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'bench');
  return root;
}

export function benchCheck(): void {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-bench-check-'));
  try {
    const root = generateWorkspace(dir);
    // Files written less than 2 s before a walk are not cached (racy): wait them out, as a real workspace would have.
    spawnSync('sleep', ['2.5']);
    const state = join(dir, 'state');
    const env = { ...process.env, XDG_STATE_HOME: state };
    const before = process.env.DEVSEC_BENCH_CHECK_BEFORE;
    const devsec = (...args: string[]) => devsecOf(BIN, env, args);
    const devsecOf = (bin: string, env: NodeJS.ProcessEnv, args: string[]) => {
      const result = spawnSync(process.execPath, [bin, ...args], { cwd: root, env, encoding: 'utf-8', maxBuffer: 64 * 1024 * 1024 });
      if (result.status !== 0) throw new Error(`bench: devsec ${args.join(' ')} exited ${result.status}: ${result.stderr}${result.stdout.slice(-2000)}`);
      return result;
    };
    const timed = (fn: () => unknown) => {
      const start = process.hrtime.bigint();
      fn();
      return Number(process.hrtime.bigint() - start) / 1e6;
    };
    const first: number[] = [];
    const uncached: number[] = [];
    for (let i = 0; i < COLD_ROUNDS; i++) {
      rmSync(state, { recursive: true, force: true });
      first.push(timed(() => devsec('check'))); // no snapshot: records the baseline and the stat cache
      const cache = spawnSync('find', [state, '-name', 'stat-cache*'], { encoding: 'utf-8' }).stdout.trim().split('\n').filter(Boolean);
      if (cache.length !== 1) throw new Error(`bench: expected one stat cache under ${state}, found ${cache.length}`);
      rmSync(cache[0]);
      uncached.push(timed(() => devsec('check'))); // the snapshot, no cache: every file hashed again (and the cache written)
    }
    const gitStatus = () => {
      const result = spawnSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf-8' });
      if (result.status !== 0 || result.stdout !== '') throw new Error(`bench: git status: ${result.stderr}${result.stdout}`);
    };
    const beforeEnv = { ...process.env, XDG_STATE_HOME: join(dir, 'state-before') };
    if (before) devsecOf(before, beforeEnv, ['check']); // its baseline
    const [warm, git, old] = rotate(WARM_ROUNDS, [() => devsec('check'), gitStatus, ...(before ? [() => devsecOf(before, beforeEnv, ['check'])] : [])]);
    const files = PROJECTS * FILES_PER_PROJECT + 3;
    rows.push(
      ratioRow(
        `9. \`devsec check\`, ${files} files, nothing changed, warm / \`git status\` on the same workspace (${WARM_ROUNDS} rounds)`,
        warm,
        git,
        `A ≤ ${TARGET_MS} ms`,
      ),
    );
    if (before) rows.push(ratioRow(`9‴. the same warm run, this build / ${before} (same rounds)`, warm, old));
    rows.push([`9′. the first run (no snapshot: baseline recorded) (${COLD_ROUNDS} rounds)`, ms(median(first)), '–', '–', '–', spread(first)]);
    rows.push([`9″. a run with the snapshot, without the stat cache (every file hashed)`, ms(median(uncached)), '–', '–', '–', spread(uncached)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  benchCheck();
  console.log(rows.map((row) => `| ${row.join(' | ')} |`).join('\n'));
}
