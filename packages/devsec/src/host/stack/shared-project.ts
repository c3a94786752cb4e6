/**
 * The shared services' compose project name, and the one-time move of an older one.
 *
 * The name is the shared file's top-level `name:` (`<root package>-shared`) and a short hash of
 * the repository's common git dir: the same for every worktree of one repository, different for
 * two clones, and for two workspaces whose root package.json has the same name (F7: before, they
 * ran one shared project, so their agents shared one database).
 *
 * Versions before this one ran the project under the file's name alone. At the first up-shared
 * after the upgrade, its data is copied into the new project, once: the old containers are
 * stopped and removed (they answered to the services' names on the shared network), each named
 * volume `<old>_<volume>` is copied into a new `<new>_<volume>` (labelled as Compose labels its
 * own, so Compose adopts it), and the passwords of the state directory go with it, since the data
 * was initialised with them. The old volumes are kept, never written (read-only in the copy):
 * the user removes them once the new project is checked, and an older version still finds them.
 *
 * Why a copy, not `external:`/`name:` pointing at the old volumes: adopting them by name would
 * have to be written into the shared file (or an override), would keep the old name for good,
 * and two workspaces of the same package name would both adopt the same volumes — the sharing
 * F7 is about. A copy gives each its own data, leaves the old volumes as they were (a way back),
 * and a copy that fails removes what it made: the next up-shared tries again.
 */
import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { volumeSource, type ComposeModel } from '../../sandbox/compose-model';
import { SandboxError } from '../../sandbox/errors';
import { visible, visibleText } from '../../sandbox/visible';
import { COMPOSE_PROJECT_LABEL } from '../../sandbox/vocabulary';
import { readStateFile, writeStateFile } from '../engine/state-dir';
import { runCommand, Runner } from '../engine/run';
import { parseSecrets, secretsPath } from './secrets';
import { tenantSecretsPath } from './tenants';

const COMPOSE_VOLUME_LABEL = 'com.docker.compose.volume';
const COMPOSE_VERSION_LABEL = 'com.docker.compose.version';
/** What Docker accepts as a volume name; the file's keys are checked before they reach a command line. */
const VOLUME_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** `<file's name>-<8 hex of the common git dir>`, e.g. `myrepo-shared-1a2b3c4d`. */
export function sharedProjectName(fileName: string, gitCommonDir: string): string {
  let dir: string;
  try {
    dir = realpathSync(gitCommonDir);
  } catch {
    dir = resolve(gitCommonDir);
  }
  const hash = createHash('sha256').update(dir).digest('hex').slice(0, 8);
  return `${fileName}-${hash}`;
}

/** The file's named volumes that Compose names `<project>_<key>` (not external, no `name:` of their own). */
export function projectVolumes(model: ComposeModel | null | undefined): string[] {
  return Object.entries(model?.volumes ?? {})
    .filter(([, value]) => {
      const volume = (value ?? {}) as { external?: unknown; name?: unknown };
      return !volume.external && volume.name === undefined;
    })
    .map(([key]) => key)
    .filter((key) => VOLUME_NAME.test(key));
}

/**
 * Copies the older project's passwords (administrators' and tenants') into the new project's
 * files: `force` when its data is being copied (the old passwords are what that data knows),
 * otherwise only when the new project has none yet. Values already there are kept unless forced.
 */
export function adoptOlderSecrets(older: string, project: string, force: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  let adopted = false;
  for (const path of [secretsPath, tenantSecretsPath]) {
    const from = path(older, env);
    const to = path(project, env);
    const old = readStateFile(from);
    if (old === undefined) continue;
    const current = readStateFile(to);
    if (current !== undefined && !force) continue;
    const values = { ...(current === undefined ? {} : parseSecrets(current, to)), ...parseSecrets(old, from) };
    const header = old.split('\n').find((line) => line.startsWith('#')) ?? '# Passwords of the shared services (@org/devsec).';
    writeStateFile(
      to,
      `${header}\n${Object.entries(values)
        .map(([name, value]) => `${name}=${value}`)
        .join('\n')}\n`,
    );
    adopted = true;
  }
  return adopted;
}

function volumeLabels(name: string, run: Runner): Record<string, string> | undefined {
  const inspect = run('docker', ['volume', 'inspect', '--format', '{{json .Labels}}', name]);
  if (inspect.status !== 0) return undefined;
  return (JSON.parse(inspect.stdout.trim() || 'null') as Record<string, string> | null) ?? {};
}

function projectObjects(kind: 'ps' | 'network', project: string, run: Runner): string[] {
  const args = kind === 'ps' ? ['ps', '--all', '--no-trunc', '-q'] : ['network', 'ls', '--no-trunc', '-q'];
  const listed = run('docker', [...args, '--filter', `label=${COMPOSE_PROJECT_LABEL}=${project}`]);
  return listed.status === 0 ? listed.stdout.split('\n').filter((id) => /^[0-9a-f]{12,64}$/.test(id)) : [];
}

