import { ExecutorContext, logger } from '@nx/devkit';
import { preflight, SandboxError } from '../../lib/sandbox-stack';
import { streamCommand } from '../../lib/run';
import { sharedComposeArgs, sharedStack } from '../../lib/shared-stack';
import { WorktreeError } from '../../lib/worktree';
import type { DownSharedExecutorSchema } from './schema';

export default async function downSharedExecutor(options: DownSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  try {
    preflight();
    const stack = sharedStack(context.root, options.composeFile);
    const args = sharedComposeArgs(stack, 'down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : []));
    const code = await streamCommand('docker', args, { prefix: '[shared] ', env: stack.env });
    return { success: code === 0 };
  } catch (error) {
    if (error instanceof SandboxError || error instanceof WorktreeError) {
      logger.error(error.message);
      return { success: false };
    }
    throw error;
  }
}
