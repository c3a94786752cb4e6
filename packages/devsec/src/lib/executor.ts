import { logger } from '@nx/devkit';
import { SandboxError } from './sandbox-stack';
import { WorktreeError } from './worktree';

/** Runs an executor's work: our own errors become their message and a failed result. */
export async function reportingErrors(work: () => Promise<boolean>): Promise<{ success: boolean }> {
  try {
    return { success: await work() };
  } catch (error) {
    if (error instanceof SandboxError || error instanceof WorktreeError) {
      logger.error(error.message);
      return { success: false };
    }
    throw error;
  }
}
