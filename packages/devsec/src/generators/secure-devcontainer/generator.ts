import {
  formatFiles,
  generateFiles,
  getProjects,
  joinPathFragments,
  logger,
  offsetFromRoot,
  ProjectConfiguration,
  Tree,
} from '@nx/devkit';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  AGENTS,
  Agent,
  COMPOSE_FILE,
  DEFAULT_BASE_IMAGE,
  DEFAULT_NETWORK,
  DEVCONTAINER_DIR,
  DEVCONTAINER_JSON,
  DOCKERFILE,
  ENV_FILE,
  MANAGED_LABEL,
  PLUGIN_PACKAGE,
  PROJECT_LABEL,
  PROXY_PACKAGE,
  SERVICES_COMPOSE_FILE,
  READ_SWITCH_DEFAULTS,
  ReadSwitch,
  SCOPE_LABEL,
  WORKTREE_COMPOSE_FILE,
  WRITE_SWITCHES,
} from '../../sandbox/vocabulary';
import { hasMarker, managedState, markerFingerprint, stampManaged } from '../../sandbox/managed-file';
import { APT_PACKAGE, IMAGE_REFERENCE, NETWORK_NAME } from '../../sandbox/names';
import { GeneratorError } from '../../sandbox/errors';
import { ensureGitignored } from '../../sandbox/gitignore';
import { connectionEnvFor } from '../../sandbox/shared-compose';
import type { SecureDevcontainerGeneratorSchema } from './schema';

const GENERATED_FILES = [COMPOSE_FILE, DOCKERFILE, DEVCONTAINER_JSON];

/** Your own services of the stack (the app a localhost-proxy forwards to, …): written once, yours. */
const SERVICES_COMPOSE_TEMPLATE = `# Your own services of this sandbox stack: @org/devsec wrote this file once and leaves it to you.
# Put them on the stack's private network (sandbox) so that only this worktree reaches them, e.g.
#   web:
#     image: node:24-trixie-slim
#     command: ["node", "server.js"]
#     networks: [sandbox]
# The policy gate of up-worktree checks these services too.
services: {}
`;

export interface NormalizedOptions {
  project: string;
  projectRoot: string;
  devcontainerDir: string;
  network: string;
  baseImage: string;
  aptPackages: string[];
  agent: Agent;
  switches: Record<ReadSwitch, boolean>;
  /** Set by the localhost-proxy generator; kept across re-runs of this one. */
  localhostProxy: LocalhostProxyOptions | undefined;
  force: boolean;
  skipFormat: boolean;
}

/** Every check that can refuse, before the tree is touched: a refusal leaves it unchanged. */
export function normalizeOptions(tree: Tree, options: SecureDevcontainerGeneratorSchema): NormalizedOptions {
  const projects = getProjects(tree);
  const project: ProjectConfiguration | undefined = options.project ? projects.get(options.project) : undefined;
  if (!project) {
    const known = [...projects.keys()].sort();
    throw new GeneratorError(
      `--project: no project named "${options.project ?? ''}" in this workspace. ` +
        (known.length ? `Pick one of: ${known.join(', ')} (nx show projects lists them).` : 'Create a project first (nx show projects lists them).'),
    );
  }
  const network = options.network ?? DEFAULT_NETWORK;
  if (!NETWORK_NAME.test(network)) {
    throw new GeneratorError(
      `--network: "${network}" is not a valid Docker network name. Use letters, digits, "_", "." and "-", starting with a letter or digit (e.g. --network=dev).`,
    );
  }
  const baseImage = options.baseImage ?? DEFAULT_BASE_IMAGE;
  if (!IMAGE_REFERENCE.test(baseImage)) {
    throw new GeneratorError(
      `--baseImage: "${baseImage}" is not an image reference. Use NAME[:TAG][@DIGEST] without spaces, e.g. --baseImage=${DEFAULT_BASE_IMAGE}.`,
    );
  }
  const aptPackages = normalizeList(options.aptPackages);
  const badPackage = aptPackages.find((name) => !APT_PACKAGE.test(name));
  if (badPackage !== undefined) {
    throw new GeneratorError(`--aptPackages: "${badPackage}" is not a Debian package name (lower-case letters, digits, "+", "-", ".").`);
  }
  if (aptPackages.includes('sudo')) {
    throw new GeneratorError('--aptPackages: sudo would let the agent become root. Add the tools it needs instead of sudo.');
  }
  const agent = options.agent ?? 'none';
  if (!(agent in AGENTS)) {
    throw new GeneratorError(`--agent: "${agent}" is not supported. Use one of: ${Object.keys(AGENTS).join(', ')}.`);
  }
  const writeSwitches = WRITE_SWITCHES.filter((name) => options[name] === true);
  if (writeSwitches.length > 0) {
    throw new GeneratorError(
      `--${writeSwitches.join(', --')}: the socket proxy is read-only by construction in this version; write switches cannot be turned on. ` +
        'Remove the option; to trigger actions in other containers, give them an HTTP endpoint on the shared network.',
    );
  }
  const switches = Object.fromEntries(
    Object.entries(READ_SWITCH_DEFAULTS).map(([name, fallback]) => [name, options[name as ReadSwitch] ?? fallback]),
  ) as Record<ReadSwitch, boolean>;
  if (!switches.PING) {
    throw new GeneratorError('--PING=false: the docker CLI pings the engine before every command; without it nothing works. Leave PING on.');
  }
  const localhostProxy = options.localhostProxy ?? readStoredOptions(tree, project.root)?.localhostProxy;
  return {
    localhostProxy,
    project: options.project,
    projectRoot: project.root,
    devcontainerDir: joinPathFragments(project.root, DEVCONTAINER_DIR),
    network,
    baseImage,
    aptPackages,
    agent,
    switches,
    force: options.force ?? false,
    skipFormat: options.skipFormat ?? false,
  };
}

