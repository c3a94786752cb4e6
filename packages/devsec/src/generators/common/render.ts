/**
 * Renders a project's sandbox from its spec: the generated files (with their managed-file
 * marker), the user's services file once, and the git-ignore lines for per-machine files.
 * Every generator that changes a sandbox goes through here: secure-devcontainer with the
 * user's options, shared-service and localhost-proxy with the stored spec.
 */
import { generateFiles, joinPathFragments, logger, offsetFromRoot, Tree } from '@nx/devkit';
import { join } from 'node:path';
import { GeneratorError } from '../../sandbox/errors';
import { ensureGitignored } from '../../sandbox/gitignore';
import { hasMarker, managedState, markerFingerprint, stampManaged } from '../../sandbox/managed-file';
import { connectionEnvFor, sharedServiceNames } from '../../sandbox/shared-compose';
import { egressAllowList } from '../../sandbox/egress';
import { DOCKER_SOCKET, PROXY_SOCKET_TARGET } from '../../sandbox/engines';
import { FILL_NODE_MODULES_SCRIPT, HOST_NODE_MODULES_INSIDE } from '../../sandbox/node-modules';
import { SandboxSpec, SPEC_GENERATOR, workspaceMode } from '../../sandbox/spec';
import {
  AGENTS,
  CONTAINER_DOCKER_CONFIG,
  CONTAINER_USER,
  CONTAINER_GIT_CONFIG,
  VSCODE_CHANNEL_ENV,
  VSCODE_SETTINGS,
  COMPOSE_FILE,
  COMPOSE_PROJECT_LABEL,
  DEVCONTAINER_DIR,
  DEVCONTAINER_JSON,
  DOCKERFILE,
  EGRESS_LABEL,
  EGRESS_NETWORK,
  EGRESS_PORT,
  EGRESS_SERVICE,
  ENV_FILE,
  NO_GATEWAY_OPTION,
  NO_PROXY_ALWAYS,
  NO_PROXY_ENV_NAMES,
  PROXY_ENV_NAMES,
  MANAGED_LABEL,
  PLUGIN_PACKAGE,
  PROJECT_LABEL,
  PROXY_PACKAGE,
  SCOPE_LABEL,
  SERVICES_COMPOSE_FILE,
  WORKSPACE_LABEL,
  WORKSPACE_VOLUME,
  WORKTREE_COMPOSE_FILE,
} from '../../sandbox/vocabulary';
import { planLegacyDockerfile, renameLegacyDockerfile } from './legacy-files';

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

/**
 * devcontainer.json's initializeCommand, run by VS Code or the devcontainer CLI on the host, in
 * the folder they opened: the workspace root or the project's own folder. It finds the root
 * without git (a `.git` the agent planted in the project folder would answer git): the project
 * folder is the one whose `.devcontainer/devcontainer.json` is the very file found below the
 * root `..`s up, which the agent cannot fake from inside the workspace. Then it runs the plugin
 * from the root's node_modules, which no sandbox can write.
 */
export const INITIALIZE_SCRIPT = [
  "const f=require('fs'),p=require('path'),c=require('child_process');",
  "const rel=process.argv[1],cfg=p.join('.devcontainer','devcontainer.json');",
  'const same=(a,b)=>{try{return f.realpathSync(a)===f.realpathSync(b)}catch{return false}};',
  "const up=p.resolve(rel==='.'?'.':rel.split('/').map(()=>'..').join('/'));",
  'const root=same(cfg,p.join(up,rel,cfg))?up:f.existsSync(p.join(rel,cfg))?process.cwd():null;',
  "if(!root||!f.existsSync(p.join(root,'nx.json'))){console.error('@org/devsec: open the workspace root or '+rel+' (the folder of this devcontainer.json): no Nx workspace found from here.');process.exit(1)}",
  `const r=c.spawnSync(process.execPath,[p.join(root,'node_modules','${PLUGIN_PACKAGE}','src','bin','devsec.js'),'prepare',rel],{cwd:root,stdio:'inherit'});`,
  'process.exit(r.status===null?1:r.status)',
].join('');

/** Which project's sandbox, and where it lives. */
export interface SandboxTarget {
  project: string;
  projectRoot: string;
}

const devcontainerDir = (target: SandboxTarget) => joinPathFragments(target.projectRoot, DEVCONTAINER_DIR);

