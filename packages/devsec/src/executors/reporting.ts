import { ExecutorContext, joinPathFragments, logger } from '@nx/devkit';
import { visibleText } from '../sandbox/visible';
import { COMPOSE_FILE, DEVCONTAINER_DIR } from '../sandbox/vocabulary';
import { DevsecError } from '../sandbox/errors';

/** Runs an executor's work: our own errors become their message and a failed result. */
export async function reportingErrors(work: () => Promise<boolean>): Promise<{ success: boolean }> {
  try {
    return { success: await work() };
  } catch (error) {
    if (error instanceof DevsecError) {
      // Messages name files and services of the workspace: shown as text.
      logger.error(visibleText(error.message));
      return { success: false };
    }
    throw error;
  }
}

/** The running project's root, from the workspace root ('.' when Nx names none). */
export function projectRootOf(context: ExecutorContext): string {
  return context.projectName ? (context.projectsConfigurations?.projects[context.projectName]?.root ?? '.') : '.';
}

/** The compose file our plugin infers for the running project: `<project root>/.devcontainer/docker-compose.yml`. */
export function composeFileOf(context: ExecutorContext): string {
  return joinPathFragments(projectRootOf(context), DEVCONTAINER_DIR, COMPOSE_FILE);
}
