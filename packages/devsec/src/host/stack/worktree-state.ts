/**
 * What up-worktree remembers between two runs in the same worktree, so that a re-run with
 * nothing changed costs little more than `docker compose up -d`:
 * - the hash of everything the policy gate read (compose files, .env, the variables they use),
 *   so that an unchanged stack skips `docker compose config` — the same inputs give the same
 *   model, hence the same verdict;
 * - the hash of every build context, so that `--build` runs only when an image's inputs changed;
 * - the dev container whose mounts were read back as named (its id and when it started), so that
 *   the same running container is not read again: what the engine mounted is fixed at its start;
 * - the stack's containers when last found up, so that a re-run with nothing changed reads their
 *   state and the dev container's start with one `docker inspect`;
 * - the dev container whose node_modules fill ran, and how it ended, so that a re-run never
 *   repeats a fill (nor its failure) for the same container: `--refill-node-modules` asks again.
 * It lives on one line of docker-compose.worktree.yml: per machine, git-ignored, rewritten on
 * every start, and read-only from inside the dev container like every sandbox file.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ComposeModel } from '../../sandbox/compose-model';
import { ENV_FILE, WORKTREE_COMPOSE_FILE } from '../../sandbox/vocabulary';

export const STATE_KEY = 'x-devsec-state';

export interface BuildSpec {
  service: string;
  context: string;
  dockerfile?: string;
  args?: unknown;
}

export interface WorktreeState {
  /** Hash of the gate's inputs when it last passed without --unsafe-allow. */
  gateInputs?: string;
  /** The shared network of that model. */
  network?: string;
  builds?: BuildSpec[];
  /** Hash of the build contexts when the images were last built. */
  buildInputs?: string;
  /** The dev container whose mounts were last read back and found as named (mount-pins.ts). */
  verified?: VerifiedStart;
  /** The dev container whose node_modules fill last ran, and whether it succeeded. */
  fill?: FillRecord;
  /** --workspace=clone: the dev container whose workspace volume was last filled (or found filled) by the clone (clone-workspace.ts). */
  seed?: FillRecord;
  /** The stack's containers (full ids) when it was last found up: a re-run with nothing changed looks at them with one `docker inspect`. */
  containers?: string[];
}

/** One start of one container (`docker inspect`: .Id, .State.StartedAt), and the hash of the mounts it was checked against. */
export interface VerifiedStart {
  container: string;
  startedAt: string;
  mounts: string;
}

export interface FillRecord {
  /** The container's full id: a recreated container (a fresh volume, or a new one attached) is filled again. */
  container: string;
  ok: boolean;
}

const STATE_LINE = new RegExp(`^${STATE_KEY}:.*$`, 'm');

export function readState(overrideText: string | undefined): WorktreeState {
  const line = overrideText === undefined ? undefined : STATE_LINE.exec(overrideText)?.[0];
  if (!line) return {};
  try {
    return JSON.parse(line.slice(STATE_KEY.length + 1)) as WorktreeState;
  } catch {
    return {};
  }
}

export function withoutState(text: string): string {
  return text.replace(STATE_LINE, '').replace(/\n+$/, '\n');
}

/** The override file's text with the state on its last line (JSON is YAML; Compose ignores x- keys). */
export function withState(text: string, state: WorktreeState): string {
  if (Object.keys(state).length === 0) return withoutState(text);
  return `${withoutState(text)}${STATE_KEY}: ${JSON.stringify(state)}\n`;
}

const sha = () => createHash('sha256');

/**
 * The policy gate's inputs, or undefined when they cannot be known without Compose (a file
 * pulls in another through `extends`, `include` or `env_file`): then the gate always runs.
 */
export function gateInputsHash(composeFiles: string[], envFile: string, env: NodeJS.ProcessEnv, gateVersion: string): string | undefined {
  // The gate's own version too: a plugin upgrade may judge the same files differently.
  const hash = sha().update(`gate ${gateVersion}\n`);
  const texts = composeFiles.map((file) => withoutState(readFileSync(file, 'utf-8')));
  if (texts.some((text) => /^\s*(extends|include|env_file)\s*:/m.test(text))) return undefined;
  composeFiles.forEach((file, index) => hash.update(`${file}\n${texts[index]}\n`));
  hash.update(existsSync(envFile) ? readFileSync(envFile, 'utf-8') : '');
  // Interpolation reads the environment: every variable named in the files, and Compose's own.
  const names = new Set(texts.flatMap((text) => [...text.matchAll(/\$\{?([A-Za-z_][A-Za-z0-9_]*)/g)].map((match) => match[1])));
  for (const name of Object.keys(env)) if (/^(COMPOSE_|DOCKER_)/.test(name)) names.add(name);
  for (const name of [...names].sort()) hash.update(`${name}=${env[name] ?? ''}\n`);
  return hash.digest('hex');
}

export function buildSpecs(model: ComposeModel): BuildSpec[] {
  return Object.entries(model.services ?? {})
    .map(([service, definition]) => [service, definition?.build] as const)
    .filter(([, build]) => build && typeof build === 'object' && typeof (build as { context?: unknown }).context === 'string')
    .map(([service, build]) => {
      const { context, dockerfile, args } = build as { context: string; dockerfile?: string; args?: unknown };
      return { service, context, dockerfile, args };
    })
    .sort((a, b) => a.service.localeCompare(b.service));
}

/** Per-machine files that sit in a build context but are not read by any build of ours. */
const NOT_BUILD_INPUTS = new Set([ENV_FILE, WORKTREE_COMPOSE_FILE, 'node_modules', '.git']);

/** Every file of every build context (path and content), with the build's own settings. */
export function buildInputsHash(specs: BuildSpec[]): string {
  const hash = sha().update(JSON.stringify(specs));
  const visit = (root: string, dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(join(root, dir), { withFileTypes: true });
    } catch {
      hash.update(`missing ${root}/${dir}\n`);
      return;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (NOT_BUILD_INPUTS.has(entry.name) || depth > 8) continue;
      const relative = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) visit(root, relative, depth + 1);
      else if (entry.isFile())
        hash
          .update(`${relative}\n`)
          .update(readFileSync(join(root, relative)))
          .update('\n');
    }
  };
  for (const spec of specs) visit(spec.context, '', 0);
  return hash.digest('hex');
}