/** The options a compose file records, so that another generator can render it again. */
export function storedOptions(options: NormalizedOptions): StoredOptions {
  const { network, baseImage, aptPackages, agent, switches, localhostProxy } = options;
  return { network, baseImage, aptPackages, agent, switches, ...(localhostProxy ? { localhostProxy } : {}) };
}

export interface LocalhostProxyOptions {
  /** [port on localhost, target service, target port] */
  forwards: Array<[number, string, number]>;
  ipv6: boolean;
}

export type StoredOptions = Pick<NormalizedOptions, 'network' | 'baseImage' | 'aptPackages' | 'agent' | 'switches'> & {
  localhostProxy?: LocalhostProxyOptions;
};

/** The options a project's dev container was generated with, read back from its compose file. */
export function readStoredOptions(tree: Tree, projectRoot: string): StoredOptions | undefined {
  const text = tree.read(joinPathFragments(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE), 'utf-8');
  if (!text) return undefined;
  try {
    const stored = (parseYaml(text) as { 'x-devsec'?: { generator?: string; options?: StoredOptions } })?.['x-devsec'];
    return stored?.generator === 'secure-devcontainer' ? stored.options : undefined;
  } catch {
    return undefined;
  }
}

/** `--aptPackages=a,b` arrives as ['a,b'] from the CLI and as ['a', 'b'] from code. */
function normalizeList(values: string[] | string | undefined): string[] {
  const list = Array.isArray(values) ? values : values === undefined ? [] : [values];
  return [...new Set(list.flatMap((value) => String(value).split(/[\s,]+/)).filter(Boolean))];
}

/** Refuses a `.devcontainer` that is not ours, and edited files unless --force. */
export function checkExistingFiles(tree: Tree, options: NormalizedOptions): void {
  const dir = options.devcontainerDir;
  if (!tree.exists(dir)) return;
  const present = tree.children(dir).filter((name) => tree.isFile(joinPathFragments(dir, name)));
  const ours = present.some((name) => {
    const content = tree.read(joinPathFragments(dir, name), 'utf-8') ?? '';
    return hasMarker(content) || (name === COMPOSE_FILE && content.includes(MANAGED_LABEL));
  });
  if (present.length > 0 && !ours) {
    throw new GeneratorError(
      `${dir} already exists and was not created by @org/devsec (${present.join(', ')}). ` +
        `Move it away (e.g. git mv ${dir} ${dir}.old) and run the generator again; then carry over what you need.`,
    );
  }
  if (options.force) return;
  const edited = GENERATED_FILES.filter((name) => {
    const path = joinPathFragments(dir, name);
    return managedState(path, tree.read(path, 'utf-8')) === 'edited';
  });
  if (edited.length > 0) {
    throw new GeneratorError(
      `These generated files were edited by hand: ${edited.map((name) => joinPathFragments(dir, name)).join(', ')}. ` +
        'To keep your version, delete its "@org/devsec managed file" line (the file is then yours and is left alone); ' +
        'to replace it with a fresh one, run again with --force.',
    );
  }
}

