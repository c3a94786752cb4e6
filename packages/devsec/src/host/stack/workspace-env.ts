/**
 * The environment our executors hand Compose. Nx loads the workspace's `.env` files into the
 * executor's process before it runs — files the agent can write — and the shell environment
 * beats Compose's own `.env`: a `DEVSEC_WORKSPACE=/` line there would mount the host's root
 * into the next sandbox, `DOCKER_CONFIG` would swap the Compose binary, `NODE_OPTIONS` runs code.
 * So: a workspace `.env*` file that Nx loads for our targets may not set any of those (the
 * executor refuses, naming the file and line), and Compose gets our `DEVSEC_*` values from the
 * `.env` we write, never from the process environment.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'dotenv';
import { expand } from 'dotenv-expand';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

/**
 * Variables that steer Compose, the docker CLI (and so which engine, socket and config it uses),
 * our stack, Node, git (GIT_CONFIG_* runs an fsmonitor), the dynamic loader of every program we
 * start, where our state and your runtime directory are (XDG_*), or what the package-manager plan
 * reads and runs (package-manager-plan.ts): the registry `npm pack` fetches the shared release from
 * (npm_config_*), the Yarn caches mounted into the sandbox (YARN_*), tar's options (TAR_OPTIONS runs
 * a command per checkpoint). Nx sets only what the shell left unset, and XDG_STATE_HOME usually is.
 */
export const STEERING_VARIABLE =
  /^(DEVSEC_|DOCKER_|COMPOSE_|BUILDX_|GIT_|XDG_|LD_|DYLD_|NPM_CONFIG_|YARN_)|^(NODE_OPTIONS|HOME|PATH|BUILDKIT_HOST|TAR_OPTIONS)$|^(HTTPS?_PROXY|NO_PROXY)$/i;

/** The dotenv files Nx 23 loads for a target of a project, as it names them (tasks-runner/task-env-paths). */
export function nxDotEnvFiles(projectRoot: string, target: string, configuration?: string): string[] {
  const identifiers = [...(configuration ? [`${target}.${configuration}`, configuration] : []), target, ''];
  const variants = (identifier: string, root: string) => {
    const path = root === '' || root === '.' ? '' : `${root}/`;
    return identifier
      ? [`${path}.env.${identifier}.local`, `${path}.env.${identifier}`, `${path}.${identifier}.local.env`, `${path}.${identifier}.env`]
      : [`${path}.env.local`, `${path}.local.env`, `${path}.env`];
  };
  const files = [...identifiers.flatMap((id) => variants(id, projectRoot)), ...identifiers.flatMap((id) => variants(id, ''))];
  return [...new Set(files)];
}

/**
 * The keys a dotenv file sets, as Nx reads it: dotenv's own parser (the version Nx 23 loads
 * `.env` files with), then dotenv-expand as Nx runs it (into a scratch environment, never ours).
 */
export function dotEnvKeys(text: string): string[] {
  const parsed = parse(text);
  expand({ parsed, processEnv: {} });
  return Object.keys(parsed);
}

/**
 * The line (1-based) where `key`'s text last starts a line, for the message: dotenv keeps the last
 * assignment. Only a pointer for the reader; which keys are set is dotenv's answer, not this.
 */
function lineOfKey(text: string, key: string): number | undefined {
  // JavaScript's multi-line `^` (which dotenv's expression uses) starts a line after any of these.
  const lines = text.split(/\r\n|[\r\n\u2028\u2029]/);
  for (let index = lines.length - 1; index >= 0; index--) {
    const start = lines[index].trimStart().replace(/^export\s+/, '');
    if (start.startsWith(key) && !/^[\w.-]/.test(start.slice(key.length))) return index + 1;
  }
  return undefined;
}

/** Refuses when a dotenv file Nx loads for this target sets a steering variable. */
export function checkWorkspaceEnvFiles(workspaceRoot: string, projectRoot: string, target: string, configuration?: string): void {
  const problems: string[] = [];
  for (const file of nxDotEnvFiles(projectRoot, target, configuration)) {
    let text: string;
    try {
      text = readFileSync(join(workspaceRoot, file), 'utf-8');
    } catch {
      continue;
    }
    for (const key of dotEnvKeys(text).filter((name) => STEERING_VARIABLE.test(name))) {
      const line = lineOfKey(text, key);
      problems.push(`  - ${file}${line === undefined ? '' : `:${line}`} sets ${visible(key)}`);
    }
  }
  if (problems.length > 0) {
    throw new SandboxError(
      `Refusing to start: a .env file that Nx loads into this task sets what steers the sandbox (DEVSEC_*, DOCKER_*, COMPOSE_*, BUILDX_*, GIT_*, XDG_*, LD_*, DYLD_*, npm_config_*, YARN_*, NODE_OPTIONS, HOME, PATH, BUILDKIT_HOST, TAR_OPTIONS, HTTP(S)_PROXY and NO_PROXY: the egress proxy's way out):\n` +
        `${problems.join('\n')}\n` +
        'Nx puts these into the process before our executor runs, and they would beat the values @org/devsec computes. ' +
        'Remove those lines (set DOCKER_HOST, a registry and the like in your shell instead), then run again. ' +
        'The agent can write .env files: if you did not add them, review what changed (`npx devsec check`).',
    );
  }
}

/** The process environment without what only @org/devsec may decide: Compose reads our `.env` for those. */
export function composeEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(base).filter(([name]) => !/^(DEVSEC_|COMPOSE_)/.test(name) && name !== 'NODE_OPTIONS'));
}