/** An image of the file that is on this machine, to copy with: the one of a service that mounts the volume, or any. */
function copyImage(model: ComposeModel, volume: string, run: Runner): string | undefined {
  const services = Object.values(model.services ?? {});
  const mounting = services.filter((service) => (service?.volumes ?? []).some((entry) => volumeSource(entry) === volume));
  for (const service of [...mounting, ...services]) {
    const image = typeof service?.image === 'string' ? service.image : undefined;
    if (image && !image.startsWith('-') && run('docker', ['image', 'inspect', '--format', '{{.Id}}', image]).status === 0) return image;
  }
  return undefined;
}

function fail(what: string, result: { stderr: string; stdout: string }): never {
  throw new SandboxError(`${what}: ${visibleText(`${result.stderr}${result.stdout}`.trim()).split('\n').slice(-2).join(' ')}`);
}

/**
 * The one-time move of the project of an older version (named `older`) into `project`: nothing
 * happens when there is nothing of it, or when its volumes have their copies already. Returns
 * whether it moved anything.
 */
export function adoptOlderSharedProject(
  model: ComposeModel,
  older: string,
  project: string,
  say: (line: string) => void,
  run: Runner = runCommand,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (older === project) return false;
  const pending = projectVolumes(model).filter((key) => {
    const labels = volumeLabels(`${older}_${key}`, run);
    return labels !== undefined && labels[COMPOSE_PROJECT_LABEL] === older && volumeLabels(`${project}_${key}`, run) === undefined;
  });
  const containers = projectObjects('ps', older, run);
  // The old containers alone (a service without a volume): moved only while the new project has never run.
  if (pending.length === 0 && (containers.length === 0 || projectObjects('ps', project, run).length > 0)) return false;

  say(
    `The shared services' compose project is now ${visible(project)} (the file's name and a hash of this repository's git dir: ` +
      `two workspaces whose root package has the same name no longer share one). Moving ${visible(older)}, of an older version, into it, once` +
      `${pending.length > 0 ? `: copying its volumes ${pending.map((key) => visible(`${older}_${key}`)).join(', ')}` : ''}.`,
  );
  if (containers.length > 0) {
    // Stopped first (cleanly, so the copy is of data at rest), then removed: they answer to the services' names on the shared network.
    const stop = run('docker', ['stop', ...containers]);
    if (stop.status !== 0) fail(`Could not stop the shared services of ${visible(older)}`, stop);
    const removed = run('docker', ['rm', ...containers]);
    if (removed.status !== 0) fail(`Could not remove the containers of ${visible(older)}`, removed);
    // Its own networks (not the shared one, which is external to it and carries no project label).
    const networks = projectObjects('network', older, run);
    if (networks.length > 0) run('docker', ['network', 'rm', ...networks]);
  }
  for (const key of pending) {
    const from = `${older}_${key}`;
    const to = `${project}_${key}`;
    const image = copyImage(model, key, run);
    if (!image)
      throw new SandboxError(
        `No image of ${visible(older)}'s services is on this machine to copy ${visible(from)} with: pull or build it, then run up-shared again.`,
      );
    const version = volumeLabels(from, run)?.[COMPOSE_VERSION_LABEL] ?? '';
    const create = run('docker', [
      'volume',
      'create',
      '--label',
      `${COMPOSE_PROJECT_LABEL}=${project}`,
      '--label',
      `${COMPOSE_VOLUME_LABEL}=${key}`,
      '--label',
      `${COMPOSE_VERSION_LABEL}=${version}`,
      to,
    ]);
    if (create.status !== 0) fail(`Could not create ${visible(to)}`, create);
    // cp -a as root, with only what copying owners and modes needs, and no network: the data is copied, never run.
    const copy = run('docker', [
      'run',
      '--rm',
      '--network',
      'none',
      '--security-opt',
      'no-new-privileges:true',
      '--cap-drop',
      'ALL',
      ...['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID'].flatMap((cap) => ['--cap-add', cap]),
      '--user',
      '0:0',
      '--mount',
      `type=volume,source=${from},target=/from,readonly`,
      '--mount',
      `type=volume,source=${to},target=/to`,
      '--entrypoint',
      'cp',
      image,
      '-a',
      '/from/.',
      '/to/',
    ]);
    if (copy.status !== 0) {
      run('docker', ['volume', 'rm', to]);
      fail(`Could not copy ${visible(from)} into ${visible(to)} (nothing changed: up-shared tries again)`, copy);
    }
  }
  const secrets = adoptOlderSecrets(older, project, pending.length > 0, env);
  say(
    `Moved ${visible(older)} into ${visible(project)}${secrets ? ', with its passwords' : ''}.` +
      (pending.length > 0
        ? ` Its old volumes are kept as they were: remove them once you have checked the new project (docker volume rm ${pending.map((key) => visible(`${older}_${key}`)).join(' ')}).`
        : ''),
  );
  return true;
}
