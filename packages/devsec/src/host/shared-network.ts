/** The shared network that every worktree's dev container and the shared services join. */
import type { ComposeModel } from '../sandbox/compose-model';
import { SandboxError } from '../sandbox/errors';
import { MANAGED_LABEL, SHARED_NETWORK } from '../sandbox/vocabulary';
import { lastLine } from './engine';
import { runCommand, Runner } from './run';

/** The shared network of a stack (its `shared` network's name). */
export function sharedNetworkName(model: ComposeModel): string | undefined {
  return model.networks?.[SHARED_NETWORK]?.name;
}

/**
 * Creates the shared network when missing (labelled as ours); uses an unlabelled bridge network
 * and says so; refuses a network of another driver.
 */
export function ensureSharedNetwork(name: string, run: Runner = runCommand, say: (line: string) => void = console.log): void {
  const inspect = run('docker', ['network', 'inspect', name, '--format', '{{.Driver}} {{index .Labels "' + MANAGED_LABEL + '"}}']);
  if (inspect.status === 0) {
    const [driver, label] = inspect.stdout.trim().split(' ');
    if (driver !== 'bridge') {
      throw new SandboxError(
        `The shared network "${name}" exists with driver "${driver}", not bridge. Remove it (docker network rm ${name}) or pick another name with the generator's --network.`,
      );
    }
    if (label !== 'true') say(`Using the existing network "${name}" (not created by @org/devsec).`);
    return;
  }
  const create = run('docker', ['network', 'create', '--driver', 'bridge', '--label', `${MANAGED_LABEL}=true`, name]);
  // Another worktree may have created it in the meantime.
  if (create.status !== 0 && !/already exists/.test(create.stderr)) {
    throw new SandboxError(`Could not create the shared network "${name}": ${lastLine(create)}`);
  }
  say(`Created the shared network "${name}".`);
}

/**
 * Removes the shared network once nothing is attached, if we created it; a network that other
 * containers still use, or that was there before us, stays.
 */
export function removeSharedNetworkIfUnused(name: string, run: Runner = runCommand, say: (line: string) => void = console.log): void {
  const inspect = run('docker', ['network', 'inspect', name, '--format', `{{index .Labels "${MANAGED_LABEL}"}} {{len .Containers}}`]);
  if (inspect.status !== 0) return;
  const [label, attached] = inspect.stdout.trim().split(' ');
  if (label !== 'true') return;
  if (attached !== '0') {
    say(`Kept the shared network "${name}": ${attached} container(s) still use it (a worktree's sandbox is up).`);
    return;
  }
  const removed = run('docker', ['network', 'rm', name]);
  if (removed.status === 0) say(`Removed the shared network "${name}".`);
}
