/**
 * A project's sandbox spec: what its dev container was generated with. The compose file stores
 * it under `x-devsec`, so sibling generators (shared-service, localhost-proxy) render the
 * sandbox again from it without asking the user — and whatever they read back is validated as
 * if the user had typed it.
 */
import type { Tree } from '@nx/devkit';
import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { checkHosts, egressAllowIn, splitHosts, userHosts } from './egress';
import { GeneratorError } from './errors';
import { listOption } from './list';
import { APT_PACKAGE, IMAGE_REFERENCE, NETWORK_NAME } from './names';
import {
  Agent,
  AGENTS,
  COMPOSE_FILE,
  DEFAULT_BASE_IMAGE,
  DEFAULT_NETWORK,
  DEVCONTAINER_DIR,
  EGRESS_MODES,
  EGRESS_SERVICE,
  EgressMode,
  READ_SWITCH_DEFAULTS,
  ReadSwitch,
  RUNTIME_CHOICES,
  RuntimeChoice,
  WRITE_SWITCHES,
  WORKSPACE_MODES,
  WorkspaceMode,
  WriteSwitch,
} from './vocabulary';

export interface LocalhostProxyOptions {
  /** [port on localhost, target service, target port] */
  forwards: Array<[number, string, number]>;
  ipv6: boolean;
}

export interface SandboxSpec {
  network: string;
  baseImage: string;
  aptPackages: string[];
  agent: Agent;
  switches: Record<ReadSwitch, boolean>;
  /** allowlist: the egress proxy is the only way out; open: a route out, unfiltered. */
  egress: EgressMode;
  /** Hosts the egress proxy allows beyond the defaults (egress.ts). */
  allowHosts: string[];
  /**
   * --allowPrivateHosts: exact names (or addresses) of allowHosts that may resolve to a private
   * address (a mirror, an internal registry or Git server). Stored only when there are some.
   */
  allowPrivateHosts?: string[];
  /** --caCerts: a PEM file of the workspace (relative to its root) whose CA certificates are trusted inside (host/stack/ca-certs.ts). */
  caCerts?: string;
  /** Set by the localhost-proxy generator; kept across re-runs of secure-devcontainer. */
  localhostProxy?: LocalhostProxyOptions;
  /** clone: the workspace is a volume of the stack holding a clone (stored only then; absent is mount). */
  workspace?: WorkspaceMode;
  /**
   * --testContainers: the stack's socket proxy also serves the write policy for the agent's own
   * containers (Testcontainers, docker run). Present only when on; `allowRegistries` with it.
   */
  testContainers?: { allowRegistries: string[] };
  /** --runtime: runsc or runc (stored only then; absent is auto: gVisor when the engine has it). */
  runtime?: Exclude<RuntimeChoice, 'auto'>;
}

/** The sandbox's runtime choice: auto unless its spec says runsc or runc. */
export const runtimeChoice = (spec: Pick<SandboxSpec, 'runtime'> | undefined): RuntimeChoice => spec?.runtime ?? 'auto';

/** The sandbox's workspace mode: mount unless its spec says clone. */
export const workspaceMode = (spec: Pick<SandboxSpec, 'workspace'> | undefined): WorkspaceMode => spec?.workspace ?? 'mount';

/** What a user (or a stored spec) may say; everything optional but the defaults' complement. */
export type SpecOptions = {
  network?: string;
  baseImage?: string;
  aptPackages?: string[] | string;
  agent?: Agent;
  switches?: Partial<Record<ReadSwitch, boolean>>;
  egress?: EgressMode;
  allowHosts?: string[] | string;
  allowPrivateHosts?: string[] | string;
  caCerts?: string;
  localhostProxy?: LocalhostProxyOptions;
  workspace?: WorkspaceMode;
  testContainers?: boolean | { allowRegistries?: string[] };
  allowRegistries?: string[] | string;
  runtime?: RuntimeChoice;
} & Partial<Record<ReadSwitch, boolean>> &
  Partial<Record<WriteSwitch, boolean>>;

/** The generator that writes the spec, as recorded beside it. */
export const SPEC_GENERATOR = 'secure-devcontainer';

