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
import { adoptOlderSecrets, adoptOlderSharedProject, sharedProjectName } from './shared-project';

export interface SharedStack {
  compose: ComposeProject;
  network: string | undefined;
  /** The file as parsed. */
  model?: ComposeModel;
  /** The administrators' passwords (the state directory's, never the workspace's). */
  secrets?: Record<string, string>;
}

/**
 * The shared stack of the repository at `cwd`. `adopt` (up-shared): the project of an older
 * version, named by the file alone, is moved into this one first, once (shared-project.ts).
 */
export function sharedStack(
  cwd: string,
  composeFileFromRoot = SHARED_COMPOSE_FILE,
  say: (line: string) => void = console.log,
  options: { adopt?: boolean } = {},
): SharedStack {
  const identity = worktreeIdentity(cwd, '');
  const composeFile = join(identity.workspaceRoot, composeFileFromRoot);
  if (!existsSync(composeFile)) {
    throw new SandboxError(`${composeFileFromRoot} does not exist. Add a service first: nx g @org/devsec:shared-service postgres`);
  }
  const text = readFileSync(composeFile, 'utf-8');
  const model = parse(text) as ComposeModel;
  if (!model.name)
    throw new SandboxError(`${composeFileFromRoot} has no top-level name: add one (e.g. name: myrepo-shared) so every worktree shares one stack.`);
  // One project per repository: two workspaces whose root package has the same name get two (F7).
  const project = sharedProjectName(model.name, identity.gitCommonDir);
  if (!(options.adopt && adoptOlderSharedProject(model, model.name, project, say))) adoptOlderSecrets(model.name, project, false);
  const secrets = ensureSharedSecrets(project, text, identity.gitCommonDir, say, process.env, redisAdministratorSecrets(model));
  // The generated passwords reach compose through its environment, never through a file in the workspace.
  return {
    compose: { name: project, files: [composeFile], env: { ...composeEnvironment(), ...secrets }, prefix: '[shared] ' },
    network: sharedNetworkName(model),
    model,
    secrets,
  };
}
