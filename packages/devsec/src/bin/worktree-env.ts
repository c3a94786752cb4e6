#!/usr/bin/env node
/**
 * The initializeCommand of devcontainer.json files written before 0.2: `worktree-env <compose
 * file>`. It now does what `devsec prepare` does; re-run the secure-devcontainer generator (or
 * `nx sync`) to get the new initializeCommand, which finds the workspace root without git.
 */
import { dirname } from 'node:path';
import { main } from '../cli/main';

const [composeFile] = process.argv.slice(2);
if (!composeFile) {
  process.stderr.write('usage: worktree-env <project-root>/.devcontainer/docker-compose.yml\n');
  process.exit(2);
}
process.stderr.write('@org/devsec: this devcontainer.json predates `devsec prepare`; run nx g @org/devsec:secure-devcontainer again to update it.\n');
void main(['prepare', dirname(dirname(composeFile))], {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  isTTY: false,
  env: process.env,
  cwd: process.cwd(),
}).then((code) => (process.exitCode = code));
