import { ExecutorContext } from '@nx/devkit';
import { reportingErrors } from '../../lib/executor';
import { preflight } from '../../lib/sandbox-stack';
import { streamCommand } from '../../lib/run';
import { sharedComposeArgs, sharedStack } from '../../lib/shared-stack';
import type { DownSharedExecutorSchema } from './schema';

export default function downSharedExecutor(options: DownSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = sharedStack(context.root, options.composeFile);
    const args = sharedComposeArgs(stack, 'down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : []));
    return (await streamCommand('docker', args, { prefix: '[shared] ', env: stack.env })).code === 0;
  });
}
