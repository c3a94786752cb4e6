import { formatFiles, getProjects, logger, readJson, Tree } from '@nx/devkit';
import { isDeepStrictEqual } from 'node:util';
import { Document, isMap, parseDocument } from 'yaml';
import {
  DEFAULT_INFRA_PROJECT,
  DEFAULT_NETWORK,
  MANAGED_LABEL,
  PUBLISHED_NETWORK,
  RESERVED_NAMES,
  SCOPE_LABEL,
  SHARED_COMPOSE_FILE,
  SHARED_NETWORK,
} from '../../sandbox/vocabulary';
import { GeneratorError } from '../../sandbox/errors';
import { IMAGE_REFERENCE, NETWORK_NAME, composeSafeName } from '../../sandbox/names';
import { managedState, stampManaged } from '../../sandbox/managed-file';
import { readSharedCompose } from '../../sandbox/shared-compose';
import { SHARED_MARKER_NOTE } from '../../sandbox/shared-trust';
import { readSpec } from '../../sandbox/spec';
import { checkSandboxFiles, renderSandbox } from '../common/render';
import { needsPassword, PRESETS, PresetName, presetHardening } from './presets';
import type { SharedServiceGeneratorSchema } from './schema';
import { listOption } from '../../sandbox/list';

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `DEVSEC_<NAME>_PASSWORD`: up-shared generates it once per repository, outside git. */
export const passwordVariable = (service: string) => `DEVSEC_${service.toUpperCase().replace(/-/g, '_')}_PASSWORD`;

const list = (value: string[] | string | undefined) => listOption(value);

interface Normalized {
  name: string;
  preset: PresetName;
  service: Record<string, unknown>;
  projects: string[];
  network: string;
  infraProject: string;
  overwrite: boolean;
  skipFormat: boolean;
  /** The apt package of the service's client, unless --noClient or there is none. */
  client: string | undefined;
}

