import { ExecutorContext, logger } from '@nx/devkit';
import { composeArgs, preflight, prepareWorktree, SandboxError } from '../../lib/sandbox-stack';
import { streamCommand } from '../../lib/run';
import { WorktreeError } from '../../lib/worktree';
import type { DownWorktreeExecutorSchema } from './schema';

export default async function downWorktreeExecutor(options: DownWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    preflight();
    const stack = prepareWorktree(context.root, options.composeFile);
    const args = composeArgs(stack, 'down', '--remove-orphans');
    if (options.volumes) args.push('--volumes');
    const code = await streamCommand('docker', args, { cwd: stack.devcontainerDir, prefix: `[${stack.project}] ` });
    if (code === 0) logger.info(`Removed ${stack.identity.composeProjectName}${options.volumes ? ' and its volumes' : ' (volumes kept; --volumes removes them)'}.`);
    return { success: code === 0 };
  } catch (error) {
    if (error instanceof SandboxError || error instanceof WorktreeError) {
      logger.error(error.message);
      return { success: false };
    }
    throw error;
  }
}
