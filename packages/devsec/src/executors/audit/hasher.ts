/**
 * The audit executor's hasher (executors.json): the static audit is cached on its inputs and on
 * the engine's runtimes (shared-kernel reads them: registering gVisor must not replay an older
 * note). `--live` looks at running containers, which no input describes (and Nx 23 shares its
 * cache between checkouts, so another worktree's live result would be replayed). A live run gets
 * a hash that never repeats: it always runs. `nx run <project>:audit-live` is the same, uncached.
 */
import type { CustomHasher, HasherContext } from '@nx/devkit';
import { randomUUID } from 'node:crypto';
import { runtimesIfAny } from '../../host/audit/kernel';

const isLive = (value: unknown) => value === true || value === 'true';

export function auditHasherWith(runtimes: () => Pick<NonNullable<ReturnType<typeof runtimesIfAny>>, 'names'> | undefined): CustomHasher {
  return async (task, context) => {
    const env = (context as HasherContext & { env?: NodeJS.ProcessEnv }).env ?? process.env;
    const hash = await context.hasher.hashTask(task, context.taskGraph, env);
    const target = context.projectGraph.nodes[task.target.project]?.data.targets?.[task.target.target];
    const configured = task.target.configuration ? target?.configurations?.[task.target.configuration]?.live : undefined;
    const live = isLive(task.overrides.live ?? configured ?? target?.options?.live);
    if (live) return { ...hash, value: `${hash.value}-live-${randomUUID()}` };
    const names = runtimes()?.names.slice().sort().join(',') ?? 'no-engine';
    return { ...hash, value: `${hash.value}-runtimes-${names}` };
  };
}

export default auditHasherWith(() => runtimesIfAny());
