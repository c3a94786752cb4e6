/**
 * The test command: lints and checks the formatting (two checks), builds and packs the packages
 * (the e2e suite installs the tarballs, the proxy's process-level tests run its compiled bin),
 * then runs every jest project once and prints one closing line `N passed, N failed`, the two
 * checks counted among them.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
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
const report = join(ROOT, 'tmp/jest-report.json');
rmSync(report, { force: true });
const jest = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--json', `--outputFile=${report}`, ...extra], {
  stdio: 'inherit',
  cwd: ROOT,
});
let summary = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numRuntimeErrorTestSuites: 0 };
try {
  summary = JSON.parse(readFileSync(report, 'utf-8'));
} catch {
  summary.numFailedTests = 1;
}
// A suite that failed to load counts as a failure, so a broken file is never silent.
const failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites + checksFailed;
const passed = summary.numPassedTests + checks.length - checksFailed;
console.log(`${passed} passed, ${failed} failed${summary.numPendingTests ? `, ${summary.numPendingTests} skipped` : ''}`);
process.exit(jest.status === 0 && failed === 0 && summary.numPassedTests > 0 ? 0 : 1);
