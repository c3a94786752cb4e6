import { ExecutorContext, logger } from '@nx/devkit';
import { diagnoseComposeFailure, lastLogLines, runCompose, streamCompose } from '../../host/compose-project';
import { preflight } from '../../host/engine';
import { runCommand } from '../../host/run';
import { ensureSharedNetwork } from '../../host/shared-network';
import { sharedStack } from '../../host/shared-stack';
import { reportingErrors } from '../reporting';
import type { UpSharedExecutorSchema } from './schema';

export default function upSharedExecutor(options: UpSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = sharedStack(context.root, options.composeFile);
    if (stack.network) ensureSharedNetwork(stack.network, runCommand, (line) => logger.info(line));
    const { code, lines } = await streamCompose(stack.compose, ['up', '--detach', '--wait', '--remove-orphans']);
    if (code !== 0) {
      const logs = lastLogLines(stack.compose);
      logger.error(diagnoseComposeFailure(code, lines));
      if (logs.trim()) logger.error(`Last log lines:\n${logs}`);
      return false;
    }
    const ps = runCompose(stack.compose, ['ps', '--format', '{{.Service}}\t{{.State}}\t{{.Health}}']);
    logger.info(`Shared services (${stack.compose.name}) on network ${stack.network ?? '-'}:\n${ps.stdout.trim().replace(/^/gm, '  ')}`);
    return true;
  });
}
