import { ExecutorContext, logger } from '@nx/devkit';
import { startSandbox } from '../../host/lifecycle';
import { checkInvocation } from '../checks';
import { composeFileOf, reportingErrors } from '../reporting';
import type { UpWorktreeExecutorSchema } from './schema';

export default function upWorktreeExecutor(options: UpWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: composeFileOf(context) });
    return startSandbox(
      context.root,
      options.composeFile,
      { ...options, downCommand: `nx run ${context.projectName}:down-worktree`, fetchCommand: `nx run ${context.projectName}:fetch` },
      logger,
    );
  });
}
