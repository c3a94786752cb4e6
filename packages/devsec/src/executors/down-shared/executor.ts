import { ExecutorContext, logger } from '@nx/devkit';
import { stopShared } from '../../host/lifecycle';
import { SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { checkInvocation } from '../checks';
import { reportingErrors } from '../reporting';
import type { DownSharedExecutorSchema } from './schema';

export default function downSharedExecutor(options: DownSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: SHARED_COMPOSE_FILE });
    return stopShared(context.root, options.composeFile ?? SHARED_COMPOSE_FILE, options, logger);
  });
}
