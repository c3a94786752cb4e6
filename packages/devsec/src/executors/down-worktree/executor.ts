import { ExecutorContext, logger } from '@nx/devkit';
import { stopSandbox } from '../../host/lifecycle';
import { checkInvocation } from '../checks';
import { composeFileOf, reportingErrors } from '../reporting';
import type { DownWorktreeExecutorSchema } from './schema';

export default function downWorktreeExecutor(options: DownWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: composeFileOf(context) });
    return stopSandbox(context.root, options.composeFile, options, logger);
  });
}
