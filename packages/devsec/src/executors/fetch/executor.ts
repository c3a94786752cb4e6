import { ExecutorContext, logger } from '@nx/devkit';
import { fetchSandbox } from '../../host/lifecycle';
import { checkInvocation } from '../checks';
import { composeFileOf, reportingErrors } from '../reporting';
import type { FetchExecutorSchema } from './schema';

export default function fetchExecutor(options: FetchExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: composeFileOf(context) });
    return fetchSandbox(context.root, options.composeFile, logger);
  });
}