function normalize(tree: Tree, options: SharedServiceGeneratorSchema): Normalized {
  const preset = options.preset;
  if (!(preset in PRESETS)) {
    throw new GeneratorError(`--preset: "${preset}" is not one of ${Object.keys(PRESETS).join(', ')}.`);
  }
  const name = options.name ?? (preset === 'custom' ? '' : preset);
  if (!SERVICE_NAME.test(name)) {
    throw new GeneratorError(
      `--name: "${name}" is not a DNS-safe service name. Use lower-case letters, digits and "-", starting with a letter (e.g. --name=${preset === 'custom' ? 'mailpit' : preset}).`,
    );
  }
  if (RESERVED_NAMES.includes(name)) {
    throw new GeneratorError(`--name: "${name}" is reserved by the dev container stacks (${RESERVED_NAMES.join(', ')}). Choose another name.`);
  }
  const definition = PRESETS[preset];
  const image = options.image ?? definition.image;
  if (preset === 'custom' && !options.image) throw new GeneratorError('--image is required with --preset=custom (e.g. --image=axllent/mailpit:v1.21).');
  if (!IMAGE_REFERENCE.test(image)) throw new GeneratorError(`--image: "${image}" is not an image reference. Use NAME[:TAG][@DIGEST] without spaces.`);
  const port = options.port ?? definition.port;
  if (options.publish && !port) throw new GeneratorError('--publish needs --port: which container port should 127.0.0.1 reach?');
  if (port !== 0 && (!Number.isInteger(port) || port < 1 || port > 65535)) {
    throw new GeneratorError(`--port: "${options.port}" is not a port. Use a whole number from 1 to 65535 (the container's port).`);
  }
  const env: Record<string, string> = {};
  for (const entry of list(options.env)) {
    const equals = entry.indexOf('=');
    const key = equals === -1 ? entry : entry.slice(0, equals);
    if (equals === -1 || !ENV_NAME.test(key)) throw new GeneratorError(`--env: "${entry}" is not KEY=VALUE (e.g. --env=TZ=UTC).`);
    env[key] = entry.slice(equals + 1).replace(/\$/g, '$$$$');
  }
  const database = options.database ?? 'app';
  if (!/^[A-Za-z0-9_-]{1,63}$/.test(database)) throw new GeneratorError(`--database: "${database}" is not a database name (letters, digits, "_", "-").`);

  const known = getProjects(tree);
  const withSandbox = projectsWithSandbox(tree);
  const projects = options.projects === undefined ? withSandbox : list(options.projects);
  for (const project of projects) {
    if (!known.has(project)) throw new GeneratorError(`--projects: no project named "${project}". nx show projects lists them.`);
    if (!withSandbox.includes(project)) {
      throw new GeneratorError(`--projects: "${project}" has no secure dev container. Run nx g @org/devsec:secure-devcontainer --project=${project} first.`);
    }
  }

  const unwired = withSandbox.filter((project) => !projects.includes(project));

  const existing = readSharedCompose(tree);
  const networks = new Set(projects.map((project) => readSpec(tree, known.get(project)!.root)!.network));
  const existingNetwork = existing?.networks?.shared?.name;
  if (existingNetwork) networks.add(existingNetwork);
  if (networks.size > 1) {
    throw new GeneratorError(
      `--projects: these dev containers use different shared networks (${[...networks].join(', ')}); a shared service lives on one. Wire them one network at a time.`,
    );
  }
  const network = [...networks][0] ?? DEFAULT_NETWORK;
  if (!NETWORK_NAME.test(network)) throw new GeneratorError(`the shared network "${network}" is not a valid Docker network name.`);

  const existingInfra = existing?.['x-devsec']?.project;
  const infraProject = options.infraProject ?? existingInfra ?? DEFAULT_INFRA_PROJECT;
  if (existingInfra && existingInfra !== infraProject) {
    throw new GeneratorError(
      `--infraProject: ${SHARED_COMPOSE_FILE} already belongs to "${existingInfra}". Leave --infraProject out, or pass --infraProject=${existingInfra}.`,
    );
  }
  if (!SERVICE_NAME.test(infraProject))
    throw new GeneratorError(`--infraProject: "${infraProject}" is not a valid project name (lower-case letters, digits, "-").`);
  if (known.has(infraProject)) throw new GeneratorError(`--infraProject: a project named "${infraProject}" already exists. Pick another name.`);

  // The secret: a literal the user chose, or a reference that up-shared fills in from outside git.
  const reference = `\${${passwordVariable(name)}:?run nx run ${infraProject}:up-shared}`;
  const literal = options.password;
  const input = {
    name,
    database,
    password: literal !== undefined ? literal.replace(/\$/g, '$$$$') : reference,
    urlPassword: literal !== undefined ? encodeURIComponent(literal) : `\${${passwordVariable(name)}:-}`,
  };
  if (!needsPassword(preset) && literal !== undefined) throw new GeneratorError(`--password: ${preset} takes no password here.`);
  const seed = options.seed;
  if (seed !== undefined && seed !== 'template' && seed !== 'empty') throw new GeneratorError(`--seed: "${seed}" is not template or empty.`);
  if (seed === 'template' && preset !== 'postgres')
    throw new GeneratorError(`--seed=template: only a Postgres database is copied for each worktree; ${preset} starts empty.`);

  const service: Record<string, unknown> = {
    image,
    restart: 'unless-stopped',
    ...(definition.environment || Object.keys(env).length ? { environment: { ...definition.environment?.(input), ...env } } : {}),
    ...(definition.dataPath ? { volumes: [`${name}-data:${definition.dataPath}`] } : {}),
    ...(options.publish ? { ports: [`127.0.0.1:${port}:${port}`] } : {}),
    ...(definition.healthcheck ? { healthcheck: { test: definition.healthcheck(input), interval: '2s', timeout: '5s', retries: 30, start_period: '5s' } } : {}),
    // The shared network is internal: Docker publishes no port from it, so a published service joins one more, of its own stack.
    networks: options.publish ? [SHARED_NETWORK, PUBLISHED_NETWORK] : [SHARED_NETWORK],
    // Where the image allows it: no privilege gained by exec, capabilities its entrypoint does not use, bounded processes and memory.
    ...(preset === 'custom' ? {} : presetHardening(definition)),
    labels: { [MANAGED_LABEL]: 'true', [SCOPE_LABEL]: network },
    'x-devsec': {
      connection: definition.connection
        ? { [name === preset ? definition.connectionVariable! : `${name.toUpperCase().replace(/-/g, '_')}_URL`]: definition.connection(input, port) }
        : {},
      projects,
      // The sandboxes an explicit --projects left out: nx sync wires a sandbox that missed the service, never one of these.
      ...(unwired.length ? { unwired } : {}),
      // Recorded only when asked: without it, a Postgres tenant starts from the template, the others empty (host/stack/tenants.ts).
      ...(seed ? { seed } : {}),
    },
  };
  const client = options.noClient ? undefined : definition.client;
  return { name, preset, service, projects, network, infraProject, overwrite: options.overwrite ?? false, skipFormat: options.skipFormat ?? false, client };
}

