#!/usr/bin/env node
/**
 * devcontainer.json's initializeCommand: writes this worktree's .env and override file on the
 * host before `docker compose` runs, so VS Code and `devcontainer up` start the same stack as
 * `nx run <project>:up-worktree`. Usage: worktree-env <path of the compose file from the root>
 */
import { prepareWorktree } from '../host/sandbox-stack';

const [composeFile] = process.argv.slice(2);
if (!composeFile) {
  process.stderr.write('usage: worktree-env <project-root>/.devcontainer/docker-compose.yml\n');
  process.exit(2);
}
try {
  const stack = prepareWorktree(process.cwd(), composeFile);
  process.stdout.write(`@org/devsec: ${stack.identity.composeProjectName} prepared for ${stack.identity.workspaceRoot}\n`);
} catch (error) {
  process.stderr.write(`@org/devsec: ${(error as Error).message}\n`);
  process.exit(1);
}
