/**
 * Figure 8: how long `devsec` takes to answer, from the compiled bin as a workspace installs it,
 * against Node printing one line (the floor of any Node command). `check` runs on this repository
 * (its real host-executed surface), with an approved snapshot in a state directory of its own.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, rows } from './common';
import { ratioRow, rotate } from './measure';

const BIN = join(ROOT, 'dist/packages/devsec/src/bin/devsec.js');
const ROUNDS = 21;
const TARGET_MS = 150;

export function benchCli(): void {
  const state = mkdtempSync(join(tmpdir(), 'devsec-bench-state-'));
  const env = { ...process.env, XDG_STATE_HOME: state };
  const devsec = (...args: string[]) => {
    const result = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, env, encoding: 'utf-8' });
    if (result.status !== 0) throw new Error(`bench: devsec ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
    return result;
  };
  try {
    devsec('check'); // records the baseline; every timed run then finds nothing changed
    const [help, upHelp, check, floor] = rotate(ROUNDS, [
      () => devsec('--help'),
      () => devsec('up', '--help'),
      () => devsec('check'),
      () => spawnSync(process.execPath, ['-e', 'console.log(1)']),
    ]);
    const row = (label: string, times: number[], target = '–') => ratioRow(label, times, floor, target);
    rows.push(row(`8. \`devsec --help\`, spawn to exit / \`node -e 'console.log(1)'\` (${ROUNDS} rounds)`, help, `A ≤ ${TARGET_MS} ms`));
    rows.push(row('8′. `devsec up --help` / the same floor', upHelp, `A ≤ ${TARGET_MS} ms`));
    rows.push(row('8″. `devsec check` on this repository, nothing changed / the same floor', check));
  } finally {
    rmSync(state, { recursive: true, force: true });
  }
}
