/**
 * A project's sandbox stack in this worktree: which compose project it is, the per-machine
 * files it needs (`.env` and the override file), what the last start remembered, and the
 * summary printed when it is up.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parse } from 'yaml';
import {
  APP_SERVICE,
  COMPOSE_FILE,
  DEVCONTAINER_JSON,
  ENV_FILE,
  PROJECT_LABEL,
  SERVICES_COMPOSE_FILE,
  SHARED_COMPOSE_FILE,
  WORKTREE_COMPOSE_FILE,
} from '../sandbox/vocabulary';
import { ComposeProject, PsEntry } from './compose-project';
import { runCommand, Runner } from './run';
import { ensureSharedSecrets } from './secrets';
import {
  composeProjectName,
  dockerSocketGid,
  findOurDevcontainers,
  sandboxEnvFile,
  worktreeIdentity,
  WorktreeIdentity,
  worktreeOverrideFile,
} from './worktree';
import { readState, withState, WorktreeState } from './worktree-state';

export interface SandboxStack {
  identity: WorktreeIdentity;
  devcontainerDir: string;
  /** The Nx project the sandbox belongs to. */
  project: string;
  compose: ComposeProject;
  /** What the last start in this worktree remembered (worktree-state.ts); empty before the first. */
  state?: WorktreeState;
}

/**
 * Which stack a compose file is in this worktree: the identity and the compose project name,
 * without writing anything (the live audit only looks).
 */
export function locateStack(cwd: string, composeFileFromRoot: string, run: Runner = runCommand): SandboxStack {
  const found = worktreeIdentity(cwd, '', run);
  const composeFile = join(found.workspaceRoot, composeFileFromRoot);
  const model = parse(readFileSync(composeFile, 'utf-8')) as { services?: Record<string, { labels?: Record<string, string> }> };
  // The project name comes from the file itself, so VS Code and the executor agree on it.
  const project = model.services?.[APP_SERVICE]?.labels?.[PROJECT_LABEL] ?? basename(dirname(dirname(composeFile)));
  const identity = { ...found, composeProjectName: composeProjectName(project, found.workspaceRoot) };
  const devcontainerDir = dirname(composeFile);
  const files = [COMPOSE_FILE, SERVICES_COMPOSE_FILE, WORKTREE_COMPOSE_FILE]
    .map((file) => join(devcontainerDir, file))
    // The override file is written by prepareWorktree, before any compose command.
    .filter((file) => existsSync(file) || file.endsWith(WORKTREE_COMPOSE_FILE));
  return { identity, devcontainerDir, project, compose: { name: identity.composeProjectName, files, cwd: devcontainerDir, prefix: `[${project}] ` } };
}

/**
 * Writes this worktree's `.env` and override file next to the compose file, and returns what
 * `docker compose` needs. Shared by the executors and the initializeCommand of devcontainer.json.
 */
export function prepareWorktree(cwd: string, composeFileFromRoot: string, run: Runner = runCommand): SandboxStack {
  const stack = locateStack(cwd, composeFileFromRoot, run);
  const { identity, devcontainerDir } = stack;
  mkdirSync(devcontainerDir, { recursive: true });
  const sharedCompose = join(identity.workspaceRoot, SHARED_COMPOSE_FILE);
  const secrets = existsSync(sharedCompose) ? ensureSharedSecrets(identity.gitCommonDir, readFileSync(sharedCompose, 'utf-8')) : {};
  writeFileSync(join(devcontainerDir, ENV_FILE), sandboxEnvFile(identity, dockerSocketGid(), secrets), { mode: 0o600 });
  const overridePath = join(devcontainerDir, WORKTREE_COMPOSE_FILE);
  const state = readState(existsSync(overridePath) ? readFileSync(overridePath, 'utf-8') : undefined);
  writeFileSync(overridePath, withState(worktreeOverrideFile(identity, findOurDevcontainers(identity.workspaceRoot)), state));
  return { ...stack, state };
}

/** Records what this start should remember, on the state line of the override file prepareWorktree wrote. */
export function rememberState(stack: SandboxStack, state: WorktreeState): void {
  const overridePath = join(stack.devcontainerDir, WORKTREE_COMPOSE_FILE);
  writeFileSync(overridePath, withState(readFileSync(overridePath, 'utf-8'), state));
}

export function summary(stack: SandboxStack, entries: PsEntry[]): string {
  const rows = entries.map((e) => `  ${e.Service.padEnd(16)} ${e.State.padEnd(10)} ${e.Health || '-'}`);
  const app = entries.find((e) => e.Service === APP_SERVICE);
  return [
    `Sandbox ${stack.identity.composeProjectName} (${stack.identity.workspaceRoot}${stack.identity.branch ? `, branch ${stack.identity.branch}` : ''})`,
    `  ${'SERVICE'.padEnd(16)} ${'STATE'.padEnd(10)} HEALTH`,
    ...rows,
    'Get in:',
    `  docker exec -it ${app?.Name ?? `${stack.identity.composeProjectName}-${APP_SERVICE}-1`} bash`,
    `  or open ${stack.devcontainerDir.replace(stack.identity.workspaceRoot + '/', '')}/${DEVCONTAINER_JSON} with "Reopen in Container".`,
  ].join('\n');
}