/** `--aptPackages=a,b` and `--allowHosts`: package and host names, separated by commas or spaces. */
export const normalizeList = (values: string[] | string | undefined): string[] => listOption(values, { spaces: true });

/** Every check that can refuse, with the option's name and the fix; defaults filled in. */
export function specFromOptions(options: SpecOptions): SandboxSpec {
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
    Object.entries(READ_SWITCH_DEFAULTS).map(([name, fallback]) => [name, options[name as ReadSwitch] ?? options.switches?.[name as ReadSwitch] ?? fallback]),
  ) as Record<ReadSwitch, boolean>;
  if (!switches.PING) {
    throw new GeneratorError('--PING=false: the docker CLI pings the engine before every command; without it nothing works. Leave PING on.');
  }
  const egress = options.egress ?? 'allowlist';
  if (!EGRESS_MODES.includes(egress)) {
    throw new GeneratorError(`--egress: "${egress}" is not a mode. Use allowlist (the default: listed hosts only) or open (any host, unfiltered).`);
  }
  const allowHosts = checkHosts(normalizeList(options.allowHosts).flatMap(splitHosts), '--allowHosts');
  const allowPrivateHosts = checkPrivateHosts(normalizeList(options.allowPrivateHosts).flatMap(splitHosts), allowHosts);
  const caCerts = options.caCerts === undefined || options.caCerts === '' ? undefined : checkCaCertsPath(options.caCerts);
  const workspace = options.workspace ?? 'mount';
  if (!WORKSPACE_MODES.includes(workspace)) {
    throw new GeneratorError(
      `--workspace: "${workspace}" is not a mode. Use mount (the default: the host's checkout, bind-mounted) or clone (a volume holding a clone of the repository; nothing of the host's workspace is mounted).`,
    );
  }
  const testContainers = testContainersFrom(options, switches);
  const runtime = options.runtime ?? 'auto';
  if (!RUNTIME_CHOICES.includes(runtime)) {
    throw new GeneratorError(
      `--runtime: "${runtime}" is not a runtime choice. Use auto (the default: gVisor's runsc when the engine has it), runsc (gVisor required) or runc (the host's kernel, shared).`,
    );
  }
  return {
    network,
    baseImage,
    aptPackages,
    agent,
    switches,
    egress,
    allowHosts,
    ...(allowPrivateHosts.length ? { allowPrivateHosts } : {}),
    ...(caCerts ? { caCerts } : {}),
    ...(options.localhostProxy ? { localhostProxy: options.localhostProxy } : {}),
    // Stored only when it is not the default: the specs written before the option read the same.
    ...(workspace === 'clone' ? { workspace } : {}),
    ...(testContainers ? { testContainers } : {}),
    ...(runtime !== 'auto' ? { runtime } : {}),
  };
}

/**
 * --allowPrivateHosts: each an exact name or address (no `*.`, no port) that --allowHosts lists
 * too (with any port): the egress proxy refuses to start otherwise, and a private address is
 * never reachable by a wildcard.
 */
export function checkPrivateHosts(entries: string[], allowHosts: readonly string[]): string[] {
  const listed = new Set(allowHosts.map((entry) => entry.replace(/:[0-9]+$/, '')));
  for (const entry of entries) {
    if (entry.startsWith('*') || /:[0-9]+$/.test(entry.replace(/^\[.*\]$/, '')) || !HOST_NAME_OR_ADDRESS.test(entry)) {
      throw new GeneratorError(
        `--allowPrivateHosts: "${entry.slice(0, 80)}" is not an exact host name or address (no *.domain, no :port): name each private host, e.g. --allowPrivateHosts=npm.corp.example.`,
      );
    }
    if (!listed.has(entry)) {
      throw new GeneratorError(
        `--allowPrivateHosts: ${entry} is not in --allowHosts. A private host is reached only when it is listed in both: add --allowHosts=${entry} as well.`,
      );
    }
  }
  return [...new Set(entries)];
}

const HOST_NAME_OR_ADDRESS = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])$/;

