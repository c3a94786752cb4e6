/** The shared network that every worktree's dev container and the shared services join: internal, with no gateway to the host. */
import type { NetworkFacts } from '../../rules/host-paths';
import type { ComposeModel } from '../../sandbox/compose-model';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { MANAGED_LABEL, NO_GATEWAY_OPTION, SHARED_NETWORK } from '../../sandbox/vocabulary';
import { lastLine, preflightEngine } from './engine';
import { runCommand, Runner } from './run';

/** What Docker accepts as a network name. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The shared network of a stack (its `shared` network's name). */
export function sharedNetworkName(model: ComposeModel): string | undefined {
  return model.networks?.[SHARED_NETWORK]?.name;
}

interface Inspected extends NetworkFacts {
  driver: string;
  ours: boolean;
  attached: number;
}

function inspectNetwork(name: string, run: Runner): Inspected | undefined {
  // `|`-separated: a missing option or label prints as "<no value>".
  const format = `{{.Driver}}|{{.Internal}}|{{index .Options "${NO_GATEWAY_OPTION}"}}|{{index .Labels "${MANAGED_LABEL}"}}|{{len .Containers}}`;
  const inspect = run('docker', ['network', 'inspect', name, '--format', format]);
  if (inspect.status !== 0) return undefined;
  const [driver, internal, noGateway, label, attached] = inspect.stdout.trim().split('|');
  return { driver, internal: internal === 'true', noGateway: noGateway === 'true', ours: label === 'true', attached: Number(attached) || 0 };
}

function createNetwork(name: string, run: Runner): void {
  const create = run('docker', [
    'network',
    'create',
    '--driver',
    'bridge',
    '--internal',
    '--opt',
    `${NO_GATEWAY_OPTION}=true`,
    '--label',
    `${MANAGED_LABEL}=true`,
    name,
  ]);
  // Another worktree may have created it in the meantime.
  if (create.status !== 0 && !/already exists/.test(create.stderr)) {
    throw new SandboxError(`Could not create the shared network "${name}": ${lastLine(create)}`);
  }
}

/**
 * Creates the shared network when missing — internal, and with no address on its bridge, so that
 * a dev container on it reaches neither the outside nor the host — labelled as ours. One of ours
 * from an older version, with a route out, is created again while nothing uses it. Refuses a
 * network of another driver. Returns what the gate judges (an unlabelled bridge network is used,
 * and the gate says whether it holds).
 */
export function ensureSharedNetwork(name: string, run: Runner = runCommand, say: (line: string) => void = console.log): NetworkFacts {
  // The name comes from a compose file: never an option of the docker command line, never a line of a terminal.
  if (!NETWORK_NAME.test(name))
    throw new SandboxError(
      `The shared network's name ${visible(JSON.stringify(name))} is not a Docker network name (a letter or digit, then letters, digits, '.', '_', '-'): fix --network and generate again.`,
    );
  const found = inspectNetwork(name, run);
  // Not found, or no engine to ask: the engine check says which, and what to do.
  if (!found) preflightEngine(run);
  if (found && found.driver !== 'bridge') {
    throw new SandboxError(
      `The shared network "${name}" exists with driver "${found.driver}", not bridge. Remove it (docker network rm ${name}) or pick another name with the generator's --network.`,
    );
  }
  const holds = (facts: NetworkFacts) => facts.internal && facts.noGateway;
  if (found && (holds(found) || !found.ours || found.attached > 0)) {
    if (!found.ours) say(`Using the existing network "${name}" (not created by @org/devsec).`);
    return { internal: found.internal, noGateway: found.noGateway };
  }
  if (found) {
    const removed = run('docker', ['network', 'rm', name]);
    if (removed.status !== 0) throw new SandboxError(`Could not remove the shared network "${name}" to create it internal: ${lastLine(removed)}`);
  }
  createNetwork(name, run);
  say(
    found
      ? `Created the shared network "${name}" again, internal: no route out, and no gateway that is the host (an older version made it with one).`
      : `Created the shared network "${name}".`,
  );
  return { internal: true, noGateway: true };
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

interface InspectedContainer {
  Name?: string;
  Config?: { Labels?: Record<string, string> | null };
  NetworkSettings?: { Networks?: Record<string, { Aliases?: string[] | null }> | null };
}

/**
 * The names on the shared network that another compose project's containers already answer to,
 * among `names` (the shared services this project starts). Two repositories whose sandboxes use
 * the same shared network (`dev` unless --network) and both run a shared `postgres` would each
 * answer to `postgres` on it: Docker's DNS then gives either, and a dev container could reach the
 * other repository's service (F7). Containers are asked as data: their labels and aliases are
 * parsed as JSON, never run, and printed through visible().
 */
export function namesTakenOnSharedNetwork(network: string, project: string, names: string[], run: Runner = runCommand): string[] {
  if (!NETWORK_NAME.test(network) || names.length === 0) return [];
  const listed = run('docker', ['network', 'inspect', network, '--format', '{{json .Containers}}']);
  if (listed.status !== 0) return [];
  const attached = Object.keys((JSON.parse(listed.stdout.trim() || '{}') as Record<string, unknown> | null) ?? {}).filter((id) => /^[0-9a-f]{12,64}$/.test(id));
  if (attached.length === 0) return [];
  const inspected = run('docker', ['inspect', '--type', 'container', ...attached]);
  if (inspected.status !== 0) return [];
  const taken: string[] = [];
  for (const container of JSON.parse(inspected.stdout) as InspectedContainer[]) {
    const labels = container.Config?.Labels ?? {};
    const owner = labels['com.docker.compose.project'];
    if (owner === project) continue;
    const answers = new Set([labels['com.docker.compose.service'], ...(container.NetworkSettings?.Networks?.[network]?.Aliases ?? [])]);
    for (const name of names) {
      if (answers.has(name)) {
        taken.push(
          `${name} (container ${visible(String(container.Name ?? '').replace(/^\//, ''))}` +
            `${owner ? ` of compose project ${visible(owner)}` : ''}${labels['com.docker.compose.project.working_dir'] ? ` in ${visible(labels['com.docker.compose.project.working_dir'])}` : ''})`,
        );
      }
    }
  }
  return taken;
}
