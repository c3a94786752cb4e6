import { ExecutorContext, logger } from '@nx/devkit';
import { streamCompose } from '../../host/compose-project';
import { preflight } from '../../host/engine';
import { runCommand } from '../../host/run';
import { removeSharedNetworkIfUnused } from '../../host/shared-network';
import { sharedStack } from '../../host/shared-stack';
import { reportingErrors } from '../reporting';
import type { DownSharedExecutorSchema } from './schema';

export default function downSharedExecutor(options: DownSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = sharedStack(context.root, options.composeFile);
    const { code } = await streamCompose(stack.compose, ['down', '--remove-orphans', ...(options.volumes ? ['--volumes'] : [])]);
    if (code === 0 && stack.network) removeSharedNetworkIfUnused(stack.network, runCommand, (line) => logger.info(line));
    return code === 0;
  });
}
