/**
 * What every executor checks before it trusts its invocation: Nx has already loaded the
 * workspace's `.env` files and the configured target options — both writable by the agent.
 */
import { ExecutorContext } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkConfiguredOptions, checkWorkspaceEnvFiles, ExecutorOptionsSchema } from '../host/lifecycle';
import { projectRootOf } from './reporting';

/** An executor's own schema.json (beside its executor.ts, and beside the compiled executor.js in the package). */
export function executorSchema(executorDir: string): ExecutorOptionsSchema {
  return JSON.parse(readFileSync(join(executorDir, 'schema.json'), 'utf-8')) as ExecutorOptionsSchema;
}

/**
 * Refuses when a `.env` file Nx loaded for this task sets what steers the sandbox, or when an
 * option its schema marks command-line-only comes from configuration (under any of its names)
 * with another value than the plugin infers.
 */
export function checkInvocation(context: ExecutorContext, executorDir: string, expected: Record<string, unknown>): void {
  const target = context.targetName ?? '';
  const projectRoot = projectRootOf(context);
  checkWorkspaceEnvFiles(context.root, projectRoot, target, context.configurationName);
  const configured = context.projectName ? context.projectsConfigurations?.projects[context.projectName]?.targets?.[target] : undefined;
  checkConfiguredOptions(
    configured,
    { workspaceRoot: context.root, projectRoot, target, executor: configured?.executor ?? '' },
    executorSchema(executorDir),
    expected,
  );
}
