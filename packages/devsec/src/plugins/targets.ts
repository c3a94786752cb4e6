/** The targets the plugin infers, from its normalised options. */
import type { TargetConfiguration } from '@nx/devkit';
import { DEVCONTAINER_DIR, PLUGIN_PACKAGE, SHARED_COMPOSE_FILE, TARGET_GROUP, TARGETS } from '../sandbox/vocabulary';

export interface DevsecPluginOptions {
  upTargetName?: string;
  downTargetName?: string;
  fetchTargetName?: string;
  resetDataTargetName?: string;
  auditTargetName?: string;
  auditLiveTargetName?: string;
  upSharedTargetName?: string;
  downSharedTargetName?: string;
  /** The group our targets are listed under (`nx show project`, Nx Console). */
  targetGroup?: string;
}

export type NormalizedOptions = Required<DevsecPluginOptions>;

/** Every option filled in, in a fixed order: what the cache is keyed by. */
export function normalizeOptions(options: DevsecPluginOptions | undefined): NormalizedOptions {
  const name = (value: string | undefined, fallback: string) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : fallback);
  return {
    upTargetName: name(options?.upTargetName, TARGETS.up),
    downTargetName: name(options?.downTargetName, TARGETS.down),
    fetchTargetName: name(options?.fetchTargetName, TARGETS.fetch),
    resetDataTargetName: name(options?.resetDataTargetName, TARGETS.resetData),
    auditTargetName: name(options?.auditTargetName, TARGETS.audit),
    auditLiveTargetName: name(options?.auditLiveTargetName, TARGETS.auditLive),
    upSharedTargetName: name(options?.upSharedTargetName, TARGETS.upShared),
    downSharedTargetName: name(options?.downSharedTargetName, TARGETS.downShared),
    targetGroup: name(options?.targetGroup, TARGET_GROUP),
  };
}

const PLUGIN_VERSION: string = require('../../package.json').version;
const docker = (description: string) => ({ description, technologies: ['docker'] });

/** A sandbox's targets. Only the static audit is cached: the others start, stop or look at containers. */
export function sandboxTargets(composeFile: string, options: NormalizedOptions, infraProject: string | undefined): Record<string, TargetConfiguration> {
  const executor = (name: string) => `${PLUGIN_PACKAGE}:${name}`;
  return {
    [options.upTargetName]: {
      executor: executor(TARGETS.up),
      options: { composeFile },
      cache: false,
      // The shared services come first, whichever worktree starts; only from a trusted shared file.
      ...(infraProject ? { dependsOn: [{ projects: [infraProject], target: options.upSharedTargetName }] } : {}),
      metadata: docker('Start this git worktree’s sandbox: dev container and its read-only Docker proxy.'),
    },
    [options.downTargetName]: {
      executor: executor(TARGETS.down),
      options: { composeFile },
      cache: false,
      metadata: docker('Stop and remove this git worktree’s sandbox (volumes and built images kept unless --volumes, --images).'),
    },
    [options.fetchTargetName]: {
      executor: executor(TARGETS.fetch),
      options: { composeFile },
      cache: false,
      metadata: docker(
        'Bring the sandbox’s branches into the repository under refs/remotes/devsec/<project>/, verified by git; no local branch, index or file moves.',
      ),
    },
    [options.resetDataTargetName]: {
      executor: executor(TARGETS.resetData),
      options: { composeFile },
      cache: false,
      metadata: docker('Make this worktree’s database in the shared services again from the shared one, and remove its Redis keys.'),
    },
    [options.auditTargetName]: {
      executor: executor(TARGETS.audit),
      options: { composeFile },
      cache: true,
      // What the static audit reads, and the rules it applies (they come with the plugin's version).
      inputs: [`{projectRoot}/${DEVCONTAINER_DIR}/*`, `{workspaceRoot}/${SHARED_COMPOSE_FILE}`, { runtime: `echo ${PLUGIN_PACKAGE}@${PLUGIN_VERSION}` }],
      outputs: ['{options.outputFile}'],
      metadata: docker(
        `Review this sandbox’s files the way a security reviewer would (no engine needed; cached). To look inside the running stack: nx run <project>:${options.auditLiveTargetName}`,
      ),
    },
    [options.auditLiveTargetName]: {
      executor: executor(TARGETS.audit),
      options: { composeFile, live: true },
      cache: false,
      metadata: docker('The audit, plus a probe of the running stack from inside its dev container (never cached: containers change, files do not say).'),
    },
  };
}

export function sharedTargets(options: NormalizedOptions): Record<string, TargetConfiguration> {
  return {
    [options.upSharedTargetName]: {
      executor: `${PLUGIN_PACKAGE}:${TARGETS.upShared}`,
      options: { composeFile: SHARED_COMPOSE_FILE },
      cache: false,
      metadata: docker('Create the shared network and start the shared services, once for every worktree.'),
    },
    [options.downSharedTargetName]: {
      executor: `${PLUGIN_PACKAGE}:${TARGETS.downShared}`,
      options: { composeFile: SHARED_COMPOSE_FILE },
      cache: false,
      metadata: docker('Stop the shared services (volumes kept unless --volumes).'),
    },
  };
}
