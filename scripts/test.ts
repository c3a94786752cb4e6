/**
 * The test command: lints and checks the formatting (two checks), builds and packs the packages
 * (the e2e suite installs the tarballs, the proxy's process-level tests run its compiled bin),
 * then runs every jest project once (in two lanes side by side) and prints one closing line
 * `N passed, N failed`, the two checks counted among them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { buildPackages } from './build-packages';

const ROOT = join(__dirname, '..');
const extra = process.argv.slice(2);

/** The code base passes ESLint (with the layer rule) and Prettier, or the run fails. */
const checks = [
  ['eslint', [join(ROOT, 'node_modules/eslint/bin/eslint.js'), '.']],
  ['prettier', [join(ROOT, 'node_modules/prettier/bin/prettier.cjs'), '--check', '--log-level=warn', '**/*.{ts,js,mjs}']],
] as const;
let checksFailed = 0;
for (const [name, args] of checks) {
  const result = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: ROOT });
  if (result.status !== 0) {
    checksFailed++;
    console.error(`${name} failed: run \`npx ${name === 'eslint' ? 'eslint .' : 'prettier --write "**/*.{ts,js,mjs}"'}\` and fix what it reports.`);
  }
}

try {
  buildPackages(undefined, { pack: true });
} catch (error) {
  console.error(`build failed: ${(error as Error).message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync(join(ROOT, 'tmp'), { recursive: true });

/**
 * Two lanes side by side, as two jest processes: the e2e suite (workspaces made by Nx, installs)
 * with the two longest real-engine suites of the plugin, and every other suite. They share no
 * names (each suite makes its own workspace, networks and compose projects, and no check diffs
 * the whole engine), so the wall time is the longer lane's rather than the sum (measured on 2
 * cores: 945 s and 1954 s before the move, about 1400 s each after). With arguments
 * (`npm test -- <jest args>`), or DEVSEC_TEST_LANES=1, one jest runs everything as told.
 */
const SECOND_LANE_SUITES = ['executors/audit/live\\.docker\\.spec\\.ts$', 'executors/engines\\.docker\\.spec\\.ts$'];
const LANES: Lane[] = [
  { name: 'e2e', args: ['--selectProjects', 'devsec-e2e', 'devsec', '--testPathPatterns', 'e2e/devsec-e2e/', ...SECOND_LANE_SUITES] },
  { name: 'packages', args: ['--selectProjects', 'devsec', 'socket-proxy', '--testPathIgnorePatterns', ...SECOND_LANE_SUITES] },
];
interface Lane {
  name: string;
  args: string[];
}
const lanes: Lane[] = extra.length > 0 || process.env.DEVSEC_TEST_LANES === '1' ? [{ name: '', args: [] }] : LANES;

interface JestSummary {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numRuntimeErrorTestSuites: number;
}

function runLane(lane: Lane): Promise<{ status: number | null; summary: JestSummary }> {
  const report = join(ROOT, `tmp/jest-report${lane.name ? `-${lane.name}` : ''}.json`);
  rmSync(report, { force: true });
  const child = spawn(process.execPath, [require.resolve('jest/bin/jest'), '--json', `--outputFile=${report}`, ...lane.args, ...extra], {
    cwd: ROOT,
    stdio: lane.name ? ['ignore', 'pipe', 'pipe'] : 'inherit',
  });
  // A lane's lines carry its name, so two lanes' output stays readable in one log.
  if (lane.name) {
    for (const [stream, out] of [
      [child.stdout, process.stdout],
      [child.stderr, process.stderr],
    ] as const) {
      createInterface({ input: stream! }).on('line', (line) => out.write(`[${lane.name}] ${line}\n`));
    }
  }
  return new Promise((resolve) =>
    child.on('close', (status) => {
      let summary: JestSummary = { numPassedTests: 0, numFailedTests: 1, numPendingTests: 0, numRuntimeErrorTestSuites: 0 };
      try {
        summary = JSON.parse(readFileSync(report, 'utf-8'));
      } catch {
        console.error(`lane ${lane.name || 'jest'} wrote no report: counted as a failure.`);
      }
      resolve({ status, summary });
    }),
  );
}

void Promise.all(lanes.map(runLane)).then((results) => {
  const sum = (key: keyof JestSummary) => results.reduce((total, { summary }) => total + summary[key], 0);
  // A suite that failed to load counts as a failure, so a broken file is never silent.
  const failed = sum('numFailedTests') + sum('numRuntimeErrorTestSuites') + checksFailed;
  const passed = sum('numPassedTests') + checks.length - checksFailed;
  const pending = sum('numPendingTests');
  console.log(`${passed} passed, ${failed} failed${pending ? `, ${pending} skipped` : ''}`);
  const ok = results.every(({ status, summary }) => status === 0 && summary.numPassedTests > 0);
  process.exit(ok && failed === 0 ? 0 : 1);
});