/** Refuses a `.devcontainer` that is not ours, and edited files unless `force`. */
export function checkSandboxFiles(tree: Tree, target: SandboxTarget, force = false): void {
  const dir = devcontainerDir(target);
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
  const legacy = planLegacyDockerfile(tree, target.projectRoot);
  if (legacy.action === 'keep') throw new GeneratorError(`${legacy.note} Then run the generator again.`);
  if (force) return;
  // A Dockerfile still under its old name is checked there (renderSandbox moves it first).
  const pathOf = (name: string) => (name === DOCKERFILE && legacy.action === 'rename' ? legacy.from : joinPathFragments(dir, name));
  const edited = GENERATED_FILES.map(pathOf).filter((path) => managedState(path, tree.read(path, 'utf-8')) === 'edited');
  if (edited.length > 0) {
    throw new GeneratorError(
      `These generated files were edited by hand: ${edited.join(', ')}. ` +
        'To keep your version, delete its "@org/devsec managed file" line (the file is then yours and is left alone); ' +
        'to replace it with a fresh one, run again with --force.',
    );
  }
}

function templateValues(tree: Tree, target: SandboxTarget, spec: SandboxSpec) {
  const dir = devcontainerDir(target);
  const toRoot = offsetFromRoot(dir).replace(/\/$/, '');
  const agent = AGENTS[spec.agent];
  return {
    tmpl: '',
    // File names, in the templates' own names too (files/__dockerfile____tmpl__, …).
    composeFile: COMPOSE_FILE,
    devcontainerJson: DEVCONTAINER_JSON,
    dockerfile: DOCKERFILE,
    composeFiles: [COMPOSE_FILE, SERVICES_COMPOSE_FILE, WORKTREE_COMPOSE_FILE],
    // YAML-safe scalar: JSON strings are valid YAML (names like @acme/web need quotes).
    q: (value: string) => JSON.stringify(value),
    project: target.project,
    network: spec.network,
    baseImage: spec.baseImage,
    aptPackages: spec.aptPackages.map((name) => ` ${name}`).join(''),
    workspaceRoot: toRoot,
    proxyBuildContext: `${toRoot}/node_modules/${PROXY_PACKAGE}`,
    proxySwitches: Object.entries(spec.switches).map(([name, on]) => [name, on ? '1' : '0']),
    // --testContainers: the proxy's write policy, its owner the compose project, its children on the stack's `children` network.
    testContainers: spec.testContainers !== undefined,
    writePolicyEnv: spec.testContainers
      ? [
          ['WRITE_POLICY', '1'],
          ['WRITE_OWNER', '${COMPOSE_PROJECT_NAME}'],
          ['CHILDREN_NETWORK', '${COMPOSE_PROJECT_NAME}_children'],
          ['ALLOW_REGISTRIES', spec.testContainers.allowRegistries.join(',')],
        ]
      : [],
    agentPackage: agent?.npmPackage ?? '',
    agentConfigDir: agent?.configDir ?? '',
    agentEnv: Object.entries(agent?.env ?? {}),
    // Connection variables of the shared services wired to this project (shared-service).
    connectionEnv: Object.entries(connectionEnvFor(tree, target.project)),
    specGenerator: SPEC_GENERATOR,
    spec,
    // localhost:PORT inside the dev container reaches SERVICE:PORT of this stack only: the
    // target is named by its container name, unique to the stack.
    forward: (spec.localhostProxy?.forwards ?? [])
      .map(([listen, service, port]) => `${listen}:\${COMPOSE_PROJECT_NAME:-devsec}-${service}-1:${port}`)
      .join(','),
    ipv6: spec.localhostProxy?.ipv6 ?? false,
    projectRoot: target.projectRoot,
    // Writes this worktree's .env and override file on the host, and gates the stack, as up-worktree does.
    initializeCommand: ['node', '-e', INITIALIZE_SCRIPT, target.projectRoot],
    // Inside, as the container's user: node_modules filled on the first start, as up-worktree does.
    postStartCommand: ['sh', '-c', FILL_NODE_MODULES_SCRIPT],
    hostNodeModules: HOST_NODE_MODULES_INSIDE,
    containerGitConfig: CONTAINER_GIT_CONFIG,
    containerDockerConfig: CONTAINER_DOCKER_CONFIG,
    vscodeRemoteEnv: Object.fromEntries(VSCODE_CHANNEL_ENV.map((name) => [name, ''])),
    vscodeSettings: VSCODE_SETTINGS,
    managedLabel: MANAGED_LABEL,
    projectLabel: PROJECT_LABEL,
    // The proxy's scope: this stack's compose project, and the shared services of its network.
    composeProjectLabel: COMPOSE_PROJECT_LABEL,
    scopeLabel: SCOPE_LABEL,
    egress: spec.egress,
    egressLabel: EGRESS_LABEL,
    clone: workspaceMode(spec) === 'clone',
    workspaceLabel: WORKSPACE_LABEL,
    workspaceVolume: WORKSPACE_VOLUME,
    egressService: EGRESS_SERVICE,
    egressNetwork: EGRESS_NETWORK,
    egressPort: EGRESS_PORT,
    egressAllow: egressAllowList(spec.agent, spec.allowHosts),
    egressAllowPrivate: spec.allowPrivateHosts ?? [],
    egressProxyUrl: `http://${EGRESS_SERVICE}:${EGRESS_PORT}`,
    proxyEnvNames: PROXY_ENV_NAMES,
    noProxyEnvNames: NO_PROXY_ENV_NAMES,
    noProxy: [...NO_PROXY_ALWAYS, ...sharedServiceNames(tree)].join(','),
    noGatewayOption: NO_GATEWAY_OPTION,
    dockerSocket: DOCKER_SOCKET,
    proxySocketTarget: PROXY_SOCKET_TARGET,
    containerUser: CONTAINER_USER,
  };
}

