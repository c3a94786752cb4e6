#!/usr/bin/env node
/**
 * `devsec`: the host entry that loads nothing from the workspace — no Nx, no plugin, no `.env`,
 * no project configuration — and runs from the root node_modules, which no sandbox can write.
 *
 *   devsec prepare <project root>   what devcontainer.json's initializeCommand runs before VS Code
 *                                   or the devcontainer CLI starts the stack: writes this worktree's
 *                                   .env and override file, and refuses a stack the gate refuses.
 *
 * Exit codes: 0 done; 1 refused or failed (the message says why); 2 usage error.
 */
import { join } from 'node:path';
import { gateNestedGit, ruleList } from '../host/lifecycle';
import { policyGate } from '../host/gate';
import { prepareWorktree } from '../host/sandbox-stack';
import { DevsecError } from '../sandbox/errors';
import { COMPOSE_FILE, DEVCONTAINER_DIR } from '../sandbox/vocabulary';

const USAGE = `Usage: devsec prepare <project root>   (e.g. devsec prepare apps/app)

Writes the worktree's .devcontainer/.env and docker-compose.worktree.yml for the project's sandbox
and checks it with the policy gate, as up-worktree does; devcontainer.json's initializeCommand
runs it. Run from the workspace root.
`;

const say = {
  info: (line: string) => process.stdout.write(`@org/devsec: ${line}\n`),
  warn: (line: string) => process.stderr.write(`@org/devsec: ${line}\n`),
  error: (line: string) => process.stderr.write(`@org/devsec: ${line}\n`),
};

export function main(argv: string[], cwd = process.cwd()): number {
  const [command, projectRoot, ...rest] = argv;
  if (command === '--help' || command === '-h' || command === undefined) {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command !== 'prepare' || !projectRoot || rest.length > 0 || /(^|\/)\.\.(\/|$)|^\//.test(projectRoot)) {
    process.stderr.write(
      `devsec: ${command === 'prepare' ? 'prepare takes one project root, relative to the workspace root' : `unknown command "${command}"`}.\n\n${USAGE}`,
    );
    return 2;
  }
  try {
    const stack = prepareWorktree(cwd, join(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE), undefined, say.info);
    gateNestedGit(stack, ruleList(undefined), say);
    policyGate(stack, []);
    say.info(`${stack.identity.composeProjectName} prepared for ${stack.identity.workspaceRoot}`);
    return 0;
  } catch (error) {
    if (!(error instanceof DevsecError)) throw error;
    say.error(error.message);
    return 1;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
