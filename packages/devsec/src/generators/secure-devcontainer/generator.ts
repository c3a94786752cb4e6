import { formatFiles, joinPathFragments, logger, Tree } from '@nx/devkit';
import { parse as parseYaml } from 'yaml';
import { allowHostsIn, normalizeList, readSpec, SandboxSpec, specFromOptions, workspaceMode } from '../../sandbox/spec';
import { COMPOSE_FILE, DEVCONTAINER_DIR, TARGETS } from '../../sandbox/vocabulary';
import { checkSandboxFiles, renderSandbox, SandboxTarget } from '../common/render';
import { sandboxTarget } from '../common/target';
import { SharedWiring, wireSharedServices } from './shared-wiring';
import type { SecureDevcontainerGeneratorSchema } from './schema';

/**
 * The stored spec, if it reads (one this run replaces may be broken); the hosts the user listed
 * in the file are read strictly, since the run keeps them.
 */
function storedSpec(
  tree: Tree,
  target: SandboxTarget,
): Pick<SandboxSpec, 'localhostProxy' | 'allowHosts' | 'allowPrivateHosts' | 'caCerts' | 'workspace' | 'testContainers' | 'runtime'> | undefined {
  let stored: SandboxSpec | undefined;
  try {
    stored = readSpec(tree, target.projectRoot);
  } catch {
    stored = undefined;
  }
  const path = joinPathFragments(target.projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE);
  const text = tree.read(path, 'utf-8');
  let model: unknown;
  try {
    model = text === null ? undefined : parseYaml(text);
  } catch {
    model = undefined; // not YAML: checkSandboxFiles names it as edited
  }
  const listed = allowHostsIn(model, path, stored?.agent ?? 'none');
  return {
    localhostProxy: stored?.localhostProxy,
    allowHosts: listed ?? stored?.allowHosts ?? [],
    allowPrivateHosts: stored?.allowPrivateHosts,
    caCerts: stored?.caCerts,
    workspace: stored?.workspace,
    testContainers: stored?.testContainers,
    runtime: stored?.runtime,
  };
}

export async function secureDevcontainerGenerator(tree: Tree, options: SecureDevcontainerGeneratorSchema) {
  // Every check that can refuse comes before the tree is touched: a refusal leaves it unchanged.
  const target = sandboxTarget(tree, options.project);
  const stored = storedSpec(tree, target);
  // Kept across re-runs: the forwards localhost-proxy added, the hosts added to the allowlist (here or in the file), the workspace mode.
  const spec: SandboxSpec = specFromOptions({
    ...options,
    localhostProxy: options.localhostProxy ?? stored?.localhostProxy,
    workspace: options.workspace ?? stored?.workspace,
    // Kept across re-runs when left out; --runtime=auto goes back to the default.
    runtime: options.runtime ?? stored?.runtime,
    allowHosts: [...(stored?.allowHosts ?? []), ...normalizeList(options.allowHosts)],
    // Kept across re-runs, added to like --allowHosts; --caCerts= (empty) removes the file.
    allowPrivateHosts: [...(stored?.allowPrivateHosts ?? []), ...normalizeList(options.allowPrivateHosts)],
    caCerts: options.caCerts ?? stored?.caCerts,
    // Kept across re-runs too: --testContainers=false turns it off.
    testContainers: options.testContainers === true && stored?.testContainers ? stored.testContainers : (options.testContainers ?? stored?.testContainers),
  });
  checkSandboxFiles(tree, target, options.force ?? false);
  // A new sandbox is wired to the shared services that exist already (shared-wiring.ts): its connection variables and their
  // clients. A re-run leaves the wiring as shared-service --projects set it.
  const isNew = !tree.exists(joinPathFragments(target.projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE));
  const wired: SharedWiring = isNew ? wireSharedServices(tree, target.project, spec.network) : { services: [], clients: [] };
  const clients = wired.clients.filter((client) => !spec.aptPackages.includes(client));
  renderSandbox(tree, target, clients.length ? { ...spec, aptPackages: [...spec.aptPackages, ...clients] } : spec);
  if (!options.skipFormat) await formatFiles(tree);
  return () => {
    logger.info(
      [
        `@org/devsec: ${target.projectRoot}/.devcontainer is ready for ${target.project}.`,
        `  Start it: nx run ${target.project}:${TARGETS.up}   (or "Reopen in Container" in VS Code)`,
        ...(wired.services.length
          ? [`  Wired to the shared services ${wired.services.join(', ')}${clients.length ? ` (clients: ${clients.join(', ')})` : ''}.`]
          : []),
      ].join('\n'),
    );
    if (stored?.workspace === 'clone' && workspaceMode(spec) === 'mount') {
      logger.warn(
        `@org/devsec: ${target.project}'s sandbox mounts your checkout again (--workspace=mount). The clone's volume is kept until down-worktree --volumes: ` +
          `bring its commits back first (devsec fetch ${target.project}).`,
      );
    }
    if (wired.skipped) logger.warn(`@org/devsec: ${wired.skipped}.`);
    if (spec.egress === 'open') {
      logger.warn(
        `@org/devsec: --egress=open: the agent in ${target.project}'s sandbox can reach any host, and send it what it reads. Leave it out for the allowlist.`,
      );
    }
  };
}

export default secureDevcontainerGenerator;
