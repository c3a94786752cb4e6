import { ExecutorContext, logger } from '@nx/devkit';
import { reportingErrors } from '../../lib/executor';
import { diagnoseComposeFailure, ensureSharedNetwork, preflight } from '../../lib/sandbox-stack';
import { runCommand, streamCommand } from '../../lib/run';
import { sharedComposeArgs, sharedStack } from '../../lib/shared-stack';
import type { UpSharedExecutorSchema } from './schema';

export default function upSharedExecutor(options: UpSharedExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = sharedStack(context.root, options.composeFile);
    if (stack.network) ensureSharedNetwork(stack.network, runCommand, (line) => logger.info(line));
    const { code, lines } = await streamCommand('docker', sharedComposeArgs(stack, 'up', '--detach', '--wait', '--remove-orphans'), {
      prefix: '[shared] ',
      env: stack.env,
    });
    if (code !== 0) {
      const logs = runCommand('docker', sharedComposeArgs(stack, 'logs', '--no-color', '--tail', '30'), { env: stack.env });
      logger.error(diagnoseComposeFailure(code, lines));
      if (logs.stdout.trim()) logger.error(`Last log lines:\n${logs.stdout}`);
      return false;
    }
    const ps = runCommand('docker', sharedComposeArgs(stack, 'ps', '--format', '{{.Service}}\t{{.State}}\t{{.Health}}'), { env: stack.env });
    logger.info(`Shared services (${stack.projectName}) on network ${stack.network ?? '-'}:\n${ps.stdout.trim().replace(/^/gm, '  ')}`);
    return true;
  });
}
