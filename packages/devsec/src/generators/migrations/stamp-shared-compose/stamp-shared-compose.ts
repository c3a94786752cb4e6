/**
 * 0.2.0: up-shared/down-shared are inferred only from a stamped docker-compose.shared.yml.
 * Files that shared-service wrote before (they name their project under `x-devsec.project`,
 * and carry no marker) are stamped, with a note to review them: from now on an edit shows.
 */
import { logger, Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { hasMarker, stampManaged } from '../../../sandbox/managed-file';
import { SHARED_MARKER_NOTE } from '../../../sandbox/shared-trust';
import { SHARED_COMPOSE_FILE } from '../../../sandbox/vocabulary';

export default function stampSharedCompose(tree: Tree): { nextSteps: string[] } {
  const text = tree.read(SHARED_COMPOSE_FILE, 'utf-8');
  if (text === null || hasMarker(text)) return { nextSteps: [] };
  let project: unknown;
  try {
    project = (parse(text) as { 'x-devsec'?: { project?: unknown } } | null)?.['x-devsec']?.project;
  } catch {
    const note = `${SHARED_COMPOSE_FILE} is not valid YAML: left as is, and no up-shared/down-shared targets are inferred from it. Fix it, then run nx g @org/devsec:shared-service for one of its services to stamp it.`;
    logger.warn(`@org/devsec: ${note}`);
    return { nextSteps: [note] };
  }
  // Not written by shared-service: the user's own file, none of ours to stamp.
  if (typeof project !== 'string') return { nextSteps: [] };
  tree.write(SHARED_COMPOSE_FILE, stampManaged(SHARED_COMPOSE_FILE, text, SHARED_MARKER_NOTE));
  const note =
    `${SHARED_COMPOSE_FILE} is stamped as @org/devsec's, so ${project}:up-shared and down-shared are inferred from it, and up-shared starts it with your Docker engine. ` +
    `Review it now (git diff ${SHARED_COMPOSE_FILE}; any service you do not recognise, any mount of a host path, privileged or a published port on 0.0.0.0), since a later edit takes these targets away until it is stamped again.`;
  logger.warn(`@org/devsec: ${note}`);
  return { nextSteps: [note] };
}
