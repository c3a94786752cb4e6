#!/usr/bin/env node
// The test command: builds and packs the packages (the e2e suite installs the tarballs),
// then runs every jest project once and prints one closing line `N passed, N failed`.
'use strict';
const { spawnSync } = require('node:child_process');
const { readFileSync, rmSync, mkdirSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const extra = process.argv.slice(2);

const build = spawnSync(process.execPath, [join(root, 'scripts/build-packages.js'), '--pack'], { stdio: 'inherit', cwd: root });
if (build.status !== 0) {
  console.log('0 passed, 1 failed');
  process.exit(1);
}

mkdirSync(join(root, 'tmp'), { recursive: true });
const report = join(root, 'tmp/jest-report.json');
rmSync(report, { force: true });
const jest = spawnSync(process.execPath, [require.resolve('jest/bin/jest'), '--json', `--outputFile=${report}`, ...extra], {
  stdio: 'inherit',
  cwd: root,
});
let summary = { numPassedTests: 0, numFailedTests: 0, numPendingTests: 0, numRuntimeErrorTestSuites: 0 };
try {
  summary = JSON.parse(readFileSync(report, 'utf-8'));
} catch {
  summary.numFailedTests = 1;
}
// A suite that failed to load counts as a failure, so a broken file is never silent.
const failed = summary.numFailedTests + summary.numRuntimeErrorTestSuites;
console.log(`${summary.numPassedTests} passed, ${failed} failed${summary.numPendingTests ? `, ${summary.numPendingTests} skipped` : ''}`);
process.exit(jest.status === 0 && failed === 0 && summary.numPassedTests > 0 ? 0 : 1);
