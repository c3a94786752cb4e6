/**
 * Inferred targets: every project whose `.devcontainer/docker-compose.yml` is ours gets
 * up-worktree, down-worktree, audit and audit-live; a stamped, unedited docker-compose.shared.yml
 * makes the shared infrastructure a project with up-shared and down-shared.
 *
 * This module loads on every graph computation: at load it takes only Node's own modules and
 * the vocabulary; @nx/devkit, the YAML parser and the trust check load when a file is read,
 * and the cache (plugins/cache.ts) spares even that while files are unchanged.
 */
import type { CreateNodes, CreateNodesContext, CreateNodesResult } from '@nx/devkit';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import type { SharedFileTrust } from '../sandbox/shared-trust';
import { COMPOSE_FILE, DEVCONTAINER_DIR, MANAGED_LABEL, SHARED_COMPOSE_FILE } from '../sandbox/vocabulary';
import { hashOf, InferenceCache, workspaceDataDirectory } from './cache';
import { DevsecPluginOptions, normalizeOptions, NormalizedOptions, sandboxTargets, sharedTargets } from './targets';

export type { DevsecPluginOptions } from './targets';

const PLUGIN_VERSION: string = require('../../package.json').version;

type Cached = { kind: 'sandbox'; ours: boolean } | { kind: 'shared'; trust: SharedFileTrust };

export const createNodes: CreateNodes<DevsecPluginOptions> = [
  `{**/${DEVCONTAINER_DIR}/${COMPOSE_FILE},${SHARED_COMPOSE_FILE}}`,
  async (files, rawOptions, context) => {
    const options = normalizeOptions(rawOptions);
    const cache = new InferenceCache<Cached>(join(workspaceDataDirectory(context.workspaceRoot), `devsec-${hashOf(PLUGIN_VERSION, options)}.hash`));
    try {
      const trust = await sharedTrust(context, cache);
      const infraProject = trust.trusted ? trust.infraProject : undefined;
      const { createNodesFromFiles } = await import('@nx/devkit');
      // One bad file is named in an error of its own; every other file still gives its nodes.
      const results = await createNodesFromFiles(
        (file, _options, ctx) => (file === SHARED_COMPOSE_FILE ? sharedNodes(trust, options) : sandboxNodes(file, options, ctx, cache, infraProject)),
        files,
        options,
        context,
      );
      return results.filter(([, result]) => result.projects !== undefined);
    } finally {
      cache.save();
    }
  },
];

/**
 * The name Nx 21 reads (only this one); Nx 22 reads createNodesV2 before createNodes, Nx 23 and 24
 * createNodes before createNodesV2: one function with the v2 signature under both names serves 21 to 24.
 */
export const createNodesV2 = createNodes;

/** Read once per graph computation: every up-worktree depends on up-shared only if the file is trusted. */
async function sharedTrust(context: CreateNodesContext, cache: InferenceCache<Cached>): Promise<SharedFileTrust> {
  const path = join(context.workspaceRoot, SHARED_COMPOSE_FILE);
  const content = existsSync(path) ? readFileSync(path, 'utf-8') : null;
  const key = hashOf(SHARED_COMPOSE_FILE, content);
  const hit = cache.get(key);
  if (hit?.kind === 'shared') return hit.trust;
  const { sharedFileTrust } = await import('../sandbox/shared-trust');
  const trust = sharedFileTrust(content);
  cache.set(key, { kind: 'shared', trust });
  return trust;
}

function sharedNodes(trust: SharedFileTrust, options: NormalizedOptions): CreateNodesResult {
  if (!trust.trusted) return {};
  return {
    projects: {
      '.': {
        name: trust.infraProject,
        targets: sharedTargets(options),
        metadata: { targetGroups: { [options.targetGroup]: Object.keys(sharedTargets(options)) } },
      },
    },
  };
}

async function sandboxNodes(
  file: string,
  options: NormalizedOptions,
  context: CreateNodesContext,
  cache: InferenceCache<Cached>,
  infraProject: string | undefined,
): Promise<CreateNodesResult> {
  const projectRoot = dirname(dirname(file));
  // Attach to an existing project only: a stray .devcontainer makes no project of its own.
  if (!['project.json', 'package.json'].some((name) => existsSync(join(context.workspaceRoot, projectRoot, name)))) return {};
  const content = readFileSync(join(context.workspaceRoot, file), 'utf-8');
  const key = hashOf(file, content);
  const hit = cache.get(key);
  let ours = hit?.kind === 'sandbox' ? hit.ours : undefined;
  if (ours === undefined) {
    ours = await isOurs(file, content, projectRoot);
    cache.set(key, { kind: 'sandbox', ours });
  }
  if (!ours) return {};
  const targets = sandboxTargets(posix.join(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE), options, infraProject);
  return { projects: { [projectRoot]: { targets, metadata: { targetGroups: { [options.targetGroup]: Object.keys(targets) } } } } };
}

/** Ours: a service carries our label. A file that names our label or x-devsec but does not parse is an error naming it. */
async function isOurs(file: string, content: string, projectRoot: string): Promise<boolean> {
  const claims = content.includes(MANAGED_LABEL) || content.includes('x-devsec');
  if (!claims) return false;
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(content);
  if (doc.errors.length > 0) {
    throw new Error(
      `${file} is not valid YAML (${doc.errors[0].message.split('\n')[0]}), so @org/devsec cannot tell which targets it gives. ` +
        `Fix it, or write it again: nx g @org/devsec:secure-devcontainer --project=<the project at ${projectRoot}> --force`,
    );
  }
  const services = (doc.toJSON() as { services?: Record<string, { labels?: unknown } | null> } | null)?.services ?? {};
  return Object.values(services).some((service) => {
    const labels = service?.labels;
    if (Array.isArray(labels)) return labels.some((label) => String(label).split('=')[0] === MANAGED_LABEL);
    return labels !== null && typeof labels === 'object' && MANAGED_LABEL in labels;
  });
}