function templateValues(tree: Tree, options: NormalizedOptions) {
  const toRoot = offsetFromRoot(options.devcontainerDir).replace(/\/$/, '');
  const agent = AGENTS[options.agent];
  return {
    tmpl: '',
    // YAML-safe scalar: JSON strings are valid YAML (names like @acme/web need quotes).
    q: (value: string) => JSON.stringify(value),
    project: options.project,
    network: options.network,
    baseImage: options.baseImage,
    aptPackages: options.aptPackages.map((name) => ` ${name}`).join(''),
    workspaceRoot: toRoot,
    proxyBuildContext: `${toRoot}/node_modules/${PROXY_PACKAGE}`,
    proxySwitches: Object.entries(options.switches).map(([name, on]) => [name, on ? '1' : '0']),
    agentPackage: agent?.npmPackage ?? '',
    agentConfigDir: agent?.configDir ?? '',
    agentEnv: Object.entries(agent?.env ?? {}),
    // Connection variables of the shared services wired to this project (shared-service).
    connectionEnv: Object.entries(connectionEnvFor(tree, options.project)),
    storedOptions: storedOptions(options),
    // localhost:PORT inside the dev container reaches SERVICE:PORT of this stack only: the
    // target is named by its container name, unique to the stack.
    forward: (options.localhostProxy?.forwards ?? []).map(([listen, service, port]) => `${listen}:\${COMPOSE_PROJECT_NAME:-devsec}-${service}-1:${port}`).join(','),
    ipv6: options.localhostProxy?.ipv6 ?? false,
    projectRoot: options.projectRoot,
    // Writes this worktree's .env and override file on the host, as up-worktree does.
    initializeCommand: `cd "$(git rev-parse --show-toplevel)" && node node_modules/${PLUGIN_PACKAGE}/src/bin/worktree-env.js ${joinPathFragments(options.devcontainerDir, COMPOSE_FILE)}`,
    managedLabel: MANAGED_LABEL,
    projectLabel: PROJECT_LABEL,
    scopeLabel: SCOPE_LABEL,
  };
}

export async function secureDevcontainerGenerator(tree: Tree, schema: SecureDevcontainerGeneratorSchema) {
  const options = normalizeOptions(tree, schema);
  checkExistingFiles(tree, options);

  const before = new Map(GENERATED_FILES.map((name) => {
    const path = joinPathFragments(options.devcontainerDir, name);
    return [path, tree.read(path, 'utf-8')] as const;
  }));
  generateFiles(tree, join(__dirname, 'files'), options.devcontainerDir, templateValues(tree, options));

  for (const [path, previous] of before) {
    const state = managedState(path, previous);
    if (state === 'user-owned') {
      // The user took ownership by deleting the marker: theirs to keep.
      tree.write(path, previous as string);
      logger.info(`@org/devsec: kept ${path} (no managed-file marker: it is yours).`);
      continue;
    }
    const fresh = stampManaged(path, tree.read(path, 'utf-8') as string);
    // Same meaning as before: keep the bytes on disk (a formatter may have touched them).
    const unchanged = state === 'pristine' && markerFingerprint(previous as string) === markerFingerprint(fresh);
    tree.write(path, unchanged ? (previous as string) : fresh);
  }

  const servicesFile = joinPathFragments(options.devcontainerDir, SERVICES_COMPOSE_FILE);
  if (!tree.exists(servicesFile)) tree.write(servicesFile, SERVICES_COMPOSE_TEMPLATE);

  // Per machine and worktree, written by up-worktree: never committed.
  ensureGitignored(tree, joinPathFragments(options.devcontainerDir, ENV_FILE));
  ensureGitignored(tree, joinPathFragments(options.devcontainerDir, WORKTREE_COMPOSE_FILE));

  if (!options.skipFormat) await formatFiles(tree);
  return () => {
    logger.info(
      [
        `@org/devsec: ${options.devcontainerDir} is ready for ${options.project}.`,
        `  Start it: nx run ${options.project}:up-worktree   (or "Reopen in Container" in VS Code)`,
      ].join('\n'),
    );
  };
}

export default secureDevcontainerGenerator;
