import { ExecutorContext, logger } from '@nx/devkit';
import { reportingErrors } from '../../lib/executor';
import { composeArgs, preflight, prepareWorktree } from '../../lib/sandbox-stack';
import { streamCommand } from '../../lib/run';
import type { DownWorktreeExecutorSchema } from './schema';

export default function downWorktreeExecutor(options: DownWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = prepareWorktree(context.root, options.composeFile);
    const args = composeArgs(stack, 'down', '--remove-orphans');
    if (options.volumes) args.push('--volumes');
    const { code } = await streamCommand('docker', args, { cwd: stack.devcontainerDir, prefix: `[${stack.project}] ` });
    if (code === 0) logger.info(`Removed ${stack.identity.composeProjectName}${options.volumes ? ' and its volumes' : ' (volumes kept; --volumes removes them)'}.`);
    return code === 0;
  });
}
