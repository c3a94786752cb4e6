import { Tree } from '@nx/devkit';
import { parse, stringify } from 'yaml';
import { stampManaged } from './managed-file';
import { composeSafeName } from './names';
import { DEFAULT_INFRA_PROJECT, SHARED_COMPOSE_FILE, SHARED_NETWORK, TARGETS } from './vocabulary';

/** What shared-service records on each service of docker-compose.shared.yml. */
export interface SharedServiceWiring {
  /** Connection variables for the dev containers, by service hostname. */
  connection: Record<string, string>;
  /** The Nx projects whose dev containers get them. */
  projects: string[];
}

interface SharedComposeFile {
  name?: string;
  'x-devsec'?: { project?: string };
  services?: Record<string, { 'x-devsec'?: SharedServiceWiring } | null>;
  networks?: { shared?: { name?: string } };
}

export function readSharedCompose(tree: Tree): SharedComposeFile | undefined {
  const text = tree.read(SHARED_COMPOSE_FILE, 'utf-8');
  if (text === null) return undefined;
  return (parse(text) as SharedComposeFile) ?? {};
}

/** The connection variables every shared service wired to `project` gives its dev container. */
export function connectionEnvFor(tree: Tree, project: string): Record<string, string> {
  const shared = readSharedCompose(tree);
  const env: Record<string, string> = {};
  for (const service of Object.values(shared?.services ?? {})) {
    const wiring = service?.['x-devsec'];
    if (wiring?.projects?.includes(project)) Object.assign(env, wiring.connection);
  }
  return Object.fromEntries(Object.entries(env).sort(([a], [b]) => a.localeCompare(b)));
}

/** The hostnames of the shared services (their service names in docker-compose.shared.yml). */
export function sharedServiceNames(tree: Tree): string[] {
  return Object.keys(readSharedCompose(tree)?.services ?? {}).sort();
}

/**
 * The shared services file with no service yet: the start writes it when it is missing, so that
 * it exists — and is mounted read-only — from the first start on; an agent cannot then be the
 * one to create it. shared-service adds services to it.
 */
export function sharedComposeSkeleton(workspaceName: string, network: string, infraProject = DEFAULT_INFRA_PROJECT): string {
  const text = [
    `# Shared services for every worktree's sandbox, started once: nx run ${infraProject}:${TARGETS.upShared}`,
    '# Managed with nx g @org/devsec:shared-service; your own services and comments are kept.',
    stringify({
      name: `${composeSafeName(workspaceName)}-shared`,
      'x-devsec': { project: infraProject },
      services: {},
      networks: { [SHARED_NETWORK]: { name: network, external: true } },
      volumes: {},
    }),
  ].join('\n');
  return stampManaged(SHARED_COMPOSE_FILE, text);
}
