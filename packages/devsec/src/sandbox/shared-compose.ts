import { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { SHARED_COMPOSE_FILE } from './vocabulary';

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