/** --caCerts as the spec stores it: a relative path inside the workspace, no `..`, POSIX separators. */
export function checkCaCertsPath(path: string): string {
  const normal = posix.normalize(path.replace(/\\/g, '/'));
  if (posix.isAbsolute(normal) || normal === '.' || normal.startsWith('../') || normal === '..' || [...normal].some((char) => char.charCodeAt(0) < 0x20)) {
    throw new GeneratorError(
      `--caCerts: "${path.slice(0, 120)}" is not a file inside the workspace (a path relative to its root, e.g. tools/certs/corp-ca.pem). A file outside it is given at start instead: nx run <project>:up-worktree --caCerts=/path/to/ca.pem.`,
    );
  }
  return normal;
}

/** A registry host as the engine names it in an image reference: `docker.io`, `ghcr.io`, `registry.local:5000`. */
const REGISTRY = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$/;

/** --testContainers (true, or the stored object) with --allowRegistries (default: Docker Hub), checked. */
function testContainersFrom(options: SpecOptions, switches: Record<ReadSwitch, boolean>): { allowRegistries: string[] } | undefined {
  const stored = typeof options.testContainers === 'object' && options.testContainers !== null ? options.testContainers : undefined;
  if (!options.testContainers) {
    if (options.allowRegistries !== undefined && normalizeList(options.allowRegistries).length > 0) {
      throw new GeneratorError('--allowRegistries: pulls are only served with --testContainers. Add --testContainers, or leave --allowRegistries out.');
    }
    return undefined;
  }
  if (!switches.CONTAINERS) {
    throw new GeneratorError('--testContainers needs --CONTAINERS (the agent reads the containers it starts). Leave CONTAINERS on.');
  }
  const listed = normalizeList(options.allowRegistries ?? stored?.allowRegistries ?? ['docker.io']).map((name) => name.toLowerCase());
  const bad = listed.find((name) => !REGISTRY.test(name));
  if (bad !== undefined) throw new GeneratorError(`--allowRegistries: "${bad}" is not a registry host (e.g. docker.io, ghcr.io, registry.local:5000).`);
  return { allowRegistries: [...new Set(listed)] };
}

/** The spec a compose file stores (`x-devsec`), checked; undefined when it stores none. `path` names it in errors. */
export function specFromComposeText(text: string, path: string): SandboxSpec | undefined {
  let stored: { generator?: string; options?: SpecOptions } | undefined;
  let model: unknown;
  try {
    model = parseYaml(text);
    stored = (model as { 'x-devsec'?: typeof stored })?.['x-devsec'];
  } catch {
    return undefined;
  }
  if (stored?.generator !== SPEC_GENERATOR || !stored.options) return undefined;
  let spec: SandboxSpec;
  try {
    spec = specFromOptions(stored.options);
  } catch (error) {
    throw new GeneratorError(
      `${path}: x-devsec.options ${(error as Error).message} Fix it there, or run nx g @org/devsec:secure-devcontainer again with --force.`,
    );
  }
  const allowHosts = allowHostsIn(model, path, spec.agent);
  if (!allowHosts) return spec;
  // A private host the user took out of EGRESS_ALLOW by hand is no longer let through either.
  const bare = new Set(allowHosts.map((entry) => entry.replace(/:[0-9]+$/, '')));
  const allowPrivateHosts = spec.allowPrivateHosts?.filter((entry) => bare.has(entry));
  const { allowPrivateHosts: _old, ...rest } = spec;
  return { ...rest, allowHosts, ...(allowPrivateHosts?.length ? { allowPrivateHosts } : {}) };
}

/**
 * The allowlist in a compose file is the user's to edit: what it lists beyond the defaults is
 * theirs, kept by a re-run. Strict: a host the egress proxy cannot allow is an error naming the file.
 */
export function allowHostsIn(model: unknown, path: string, agent: Agent): string[] | undefined {
  const allow = egressAllowIn(model);
  return allow === undefined ? undefined : userHosts(agent, checkHosts(splitHosts(allow), `${path}, EGRESS_ALLOW of ${EGRESS_SERVICE}`));
}

/** The spec a project's dev container was generated with, read back from its compose file and checked. */
export function readSpec(tree: Tree, projectRoot: string): SandboxSpec | undefined {
  const path = posix.join(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE);
  const text = tree.read(path, 'utf-8');
  return text ? specFromComposeText(text, path) : undefined;
}
