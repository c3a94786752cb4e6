import { ExecutorContext, logger } from '@nx/devkit';
import { startShared } from '../../host/lifecycle';
import { SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { checkInvocation } from '../checks';
import { reportingErrors } from '../reporting';
import type { UpSharedExecutorSchema } from './schema';

export default function upSharedExecutor(options: UpSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: SHARED_COMPOSE_FILE });
    return startShared(context.root, options.composeFile ?? SHARED_COMPOSE_FILE, logger);
  });
}
