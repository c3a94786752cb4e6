import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ensureSharedSecrets } from './shared-secrets';
import { SandboxError } from './sandbox-stack';
import { worktreeIdentity, SHARED_COMPOSE_FILE } from './worktree';

export interface SharedStack {
  composeFile: string;
  projectName: string;
  network: string | undefined;
  /** The environment docker compose runs with: the generated passwords. */
  env: NodeJS.ProcessEnv;
}

/** The shared services' compose project: one per repository, whichever worktree starts it. */
export function sharedStack(cwd: string, composeFileFromRoot = SHARED_COMPOSE_FILE): SharedStack {
  const identity = worktreeIdentity(cwd, '');
  const composeFile = join(identity.workspaceRoot, composeFileFromRoot);
  if (!existsSync(composeFile)) {
    throw new SandboxError(`${composeFileFromRoot} does not exist. Add a service first: nx g @org/devsec:shared-service postgres`);
  }
  const text = readFileSync(composeFile, 'utf-8');
  const model = parse(text) as { name?: string; networks?: { shared?: { name?: string } } };
  if (!model.name) throw new SandboxError(`${composeFileFromRoot} has no top-level name: add one (e.g. name: myrepo-shared) so every worktree shares one stack.`);
  const secrets = ensureSharedSecrets(identity.gitCommonDir, text);
  return { composeFile, projectName: model.name, network: model.networks?.shared?.name, env: { ...process.env, ...secrets } };
}

export function sharedComposeArgs(stack: SharedStack, ...args: string[]): string[] {
  return ['compose', '-p', stack.projectName, '-f', stack.composeFile, ...args];
}
