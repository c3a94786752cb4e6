/**
 * Ryuk's job, done by the host: what the agent created through the proxy's write policy
 * (--testContainers) carries the owner label with its stack's compose project, and is removed
 * by down-worktree, at the next up-worktree and when `devsec agent` ends.
 */
import { OWNER_LABEL } from '../../sandbox/vocabulary';
import { runCommand, Runner } from './run';

export interface Removed {
  containers: number;
  networks: number;
  volumes: number;
}

const listed = (run: Runner, args: string[]): string[] => {
  const result = run('docker', args);
  if (result.status !== 0) throw new Error(`docker ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout.split('\n').filter((line) => /^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(line));
};

/** Removes the containers (with their anonymous volumes), then the networks and volumes, the stack's agent made. */
export function removeChildren(composeProject: string, run: Runner = runCommand): Removed {
  const filter = `label=${OWNER_LABEL}=${composeProject}`;
  const containers = listed(run, ['ps', '-aq', '--no-trunc', '--filter', filter]);
  if (containers.length > 0) run('docker', ['rm', '-f', '-v', ...containers]);
  const networks = listed(run, ['network', 'ls', '-q', '--no-trunc', '--filter', filter]);
  for (const network of networks) run('docker', ['network', 'rm', network]);
  const volumes = listed(run, ['volume', 'ls', '-q', '--filter', filter]);
  if (volumes.length > 0) run('docker', ['volume', 'rm', '-f', ...volumes]);
  return { containers: containers.length, networks: networks.length, volumes: volumes.length };
}

/** "2 containers, 1 network" — or undefined when nothing was removed. */
export function describeRemoved(removed: Removed): string | undefined {
  const parts = (Object.entries(removed) as Array<[keyof Removed, number]>)
    .filter(([, count]) => count > 0)
    .map(([kind, count]) => `${count} ${count === 1 ? kind.slice(0, -1) : kind}`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}
