/**
 * What the sections of the journey share: one workspace made once (create-nx-workspace takes
 * ~25 s and the sandbox's first start more), the stack it runs, and how to act as the agent.
 */
import { join } from 'node:path';
import { docker } from '../../../../tools/testing/docker';
import { sharedProjectName } from '../../../../packages/devsec/src/host/stack/shared-project';
import type { TestWorkspace } from '../workspace';

export interface Journey {
  ws: TestWorkspace;
  /** The compose project of the main worktree's sandbox, once it is up. */
  project: string;
  /** Its dev container. */
  app: string;
  /** The host user's state directory of this run (shared services' passwords live there). */
  stateHome: string;
}

export const journey = {} as Journey;

/** The shared services' compose project: the shared file's name (ws-source-shared) and a hash of the repository's git dir. */
export const sharedProject = () => sharedProjectName('ws-source-shared', join(journey.ws.dir, '.git'));

/** As the agent: a shell in the dev container, as its own user. */
export const inside = (script: string, container = journey.app) => docker(['exec', '-u', 'node', container, 'bash', '-lc', script]);

/** As the user on the host: nx in the workspace (or in another worktree). */
export const nx = (args: string[], options: { cwd?: string; allowFailure?: boolean } = {}) => journey.ws.run('npx', ['nx', ...args], options);
