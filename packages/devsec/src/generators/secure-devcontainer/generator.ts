import { formatFiles, joinPathFragments, logger, Tree } from '@nx/devkit';
import { parse as parseYaml } from 'yaml';
import { allowHostsIn, normalizeList, readSpec, SandboxSpec, specFromOptions } from '../../sandbox/spec';
import { COMPOSE_FILE, DEVCONTAINER_DIR, TARGETS } from '../../sandbox/vocabulary';
import { checkSandboxFiles, renderSandbox, SandboxTarget } from '../common/render';
import { sandboxTarget } from '../common/target';
import type { SecureDevcontainerGeneratorSchema } from './schema';

/**
 * The stored spec, if it reads (one this run replaces may be broken); the hosts the user listed
 * in the file are read strictly, since the run keeps them.
 */
function storedSpec(tree: Tree, target: SandboxTarget): Pick<SandboxSpec, 'localhostProxy' | 'allowHosts' | 'testContainers'> | undefined {
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
  return { localhostProxy: stored?.localhostProxy, allowHosts: listed ?? stored?.allowHosts ?? [], testContainers: stored?.testContainers };
}

export async function secureDevcontainerGenerator(tree: Tree, options: SecureDevcontainerGeneratorSchema) {
  // Every check that can refuse comes before the tree is touched: a refusal leaves it unchanged.
  const target = sandboxTarget(tree, options.project);
  const stored = storedSpec(tree, target);
  // Kept across re-runs: the forwards localhost-proxy added, and the hosts added to the allowlist (here or in the file).
  const spec: SandboxSpec = specFromOptions({
    ...options,
    localhostProxy: options.localhostProxy ?? stored?.localhostProxy,
    allowHosts: [...(stored?.allowHosts ?? []), ...normalizeList(options.allowHosts)],
    // Kept across re-runs too: --testContainers=false turns it off.
    testContainers: options.testContainers === true && stored?.testContainers ? stored.testContainers : (options.testContainers ?? stored?.testContainers),
  });
  checkSandboxFiles(tree, target, options.force ?? false);
  renderSandbox(tree, target, spec);
  if (!options.skipFormat) await formatFiles(tree);
  return () => {
    logger.info(
      [
        `@org/devsec: ${target.projectRoot}/.devcontainer is ready for ${target.project}.`,
        `  Start it: nx run ${target.project}:${TARGETS.up}   (or "Reopen in Container" in VS Code)`,
      ].join('\n'),
    );
    if (spec.egress === 'open') {
      logger.warn(
        `@org/devsec: --egress=open: the agent in ${target.project}'s sandbox can reach any host, and send it what it reads. Leave it out for the allowlist.`,
      );
    }
  };
}

export default secureDevcontainerGenerator;
