import { ExecutorContext, logger } from '@nx/devkit';
import {
  composeArgs,
  composePs,
  diagnoseComposeFailure,
  ensureSharedNetwork,
  policyGate,
  preflight,
  prepareWorktree,
  sharedNetworkName,
  summary,
} from '../../lib/sandbox-stack';
import { runCommand, streamCommand } from '../../lib/run';
import { reportingErrors } from '../../lib/executor';
import type { UpWorktreeExecutorSchema } from './schema';

export default function upWorktreeExecutor(options: UpWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = prepareWorktree(context.root, options.composeFile);
    const unsafeAllow = [options.unsafeAllow ?? []].flat().flatMap((rule) => rule.split(',')).filter(Boolean);
    const { model, allowed } = policyGate(stack, unsafeAllow);
    for (const finding of allowed) logger.warn(`UNSAFE: ${finding.rule} allowed by --unsafe-allow: ${finding.message}`);
    const network = sharedNetworkName(model);
    if (network) ensureSharedNetwork(network, runCommand, (line) => logger.info(line));

    const args = composeArgs(stack, 'up', '--detach', '--remove-orphans');
    if (options.build !== false) args.push('--build');
    if (options.wait !== false) args.push('--wait');
    logger.info(`Starting ${stack.identity.composeProjectName}: docker ${args.join(' ')}`);
    const { code, lines } = await streamCommand('docker', args, { cwd: stack.devcontainerDir, prefix: `[${stack.project}] ` });
    if (code !== 0) {
      const logs = runCommand('docker', composeArgs(stack, 'logs', '--no-color', '--tail', '30'));
      logger.error(diagnoseComposeFailure(code, lines));
      if (logs.stdout.trim()) logger.error(`Last log lines:\n${logs.stdout}`);
      logger.error(`To remove what did start: nx run ${context.projectName}:down-worktree`);
      return false;
    }
    logger.info(summary(stack, composePs(stack)));
    return true;
  });
}
