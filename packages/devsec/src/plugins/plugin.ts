// Type-only imports from @nx/devkit, and yaml only when a shared compose file exists: this
// module runs on every graph computation, so it loads as little as it can.
import type { CreateNodes, CreateNodesResult, TargetConfiguration } from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { COMPOSE_FILE, DEVCONTAINER_DIR, MANAGED_LABEL, PLUGIN_PACKAGE, SHARED_COMPOSE_FILE, TARGETS } from '../sandbox/vocabulary';

export interface DevsecPluginOptions {
  upTargetName?: string;
  downTargetName?: string;
  auditTargetName?: string;
}

/**
 * Gives every project whose `.devcontainer/docker-compose.yml` is ours (it carries our label)
 * the targets to bring its sandbox up and down, with no project.json edit.
 */
export const createNodes: CreateNodes<DevsecPluginOptions> = [
  `{**/${DEVCONTAINER_DIR}/${COMPOSE_FILE},${SHARED_COMPOSE_FILE}}`,
  (files, options, context) => {
    const infraProject = sharedInfraProject(context.workspaceRoot);
    return files.flatMap((file) => {
      const result = file === SHARED_COMPOSE_FILE ? sharedNodes(infraProject) : nodesFor(file, options ?? {}, context.workspaceRoot, infraProject);
      return result ? [[file, result] as const] : [];
    });
  },
];

/** The Nx project that owns docker-compose.shared.yml (its `x-devsec.project`), if any. */
function sharedInfraProject(workspaceRoot: string): string | undefined {
  const path = join(workspaceRoot, SHARED_COMPOSE_FILE);
  if (!existsSync(path)) return undefined;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { parse } = require('yaml') as typeof import('yaml');
    return (parse(readFileSync(path, 'utf-8')) as { 'x-devsec'?: { project?: string } })?.['x-devsec']?.project;
  } catch {
    return undefined;
  }
}

function sharedNodes(infraProject: string | undefined): CreateNodesResult | undefined {
  if (!infraProject) return undefined;
  return {
    projects: {
      '.': {
        name: infraProject,
        targets: {
          [TARGETS.upShared]: {
            executor: `${PLUGIN_PACKAGE}:${TARGETS.upShared}`,
            options: { composeFile: SHARED_COMPOSE_FILE },
            metadata: { description: 'Create the shared network and start the shared services, once for every worktree.', technologies: ['docker'] },
          },
          [TARGETS.downShared]: {
            executor: `${PLUGIN_PACKAGE}:${TARGETS.downShared}`,
            options: { composeFile: SHARED_COMPOSE_FILE },
            metadata: { description: 'Stop the shared services (volumes kept unless --volumes).', technologies: ['docker'] },
          },
        },
      },
    },
  };
}

/** Nx before 22 looked for this name. */
export const createNodesV2 = createNodes;

function nodesFor(file: string, options: DevsecPluginOptions, workspaceRoot: string, infraProject: string | undefined): CreateNodesResult | undefined {
  const content = readFileSync(join(workspaceRoot, file), 'utf-8');
  if (!content.includes(MANAGED_LABEL)) return undefined;
  const projectRoot = dirname(dirname(file));
  // Attach to an existing project only: a stray .devcontainer makes no project of its own.
  const isProject = ['project.json', 'package.json'].some((name) => existsSync(join(workspaceRoot, projectRoot, name)));
  if (!isProject) return undefined;
  const composeFile = posix.join(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE);
  const up: TargetConfiguration = {
    executor: `${PLUGIN_PACKAGE}:${TARGETS.up}`,
    options: { composeFile },
    // The shared services come first, whichever worktree starts.
    ...(infraProject ? { dependsOn: [{ projects: [infraProject], target: TARGETS.upShared }] } : {}),
    metadata: { description: 'Start this git worktree’s sandbox: dev container and its read-only Docker proxy.', technologies: ['docker'] },
  };
  const down: TargetConfiguration = {
    executor: `${PLUGIN_PACKAGE}:${TARGETS.down}`,
    options: { composeFile },
    metadata: {
      description: 'Stop and remove this git worktree’s sandbox (volumes and built images kept unless --volumes, --images).',
      technologies: ['docker'],
    },
  };
  const audit: TargetConfiguration = {
    executor: `${PLUGIN_PACKAGE}:${TARGETS.audit}`,
    options: { composeFile },
    metadata: {
      description: 'Review this sandbox’s files the way a security reviewer would (no engine needed); with --live, probe the running stack from inside.',
      technologies: ['docker'],
    },
  };
  return {
    projects: {
      [projectRoot]: {
        targets: {
          [options.upTargetName ?? TARGETS.up]: up,
          [options.downTargetName ?? TARGETS.down]: down,
          [options.auditTargetName ?? TARGETS.audit]: audit,
        },
      },
    },
  };
}
