import { formatFiles, getProjects, logger, Tree } from '@nx/devkit';
import { GeneratorError } from '../../sandbox/errors';
import { readSpec, SandboxSpec, specFromOptions } from '../../sandbox/spec';
import { TARGETS } from '../../sandbox/vocabulary';
import { checkSandboxFiles, renderSandbox, SandboxTarget } from './render';
import type { SecureDevcontainerGeneratorSchema } from './schema';

/** The project to give a sandbox, or an error naming the projects there are. */
export function sandboxTarget(tree: Tree, projectName: string | undefined, option = '--project'): SandboxTarget {
  const projects = getProjects(tree);
  const project = projectName ? projects.get(projectName) : undefined;
  if (!project || !projectName) {
    const known = [...projects.keys()].sort();
    throw new GeneratorError(
      `${option}: no project named "${projectName ?? ''}" in this workspace. ` +
        (known.length ? `Pick one of: ${known.join(', ')} (nx show projects lists them).` : 'Create a project first (nx show projects lists them).'),
    );
  }
  return { project: projectName, projectRoot: project.root };
}

/** The forwards localhost-proxy added, kept across re-runs; a stored spec this run replaces may be broken. */
function storedLocalhostProxy(tree: Tree, target: SandboxTarget) {
  try {
    return readSpec(tree, target.projectRoot)?.localhostProxy;
  } catch {
    return undefined;
  }
}

export async function secureDevcontainerGenerator(tree: Tree, options: SecureDevcontainerGeneratorSchema) {
  // Every check that can refuse comes before the tree is touched: a refusal leaves it unchanged.
  const target = sandboxTarget(tree, options.project);
  const spec: SandboxSpec = specFromOptions({ ...options, localhostProxy: options.localhostProxy ?? storedLocalhostProxy(tree, target) });
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
  };
}

export default secureDevcontainerGenerator;