export interface RenderOptions {
  /** Leave files edited by hand as they are (the sync generator); otherwise they are replaced (checkSandboxFiles refused them first, or --force). */
  keepEdited?: boolean;
  /** Say nothing about files kept (the sync generator reports them itself). */
  quiet?: boolean;
}

/**
 * Writes the sandbox's files from its spec; a file whose meaning did not change keeps its bytes.
 * Returns the generated files left alone because they were edited by hand (with `keepEdited`).
 */
export function renderSandbox(tree: Tree, target: SandboxTarget, spec: SandboxSpec, how: RenderOptions = {}): { edited: string[] } {
  const dir = devcontainerDir(target);
  const legacy = planLegacyDockerfile(tree, target.projectRoot);
  if (legacy.action === 'keep') throw new GeneratorError(legacy.note);
  if (legacy.action === 'rename') renameLegacyDockerfile(tree, legacy);
  const before = new Map(
    GENERATED_FILES.map((name) => {
      const path = joinPathFragments(dir, name);
      return [path, tree.read(path, 'utf-8')] as const;
    }),
  );
  // The templates live with the generator that names them; every generator renders through here.
  generateFiles(tree, join(__dirname, '..', 'secure-devcontainer', 'files'), dir, templateValues(tree, target, spec));

  const edited: string[] = [];
  for (const [path, previous] of before) {
    const state = managedState(path, previous);
    if (state === 'user-owned' || (state === 'edited' && how.keepEdited)) {
      // The user took ownership by deleting the marker: theirs to keep. An edited file: the caller reports it.
      tree.write(path, previous as string);
      if (state === 'edited') edited.push(path);
      else if (!how.quiet) logger.info(`@org/devsec: kept ${path} (no managed-file marker: it is yours).`);
      continue;
    }
    const fresh = stampManaged(path, tree.read(path, 'utf-8') as string);
    // Same meaning as before: keep the bytes on disk (a formatter may have touched them).
    const unchanged = state === 'pristine' && markerFingerprint(previous as string) === markerFingerprint(fresh);
    tree.write(path, unchanged ? (previous as string) : fresh);
  }

  const servicesFile = joinPathFragments(dir, SERVICES_COMPOSE_FILE);
  if (!tree.exists(servicesFile)) tree.write(servicesFile, SERVICES_COMPOSE_TEMPLATE);

  // Per machine and worktree, written by up-worktree: never committed.
  ensureGitignored(tree, joinPathFragments(dir, ENV_FILE));
  ensureGitignored(tree, joinPathFragments(dir, WORKTREE_COMPOSE_FILE));
  return { edited };
}
