/**
 * Whether docker-compose.shared.yml may be run on the host's engine without a second look:
 * only a file that shared-service wrote, marker and fingerprint intact. `up-shared` starts it
 * with the engine itself (not through the proxy), so the plugin infers the shared project and
 * its targets from a trusted file only, and an executor can print why a file is not.
 */
import { parse } from 'yaml';
import { managedState } from './managed-file';
import { SHARED_COMPOSE_FILE } from './vocabulary';

export type SharedFileDistrust = 'absent' | 'unmarked' | 'edited' | 'unowned';

export type SharedFileTrust = { trusted: true; infraProject: string } | { trusted: false; reason: SharedFileDistrust; message: string };

/** The marker line of docker-compose.shared.yml says what an edit costs. */
export const SHARED_MARKER_NOTE = 'Edits are kept, but up-shared/down-shared are inferred only while this fingerprint matches (see the README).';

const RESTAMP = `After reviewing it (git diff ${SHARED_COMPOSE_FILE}), run nx g @org/devsec:shared-service <preset> for one of its services (e.g. postgres): it keeps your changes and stamps the file again.`;

/** Why the shared file's up-shared/down-shared targets are not inferred, or the project that owns them. */
export function sharedFileTrust(content: string | null): SharedFileTrust {
  const distrust = (reason: SharedFileDistrust, message: string): SharedFileTrust => ({ trusted: false, reason, message });
  const state = managedState(SHARED_COMPOSE_FILE, content);
  if (state === 'absent') {
    return distrust('absent', `${SHARED_COMPOSE_FILE} does not exist: there are no shared services (add one: nx g @org/devsec:shared-service postgres).`);
  }
  if (state === 'user-owned') {
    return distrust(
      'unmarked',
      `${SHARED_COMPOSE_FILE} has no "@org/devsec managed file" line, so no up-shared/down-shared targets are inferred from it: ` +
        'up-shared starts it with your Docker engine, and only a file @org/devsec wrote is started without your review. ' +
        `If an older @org/devsec wrote it, its migration stamps it (nx migrate @org/devsec@latest, then nx migrate --run-migrations); otherwise ${RESTAMP}`,
    );
  }
  if (state === 'edited') {
    return distrust(
      'edited',
      `${SHARED_COMPOSE_FILE} was edited after @org/devsec wrote it (its fingerprint no longer matches), so no up-shared/down-shared targets are inferred from it. ${RESTAMP}`,
    );
  }
  let project: unknown;
  try {
    project = (parse(content as string) as { 'x-devsec'?: { project?: unknown } } | null)?.['x-devsec']?.project;
  } catch {
    project = undefined;
  }
  if (typeof project !== 'string' || project === '') {
    return distrust('unowned', `${SHARED_COMPOSE_FILE} names no Nx project under x-devsec.project: run nx g @org/devsec:shared-service <preset> to set it.`);
  }
  return { trusted: true, infraProject: project };
}
