/**
 * A sandbox generated after the shared services exist is wired to them like the others: its
 * project is added to each service's `x-devsec.projects` in docker-compose.shared.yml (read as
 * data with the yaml library, written back through the document, so comments and the user's
 * keys stay), and the service's client package is returned for the sandbox's apt packages.
 * Only a file whose stamp is intact is changed (up-shared runs it with the host's engine: an
 * edited one is the user's to review), and only services on the sandbox's own shared network,
 * never one whose `x-devsec.unwired` names the project (an explicit shared-service --projects
 * left it out). secure-devcontainer runs it for a new sandbox, nx sync for every sandbox.
 */
import { Tree } from '@nx/devkit';
import { isMap, isSeq, parseDocument } from 'yaml';
import { managedState, stampManaged } from '../../sandbox/managed-file';
import { SHARED_MARKER_NOTE } from '../../sandbox/shared-trust';
import { SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { PRESETS, PresetName } from '../shared-service/presets';

const IMAGES: Array<[RegExp, PresetName]> = [
  [/(^|\/)postgres([:@]|$)/, 'postgres'],
  [/(^|\/)redis([:@]|$)/, 'redis'],
  [/(^|\/)mysql([:@]|$)/, 'mysql'],
  [/(^|\/)mongo([:@]|$)/, 'mongodb'],
];

export interface SharedWiring {
  /** The services the project was added to. */
  services: string[];
  /** Their clients' apt packages. */
  clients: string[];
  /** Why the file was left alone, when it was. */
  skipped?: string;
}

export function wireSharedServices(tree: Tree, project: string, network: string): SharedWiring {
  const text = tree.read(SHARED_COMPOSE_FILE, 'utf-8');
  if (text === null) return { services: [], clients: [] };
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return { services: [], clients: [], skipped: `${SHARED_COMPOSE_FILE} is not valid YAML` };
  const model = doc.toJSON() as {
    networks?: { shared?: { name?: unknown } };
    services?: Record<string, { image?: unknown; 'x-devsec'?: { connection?: Record<string, unknown>; projects?: unknown; unwired?: unknown } } | null>;
  } | null;
  if (model?.networks?.shared?.name !== network) return { services: [], clients: [] };
  const missing = Object.entries(model?.services ?? {}).filter(([, service]) => {
    const wiring = service?.['x-devsec'];
    const leftOut = Array.isArray(wiring?.unwired) && wiring.unwired.includes(project);
    return wiring && !leftOut && Object.keys(wiring.connection ?? {}).length > 0 && Array.isArray(wiring.projects) && !wiring.projects.includes(project);
  });
  if (missing.length === 0) return { services: [], clients: [] };
  if (managedState(SHARED_COMPOSE_FILE, text) !== 'pristine') {
    return {
      services: [],
      clients: [],
      skipped: `${SHARED_COMPOSE_FILE} was edited by hand (or has no @org/devsec marker): ${project} is not wired to ${missing.map(([name]) => name).join(', ')}. Review it, then run nx g @org/devsec:shared-service <preset> --projects=… for each`,
    };
  }
  const clients: string[] = [];
  for (const [name, service] of missing) {
    const projects = doc.getIn(['services', name, 'x-devsec', 'projects']);
    if (!isSeq(projects)) continue;
    const values = [...(projects.toJSON() as string[]), project].sort();
    doc.setIn(['services', name, 'x-devsec', 'projects'], doc.createNode(values));
    const image = typeof service?.image === 'string' ? service.image : '';
    const preset = IMAGES.find(([pattern]) => pattern.test(image))?.[1];
    const client = preset ? PRESETS[preset].client : undefined;
    if (client && !clients.includes(client)) clients.push(client);
  }
  if (!isMap(doc.contents)) return { services: [], clients: [] };
  tree.write(SHARED_COMPOSE_FILE, stampManaged(SHARED_COMPOSE_FILE, doc.toString(), SHARED_MARKER_NOTE));
  return { services: missing.map(([name]) => name), clients };
}
