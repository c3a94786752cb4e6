import { getProjects, Tree } from '@nx/devkit';
import { GeneratorError } from '../../sandbox/errors';
import type { SandboxTarget } from './render';

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