function newSharedDocument(tree: Tree, options: Normalized): Document {
  const workspaceName = tree.exists('package.json') ? String(readJson(tree, 'package.json').name ?? 'workspace') : 'workspace';
  const doc = new Document({
    name: `${composeSafeName(workspaceName)}-shared`,
    'x-devsec': { project: options.infraProject },
    services: {},
    networks: { shared: { name: options.network, external: true } },
    volumes: {},
  });
  doc.commentBefore =
    " Shared services for every worktree's sandbox, started once: nx run " +
    `${options.infraProject}:up-shared\n Managed with nx g @org/devsec:shared-service; your own services and comments are kept.`;
  return doc;
}

/** Projects with a dev container of ours, by name. */
function projectsWithSandbox(tree: Tree): string[] {
  return [...getProjects(tree)]
    .filter(([, config]) => readSpec(tree, config.root) !== undefined)
    .map(([name]) => name)
    .sort();
}

export async function sharedServiceGenerator(tree: Tree, schema: SharedServiceGeneratorSchema) {
  const options = normalize(tree, schema);
  const text = tree.read(SHARED_COMPOSE_FILE, 'utf-8');
  const doc = text === null ? newSharedDocument(tree, options) : parseDocument(text);
  if (doc.errors.length > 0) throw new GeneratorError(`${SHARED_COMPOSE_FILE} is not valid YAML: ${doc.errors[0].message}. Fix it, then run again.`);

  const current = doc.getIn(['services', options.name]);
  const currentJson = current && isMap(current) ? current.toJSON() : undefined;
  // A service an older version wrote, without the hardening it gets now, is the same service: it gets the hardening.
  // Which sandboxes were left out is a record, not the service's meaning: an older file has none.
  const sameService = (expected: Record<string, unknown>) => isDeepStrictEqual(withoutUnwired(currentJson), withoutUnwired(expected));
  if (currentJson && !sameService(options.service) && !sameService(withoutHardening(options)) && !options.overwrite) {
    throw new GeneratorError(
      `${SHARED_COMPOSE_FILE} already has a service "${options.name}" with other options. Pass --overwrite to replace it, or choose another --name.`,
    );
  }
  // Every dev container to re-render must be untouched, or nothing is written.
  const projects = getProjects(tree);
  const targets = [...new Set([...options.projects, ...wiredElsewhere(currentJson)])];
  for (const project of targets) checkSandboxFiles(tree, { project, projectRoot: projects.get(project)!.root });

  const restamped = writeSharedFile(tree, text, doc, options);

  // Re-render the wired dev containers with the options they were generated with, plus the service's client.
  const withClient: string[] = [];
  for (const project of targets) {
    const target = { project, projectRoot: projects.get(project)!.root };
    const spec = readSpec(tree, target.projectRoot);
    if (!spec) continue;
    const addClient = options.client !== undefined && options.projects.includes(project) && !spec.aptPackages.includes(options.client);
    if (addClient) withClient.push(project);
    renderSandbox(tree, target, addClient ? { ...spec, aptPackages: [...spec.aptPackages, options.client!] } : spec);
  }

  if (!options.skipFormat) await formatFiles(tree);
  return () => {
    const lines = [`@org/devsec: ${options.name} is in ${SHARED_COMPOSE_FILE}. Start the shared services: nx run ${options.infraProject}:up-shared`];
    if (restamped) lines.push(`  ${restamped}`);
    if (withClient.length > 0) lines.push(`  ${options.client} added to the dev container of ${withClient.join(', ')} (up-worktree rebuilds it).`);
    const missing = PRESETS[options.preset].noClient;
    if (missing && !schema.noClient) lines.push(`  ${missing}`);
    logger.info(lines.join('\n'));
  };
}

