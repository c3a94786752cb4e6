/**
 * The audit executor's hasher (executors.json): the static audit is cached on its inputs, but
 * `--live` looks at running containers, which no input describes (and Nx 23 shares its cache
 * between checkouts, so another worktree's live result would be replayed). A live run gets a
 * hash that never repeats: it always runs. `nx run <project>:audit-live` is the same, uncached.
 */
import type { CustomHasher, HasherContext } from '@nx/devkit';
import { randomUUID } from 'node:crypto';

const isLive = (value: unknown) => value === true || value === 'true';

const auditHasher: CustomHasher = async (task, context) => {
  const env = (context as HasherContext & { env?: NodeJS.ProcessEnv }).env ?? process.env;
  const hash = await context.hasher.hashTask(task, context.taskGraph, env);
  const target = context.projectGraph.nodes[task.target.project]?.data.targets?.[task.target.target];
  const configured = task.target.configuration ? target?.configurations?.[task.target.configuration]?.live : undefined;
  const live = isLive(task.overrides.live ?? configured ?? target?.options?.live);
  return live ? { ...hash, value: `${hash.value}-live-${randomUUID()}` } : hash;
};

export default auditHasher;
