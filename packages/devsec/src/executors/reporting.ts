import { logger } from '@nx/devkit';
import { DevsecError } from '../sandbox/errors';

/** Runs an executor's work: our own errors become their message and a failed result. */
export async function reportingErrors(work: () => Promise<boolean>): Promise<{ success: boolean }> {
  try {
    return { success: await work() };
  } catch (error) {
    if (error instanceof DevsecError) {
      logger.error(error.message);
      return { success: false };
    }
    throw error;
  }
}
