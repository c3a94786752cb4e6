/**
 * What every executor checks before it trusts its invocation: Nx has already loaded the
 * workspace's `.env` files and the configured target options — both writable by the agent.
 */
import { ExecutorContext } from '@nx/devkit';
import { checkConfiguredOptions, checkWorkspaceEnvFiles } from '../host/lifecycle';
import { projectRootOf } from './reporting';

/**
 * Refuses when a `.env` file Nx loaded for this task sets what steers the sandbox, or when an
 * option in `sensitive` comes from configuration with another value than the plugin infers.
 */
export function checkInvocation(context: ExecutorContext, sensitive: string[], expected: Record<string, unknown>): void {
  const target = context.targetName ?? '';
  const projectRoot = projectRootOf(context);
  checkWorkspaceEnvFiles(context.root, projectRoot, target, context.configurationName);
  const configured = context.projectName ? context.projectsConfigurations?.projects[context.projectName]?.targets?.[target] : undefined;
  checkConfiguredOptions(configured, { workspaceRoot: context.root, projectRoot, target, executor: configured?.executor ?? '' }, sensitive, expected);
}
