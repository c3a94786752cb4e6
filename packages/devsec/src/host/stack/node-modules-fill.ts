/**
 * The dev container's node_modules fill (sandbox/node-modules.ts), run by up-worktree inside, as
 * the container's user — once per container: a re-run with nothing changed finds the same
 * container in the worktree state and asks nothing of it, whether that fill succeeded or failed
 * (a failure is said once, with how to try again). A recreated container (another id) is asked
 * again, and `--refill-node-modules` always is. The script keeps a filled volume as it is by
 * itself, so asking again is never harmful, only slow.
 */
import { FILL_NODE_MODULES_SCRIPT } from '../../sandbox/node-modules';
import type { Say } from '../../sandbox/say';
import { visibleText } from '../../sandbox/visible';
import { CONTAINER_USER } from '../../sandbox/vocabulary';
import { runCommand, Runner } from '../engine/run';
import type { FillRecord } from './worktree-state';

/**
 * Fills `container`'s node_modules (its full id) unless the fill already ran for this very
 * container and no refill is asked for; says what it did. A failure leaves the stack up and says how to
 * install by hand or try again. Returns what to remember.
 */
export function fillNodeModulesOnce(container: string, previous: FillRecord | undefined, refill: boolean, say: Say, run: Runner = runCommand): FillRecord {
  if (!refill && previous?.container === container) return previous;
  const args = ['exec', '-u', CONTAINER_USER, ...(refill ? ['-e', 'DEVSEC_REFILL=1'] : []), container, 'sh', '-c', FILL_NODE_MODULES_SCRIPT];
  const result = run('docker', args);
  const output = visibleText(`${result.stdout}${result.stderr}`.trim());
  if (result.status === 0) say.info(output.split('\n').pop() ?? '');
  else
    say.warn(
      `node_modules inside could not be filled (${output.split('\n').slice(-3).join(' ')}). Inside the container: your package manager's install (npm ci, pnpm install, yarn install) — ` +
        'or start again with --refill-node-modules to try the fill again (it is not tried again for this container until then).',
    );
  return { container, ok: result.status === 0 };
}
