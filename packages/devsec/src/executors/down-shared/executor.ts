import { ExecutorContext, logger } from '@nx/devkit';
import { reportingErrors } from '../../lib/executor';
import { preflight, removeSharedNetworkIfUnused } from '../../lib/sandbox-stack';
import { runCommand, streamCommand } from '../../lib/run';
import { sharedComposeArgs, sharedStack } from '../../lib/shared-stack';
import type { DownSharedExecutorSchema } from './schema';

export default function downSharedExecutor(options: DownSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = sharedStack(context.root, options.composeFile);
    const args = sharedComposeArgs(stack, 'down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : []));
    const { code } = await streamCommand('docker', args, { prefix: '[shared] ', env: stack.env });
    if (code === 0 && stack.network) removeSharedNetworkIfUnused(stack.network, runCommand, (line) => logger.info(line));
    return code === 0;
  });
}
