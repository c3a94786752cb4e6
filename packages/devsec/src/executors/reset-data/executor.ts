import { ExecutorContext, logger } from '@nx/devkit';
import { resetData } from '../../host/lifecycle';
import { checkInvocation } from '../checks';
import { composeFileOf, reportingErrors } from '../reporting';
import type { ResetDataExecutorSchema } from './schema';

export default function resetDataExecutor(options: ResetDataExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: composeFileOf(context) });
    return resetData(context.root, options.composeFile, logger);
  });
}
