import { CreateNodes, CreateNodesResult, joinPathFragments, TargetConfiguration } from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { COMPOSE_FILE, DEVCONTAINER_DIR, MANAGED_LABEL, PLUGIN_PACKAGE } from '../lib/constants';

export interface DevsecPluginOptions {
  upTargetName?: string;
  downTargetName?: string;
}

/**
 * Gives every project whose `.devcontainer/docker-compose.yml` is ours (it carries our label)
 * the targets to bring its sandbox up and down, with no project.json edit.
 */
export const createNodes: CreateNodes<DevsecPluginOptions> = [
  `**/${DEVCONTAINER_DIR}/${COMPOSE_FILE}`,
  (files, options, context) =>
    files.flatMap((file) => {
      const result = nodesFor(file, options ?? {}, context.workspaceRoot);
      return result ? [[file, result] as const] : [];
    }),
];

/** Nx before 22 looked for this name. */
export const createNodesV2 = createNodes;

function nodesFor(file: string, options: DevsecPluginOptions, workspaceRoot: string): CreateNodesResult | undefined {
  const content = readFileSync(join(workspaceRoot, file), 'utf-8');
  if (!content.includes(MANAGED_LABEL)) return undefined;
  const projectRoot = dirname(dirname(file));
  // Attach to an existing project only: a stray .devcontainer makes no project of its own.
  const isProject = ['project.json', 'package.json'].some((name) => existsSync(join(workspaceRoot, projectRoot, name)));
  if (!isProject) return undefined;
  const composeFile = joinPathFragments(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE);
  const up: TargetConfiguration = {
    executor: `${PLUGIN_PACKAGE}:up-worktree`,
    options: { composeFile },
    metadata: { description: 'Start this git worktree’s sandbox: dev container and its read-only Docker proxy.', technologies: ['docker'] },
  };
  const down: TargetConfiguration = {
    executor: `${PLUGIN_PACKAGE}:down-worktree`,
    options: { composeFile },
    metadata: { description: 'Stop and remove this git worktree’s sandbox (volumes kept unless --volumes).', technologies: ['docker'] },
  };
  return {
    projects: {
      [projectRoot]: {
        targets: {
          [options.upTargetName ?? 'up-worktree']: up,
          [options.downTargetName ?? 'down-worktree']: down,
        },
      },
    },
  };
}
