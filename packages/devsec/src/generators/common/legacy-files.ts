/**
 * Sandboxes generated before 0.2.0 named the dev container's image `Dockerfile`, which
 * @nx/docker infers a project from (one in `.devcontainer` has no name, and every nx command
 * fails). This moves it to DOCKERFILE and points the compose file at it, for our files only:
 * a file without our marker is the user's, and we only say what to do.
 */
import { joinPathFragments, Tree } from '@nx/devkit';
import { managedState, stampManaged } from '../../sandbox/managed-file';
import { COMPOSE_FILE, DEVCONTAINER_DIR, DOCKERFILE, LEGACY_DOCKERFILE } from '../../sandbox/vocabulary';

/** `dockerfile: Dockerfile` (quoted or not) under a service's build, as our template wrote it. */
const LEGACY_REFERENCE = new RegExp(`^(\\s+dockerfile:\\s*)(["']?)${LEGACY_DOCKERFILE}\\2(\\s*(?:#.*)?)$`, 'gm');

export type LegacyDockerfilePlan =
  | { action: 'none' }
  | { action: 'rename'; from: string; to: string; compose: string }
  /** Left alone: `note` says why, and what the user can do. */
  | { action: 'keep'; note: string };

export function planLegacyDockerfile(tree: Tree, projectRoot: string): LegacyDockerfilePlan {
  const dir = joinPathFragments(projectRoot, DEVCONTAINER_DIR);
  const from = joinPathFragments(dir, LEGACY_DOCKERFILE);
  const to = joinPathFragments(dir, DOCKERFILE);
  const compose = joinPathFragments(dir, COMPOSE_FILE);
  const content = tree.read(from, 'utf-8');
  if (content === null) return { action: 'none' };
  const howTo =
    `@nx/docker infers a project from every file named ${LEGACY_DOCKERFILE}, and one in ${DEVCONTAINER_DIR} has no name. ` +
    `To rename it yourself: git mv ${from} ${to}, and set services.app.build.dockerfile to ${DOCKERFILE} in ${compose}.`;
  if (managedState(from, content) === 'user-owned') {
    return { action: 'keep', note: `${from} has no @org/devsec marker: it is yours, left as is. ${howTo}` };
  }
  if (tree.exists(to)) {
    return { action: 'keep', note: `${from} and ${to} both exist: left as they are. Delete the one the stack does not build from (${compose} names it).` };
  }
  const composeText = tree.read(compose, 'utf-8');
  if (composeText !== null && managedState(compose, composeText) === 'user-owned') {
    return { action: 'keep', note: `${compose} has no @org/devsec marker and builds from ${from}: both left as they are. ${howTo}` };
  }
  if (composeText !== null && !new RegExp(LEGACY_REFERENCE.source, 'm').test(composeText)) {
    return { action: 'keep', note: `${compose} does not name ${LEGACY_DOCKERFILE} as a build's dockerfile (edited by hand?): ${from} left as is. ${howTo}` };
  }
  return { action: 'rename', from, to, compose };
}

/**
 * Carries out a 'rename' plan: the Dockerfile keeps its bytes (and so its marker's state), the
 * compose file's `dockerfile:` is rewritten; an untouched compose file is stamped again so it
 * stays untouched, an edited one keeps its old fingerprint and so stays edited.
 */
export function renameLegacyDockerfile(tree: Tree, plan: Extract<LegacyDockerfilePlan, { action: 'rename' }>): void {
  tree.rename(plan.from, plan.to);
  const text = tree.read(plan.compose, 'utf-8');
  if (text === null) return;
  const rewritten = text.replace(LEGACY_REFERENCE, `$1$2${DOCKERFILE}$2$3`);
  tree.write(plan.compose, managedState(plan.compose, text) === 'pristine' ? stampManaged(plan.compose, rewritten) : rewritten);
}
