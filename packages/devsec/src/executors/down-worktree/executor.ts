import { ExecutorContext, logger } from '@nx/devkit';
import { streamCompose } from '../../host/compose-project';
import { preflight } from '../../host/engine';
import { prepareWorktree } from '../../host/sandbox-stack';
import { reportingErrors } from '../reporting';
import type { DownWorktreeExecutorSchema } from './schema';

export default function downWorktreeExecutor(options: DownWorktreeExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    preflight();
    const stack = prepareWorktree(context.root, options.composeFile);
    const args = ['down', '--remove-orphans'];
    if (options.volumes) args.push('--volumes');
    // Only images built for this stack (no image: of their own), never the base images.
    if (options.images) args.push('--rmi', 'local');
    const { code } = await streamCompose(stack.compose, args);
    const also = [options.volumes && 'its volumes', options.images && 'its built images'].filter(Boolean).join(' and ');
    if (code === 0)
      logger.info(
        `Removed ${stack.identity.composeProjectName}${also ? ` and ${also}` : ' (volumes and built images kept; --volumes, --images remove them)'}.`,
      );
    return code === 0;
  });
}
