/**
 * 0.2.0: `<project>/.devcontainer/Dockerfile` becomes `sandbox.Dockerfile`, and the compose
 * file's `dockerfile:` follows, so @nx/docker (which infers a project from every file named
 * Dockerfile) no longer fails every nx command. Files without our marker are left alone, with
 * a note saying what to do.
 */
import { getProjects, logger, Tree } from '@nx/devkit';
import { planLegacyDockerfile, renameLegacyDockerfile } from '../../common/legacy-files';

export default function renameSandboxImage(tree: Tree): { nextSteps: string[] } {
  const nextSteps: string[] = [];
  for (const [, project] of getProjects(tree)) {
    const plan = planLegacyDockerfile(tree, project.root);
    if (plan.action === 'rename') {
      renameLegacyDockerfile(tree, plan);
      logger.info(`@org/devsec: renamed ${plan.from} to ${plan.to}; ${plan.compose} builds from it.`);
    } else if (plan.action === 'keep') {
      logger.warn(`@org/devsec: ${plan.note}`);
      nextSteps.push(plan.note);
    }
  }
  return { nextSteps };
}