/**
 * Writes docker-compose.shared.yml when its meaning changed or its stamp is not intact, always
 * stamped: only a stamped, unedited file gets inferred up-shared/down-shared targets. Says so
 * when the stamp now covers edits made by hand.
 */
function writeSharedFile(tree: Tree, text: string | null, doc: Document, options: Normalized): string | undefined {
  const before = managedState(SHARED_COMPOSE_FILE, text);
  let meaningChanged = false;
  const current = doc.getIn(['services', options.name]);
  if (!isDeepStrictEqual(current && isMap(current) ? current.toJSON() : undefined, options.service)) {
    doc.setIn(['services', options.name], doc.createNode(options.service));
    if (options.service.volumes && !doc.hasIn(['volumes', `${options.name}-data`])) {
      if (!doc.has('volumes') || !isMap(doc.get('volumes'))) doc.set('volumes', doc.createNode({}));
      doc.setIn(['volumes', `${options.name}-data`], null);
    }
    meaningChanged = true;
  }
  const networks = options.service.networks as string[];
  if (networks.includes(PUBLISHED_NETWORK) && !doc.hasIn(['networks', PUBLISHED_NETWORK])) {
    doc.setIn(['networks', PUBLISHED_NETWORK], doc.createNode({ labels: { [MANAGED_LABEL]: 'true' } }));
    meaningChanged = true;
  }
  if (!doc.hasIn(['x-devsec', 'project'])) {
    doc.setIn(['x-devsec', 'project'], options.infraProject);
    meaningChanged = true;
  }
  // Unchanged meaning: the user's bytes stay, only the stamp is renewed.
  const stamped = stampManaged(SHARED_COMPOSE_FILE, meaningChanged || text === null ? doc.toString() : text, SHARED_MARKER_NOTE);
  if (stamped === text) return undefined;
  tree.write(SHARED_COMPOSE_FILE, stamped);
  if (before === 'edited' || before === 'user-owned') {
    return (
      `${SHARED_COMPOSE_FILE} ${before === 'edited' ? 'had been edited by hand' : 'had no @org/devsec marker'}: it is kept, and stamped now, ` +
      `so up-shared/down-shared are inferred from it. Review it if you have not: git diff ${SHARED_COMPOSE_FILE}`
    );
  }
  return undefined;
}

/** The service as versions before the presets' hardening wrote it. */
function withoutHardening(options: Normalized): Record<string, unknown> {
  if (options.preset === 'custom') return options.service;
  const service = { ...options.service };
  for (const key of Object.keys(presetHardening(PRESETS[options.preset]))) delete service[key];
  return service;
}

function withoutUnwired(service: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  const wiring = service?.['x-devsec'] as Record<string, unknown> | undefined;
  if (!wiring || !('unwired' in wiring)) return service;
  const { unwired: _unwired, ...rest } = wiring;
  return { ...service, 'x-devsec': rest };
}

/** Projects the previous definition wired: with --overwrite they must lose the old variables too. */
function wiredElsewhere(current: Record<string, unknown> | undefined): string[] {
  const wiring = current?.['x-devsec'] as { projects?: string[] } | undefined;
  return wiring?.projects ?? [];
}

export default sharedServiceGenerator;
