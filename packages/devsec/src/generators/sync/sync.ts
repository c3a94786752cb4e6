/**
 * The sync generator (`nx sync`, and `nx sync:check` in CI): renders every sandbox again from
 * the spec stored in its compose file, as this version of @org/devsec writes it. After an
 * upgrade that changes the templates, the files are out of sync: reported, and rewritten by
 * `nx sync`. A generated file edited by hand is left alone and reported with how to resolve it;
 * files whose marker was deleted are the user's and are skipped. A sandbox that missed a shared
 * service (generated before secure-devcontainer wired new sandboxes, or by hand) is wired to it
 * as secure-devcontainer wires a new one: its project in the service's x-devsec.projects, the
 * connection variables, the client package; never one an explicit --projects left out. Registered in nx.json's
 * sync.globalGenerators by the init generator.
 */
import { formatFiles, getProjects, joinPathFragments, Tree } from '@nx/devkit';
import { readSpec, SandboxSpec } from '../../sandbox/spec';
import { DEVCONTAINER_DIR, LEGACY_DOCKERFILE, SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';
import { planLegacyDockerfile } from '../common/legacy-files';
import { renderSandbox } from '../common/render';
import { wireSharedServices } from '../secure-devcontainer/shared-wiring';

/** As nx/src/utils/sync-generators (not exported by @nx/devkit). */
export interface SyncGeneratorResult {
  outOfSyncMessage?: string;
  outOfSyncDetails?: string[];
}

const VERSION: string = require('../../../package.json').version;

export async function syncGenerator(tree: Tree): Promise<SyncGeneratorResult | undefined> {
  const changed: string[] = [];
  const blocked: string[] = [];
  const projects = [...getProjects(tree)].sort(([a], [b]) => a.localeCompare(b));
  for (const [project, { root }] of projects) {
    let spec: SandboxSpec | undefined;
    try {
      spec = readSpec(tree, root);
    } catch (error) {
      blocked.push((error as Error).message);
      continue;
    }
    if (!spec) continue;
    const legacy = planLegacyDockerfile(tree, root);
    if (legacy.action === 'keep') {
      blocked.push(legacy.note);
      continue;
    }
    const before = new Map(watchedPaths(tree, root).map((path) => [path, tree.read(path, 'utf-8')]));
    const wired = wireSharedServices(tree, project, spec.network);
    if (wired.skipped) blocked.push(`${wired.skipped}.`);
    const clients = wired.clients.filter((client) => !spec!.aptPackages.includes(client));
    if (clients.length) spec = { ...spec, aptPackages: [...spec.aptPackages, ...clients] };
    const { edited } = renderSandbox(tree, { project, projectRoot: root }, spec, { keepEdited: true, quiet: true });
    for (const path of new Set([...before.keys(), ...watchedPaths(tree, root)])) {
      if (tree.read(path, 'utf-8') !== (before.get(path) ?? null)) changed.push(path);
    }
    blocked.push(...edited.map((path) => editedNote(path, project)));
  }

  if (changed.length === 0) {
    if (blocked.length === 0) return undefined;
    // Nothing to write, and something only the user can settle: fail, so that sync:check fails too.
    throw new Error(`@org/devsec: ${blocked.join('\n')}`);
  }
  await formatFiles(tree);
  const message = `${changed.length} sandbox file(s) differ from what @org/devsec ${VERSION} renders from their stored spec; nx sync rewrites them.`;
  return {
    outOfSyncMessage: blocked.length === 0 ? message : `${message} Left alone, to settle by hand:\n${blocked.join('\n')}`,
    outOfSyncDetails: [...new Set(changed)].sort(),
  };
}

/** What syncing a sandbox may touch: its folder (the Dockerfile under its old name too), the root .gitignore, the shared services' file. */
function watchedPaths(tree: Tree, root: string): string[] {
  const dir = joinPathFragments(root, DEVCONTAINER_DIR);
  const files = tree.exists(dir) ? tree.children(dir).map((name) => joinPathFragments(dir, name)) : [];
  return [...new Set([...files, joinPathFragments(dir, LEGACY_DOCKERFILE), '.gitignore', SHARED_COMPOSE_FILE])].filter(
    (path) => !tree.exists(path) || tree.isFile(path),
  );
}

function editedNote(path: string, project: string): string {
  return (
    `${path} was edited by hand (its @org/devsec fingerprint no longer matches), so nx sync leaves it alone. ` +
    `To keep your version, delete its "@org/devsec managed file" line: the file is then yours and sync skips it. ` +
    `To take the generated one, delete the file and run nx sync (or nx g @org/devsec:secure-devcontainer --project=${project} --force with its options).`
  );
}

export default syncGenerator;
