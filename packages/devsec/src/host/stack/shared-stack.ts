/** The shared services' compose project: one per repository, whichever worktree starts it. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { ComposeModel } from '../../sandbox/compose-model';
import { SandboxError } from '../../sandbox/errors';
import { SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { ComposeProject } from '../engine/compose-project';
import { ensureSharedSecrets } from './secrets';
import { sharedNetworkName } from '../engine/shared-network';
import { worktreeIdentity } from '../git/worktree';
import { composeEnvironment } from './workspace-env';
import { redisAdministratorSecrets } from './tenants';

export interface SharedStack {
  compose: ComposeProject;
  network: string | undefined;
  /** The file as parsed. */
  model?: ComposeModel;
  /** The administrators' passwords (the state directory's, never the workspace's). */
  secrets?: Record<string, string>;
}

export function sharedStack(cwd: string, composeFileFromRoot = SHARED_COMPOSE_FILE, say: (line: string) => void = console.log): SharedStack {
  const identity = worktreeIdentity(cwd, '');
  const composeFile = join(identity.workspaceRoot, composeFileFromRoot);
  if (!existsSync(composeFile)) {
    throw new SandboxError(`${composeFileFromRoot} does not exist. Add a service first: nx g @org/devsec:shared-service postgres`);
  }
  const text = readFileSync(composeFile, 'utf-8');
  const model = parse(text) as ComposeModel;
  if (!model.name)
    throw new SandboxError(`${composeFileFromRoot} has no top-level name: add one (e.g. name: myrepo-shared) so every worktree shares one stack.`);
  const secrets = ensureSharedSecrets(model.name, text, identity.gitCommonDir, say, process.env, redisAdministratorSecrets(model));
  // The generated passwords reach compose through its environment, never through a file in the workspace.
  return {
    compose: { name: model.name, files: [composeFile], env: { ...composeEnvironment(), ...secrets }, prefix: '[shared] ' },
    network: sharedNetworkName(model),
    model,
    secrets,
  };
}
