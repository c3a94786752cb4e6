/**
 * The policy gate: reads a stack's effective model (`docker compose config --format json`) and
 * refuses a stack that breaks a gate rule, unless that rule is explicitly allowed. One gate for
 * both stacks: `policyGate` for a worktree's sandbox, `sharedGate` for the shared services.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ComposeModel } from '../../rules/compose-rules';
import { interpolate } from '../../rules/interpolate';
import { Finding, GATE_RULES, RuleId } from '../../rules/registry';
import { judgeHostPath, NetworkFacts } from '../../rules/host-paths';
import { checkStack, StackContext } from '../../rules/stack-rules';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { ENGINES } from '../../sandbox/engines';
import type { EngineProfile } from '../engine/engine-discovery';
import { ComposeProject, runCompose } from '../engine/compose-project';
import { preflight } from '../engine/engine';
import { checkNamedMounts } from '../stack/mount-pins';
import { checkCloneMounts } from '../stack/clone-workspace';
import { runCommand, Runner } from '../engine/run';
import { SandboxStack, stackStateDir } from '../stack/sandbox-stack';
import { ensureSharedNetwork } from '../engine/shared-network';
import type { SharedStack } from '../stack/shared-stack';
import { listOption } from '../../sandbox/list';
import type { Say } from '../../sandbox/say';
import { gateNestedGit } from './nested-git';

export { GATE_RULES };

const isGateRule = (rule: string): rule is RuleId => (GATE_RULES as readonly string[]).includes(rule);

/** What the gate knows of this machine, beyond the stack: see StackContext. */
export type HostFacts = Pick<StackContext, 'homeDir' | 'dockerSocket' | 'dockerGid' | 'ignoresNoGateway' | 'stateDir' | 'realPath' | 'readOnlySources'>;

/** A path with its symlinks resolved, as far as it exists (a bind source Docker would create has none further down). */
export function realPath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), basename(path));
  }
}

/** This machine: your home, and the engine's socket and its group as the engine's containers see them (never this filesystem's). */
export function hostFacts(env: NodeJS.ProcessEnv = process.env, engine?: EngineProfile): HostFacts {
  const home = env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir();
  const ignoresNoGateway = engine && !ENGINES[engine.kind].noGateway ? ENGINES[engine.kind].name : undefined;
  return { homeDir: home, dockerSocket: engine?.socket, dockerGid: engine?.stat.gid, ignoresNoGateway, realPath };
}

/** A worktree's sandbox: its workspace, git common dir and `.devcontainer`, plus this machine's facts. */
export function worktreeContext(stack: SandboxStack, facts: HostFacts = hostFacts()): StackContext {
  const { workspaceRoot, gitCommonDir } = stack.identity;
  return {
    ...facts,
    kind: 'worktree',
    composeFile: stack.compose.files[0],
    workspaceRoot,
    gitCommonDir,
    devcontainerDir: stack.devcontainerDir,
    runtime: stack.kernel?.runtime,
  };
}

/** The shared services, started from the worktree at `workspaceRoot`. */
export function sharedContext(stack: SharedStack, workspaceRoot: string, facts: HostFacts = hostFacts()): StackContext {
  return { ...facts, kind: 'shared', composeFile: stack.compose.files[0], workspaceRoot };
}

function composeConfig(compose: ComposeProject, run: Runner): ComposeModel {
  const config = runCompose(compose, ['config', '--format', 'json'], run);
  if (config.status !== 0) {
    // Is the docker CLI there, and Compose v2? Their own messages say what to install.
    preflight(run);
    throw new SandboxError(`docker compose config failed for ${compose.files[0]}:\n${config.stderr.trim()}`);
  }
  return JSON.parse(config.stdout) as ComposeModel;
}

/** A `.env` file as Compose reads it for interpolation: KEY=VALUE lines, quotes stripped. */
function dotenv(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const lines = readFileSync(path, 'utf-8').split('\n');
  const pairs = lines.map((line) => /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line)).filter((match) => match !== null);
  return Object.fromEntries(pairs.map(([, key, value]) => [key, /^(['"])(.*)\1$/.exec(value)?.[2] ?? value]));
}

type WrittenService = { env_file?: unknown; extends?: { file?: string; service?: string } | string };

/**
 * Every service's env files, from the compose files as written: Compose reads them on the host
 * and folds them into `environment`, so its effective model no longer names them (and
 * `config --no-interpolate` fails on our own `${VAR:-default}:…` volumes). Relative paths
 * resolve as Compose resolves them: `-f` files against the project directory, `include` and
 * `extends` files against their own folder.
 */
export function envFilesAsWritten(compose: ComposeProject): Record<string, string[]> {
  const projectDir = dirname(compose.files[0]);
  const variables = { ...dotenv(join(projectDir, '.env')), ...(compose.env ?? process.env) };
  const read = (file: string): { services?: Record<string, WrittenService | null>; include?: unknown } => {
    try {
      return (parse(readFileSync(file, 'utf-8')) as object) ?? {};
    } catch {
      return {}; // Compose itself read it a moment ago: a file gone since has no env files to hide.
    }
  };
  // Compose expands ~ in file paths to your home directory.
  const place = (baseDir: string, path: string) => {
    const text = interpolate(path, variables);
    return /^~(\/|$)/.test(text) ? join(variables.HOME ?? homedir(), text.slice(1)) : resolve(baseDir, text);
  };
  const found: Record<string, string[]> = {};
  const visit = (file: string, baseDir: string, rename: (service: string) => string | undefined, depth: number) => {
    if (depth > 8) return;
    const written = read(file);
    for (const [name, service] of Object.entries(written.services ?? {})) {
      const owner = rename(name);
      if (!owner || !service) continue;
      const entries = [service.env_file ?? []].flat() as Array<string | { path?: string }>;
      for (const entry of entries) {
        const path = typeof entry === 'string' ? entry : entry?.path;
        if (path) (found[owner] ??= []).push(place(baseDir, path));
      }
      const base = typeof service.extends === 'string' ? { service: service.extends } : service.extends;
      if (base?.service) {
        const from = base.file ? resolve(dirname(file), interpolate(base.file, variables)) : file;
        visit(from, base.file ? dirname(from) : baseDir, (other) => (other === base.service ? owner : undefined), depth + 1);
      }
    }
    for (const include of [written.include ?? []].flat() as Array<string | { path?: string | string[] }>) {
      for (const path of [typeof include === 'string' ? include : (include?.path ?? [])].flat()) {
        const included = resolve(dirname(file), interpolate(path, variables));
        visit(included, dirname(included), (service) => service, depth + 1);
      }
    }
  };
  for (const file of compose.files) visit(file, projectDir, (service) => service, 0);
  return found;
}

/** The effective model of any stack, with each service's env files put back, checked. */
export function gateStack(
  compose: ComposeProject,
  context: StackContext,
  unsafeAllow: string[],
  run: Runner = runCommand,
  networkFacts?: (name: string) => NetworkFacts,
): { model: ComposeModel; allowed: Finding[] } {
  const unknown = unsafeAllow.filter((rule) => !isGateRule(rule));
  if (unknown.length > 0) {
    throw new SandboxError(`--unsafe-allow=${unknown.join(',')}: unknown rule. Rules: ${GATE_RULES.join(', ')}.`);
  }
  const model = composeConfig(compose, run);
  const envFiles = envFilesAsWritten(compose);
  const services = Object.fromEntries(
    Object.entries(model.services ?? {}).map(([name, service]) => [name, envFiles[name] && service ? { ...service, env_file: envFiles[name] } : service]),
  );
  // External networks (the shared one) as the engine has them: created, or made internal, here if they are ours.
  const external = Object.entries(model.networks ?? {}).filter(([, network]) => network?.external);
  const externalNetworks = networkFacts
    ? Object.fromEntries(external.map(([key, network]) => [network?.name ?? key, networkFacts(network?.name ?? key)]))
    : undefined;
  const findings = checkStack({ ...model, services }, { ...context, externalNetworks })
    .filter((finding) => isGateRule(finding.rule))
    .map(({ at: _at, ...finding }) => finding);
  const blocking = findings.filter((finding) => !unsafeAllow.includes(finding.rule));
  if (blocking.length > 0) {
    const lines = blocking.map((f) => `  - ${f.file}: ${f.key} (${f.rule}): ${f.message} Fix: ${f.fix}`);
    throw new SandboxError(
      `Refusing to start: the sandbox would not hold.\n${lines.join('\n')}\n` + 'To start anyway, allow one rule explicitly: --unsafe-allow=<rule>.',
    );
  }
  return { model, allowed: findings };
}

/** The gate of a worktree's sandbox (up-worktree): its own state folder (the private git dir) is among what it may mount. */
export function policyGate(
  stack: SandboxStack,
  unsafeAllow: string[],
  run: Runner = runCommand,
  facts: HostFacts = {
    ...hostFacts(process.env, stack.engine),
    stateDir: stackStateDir(stack),
    readOnlySources: stack.packageManager?.mounts.map((mount) => mount.source),
  },
  say: (line: string) => void = console.log,
) {
  const gated = gateStack(stack.compose, worktreeContext(stack, facts), unsafeAllow, run, (name) => ensureSharedNetwork(name, run, say));
  // Not a rule to allow: mounts that differ from what we wrote are never what anyone asked for.
  checkNamedMounts(gated.model, [...(stack.mounts ?? []), ...(stack.packageManager?.mounts ?? [])]);
  // --workspace=clone: nothing of the checkout or its git dirs, in any service.
  if (stack.workspace === 'clone') checkCloneMounts(gated.model, stack.identity, facts.realPath ?? realPath);
  return gated;
}

/**
 * Clone mode: the package stores the container that seeds the clone mounts (PackageManagerPlan.seedMounts)
 * are in no compose model, so the rules on the model never see them, and the seed copies them into
 * the volume the agent reads. They are judged here by the same host-path rules (a runtime socket, a
 * system or home directory, SSH, credentials), at every start, whatever the gate's cache says.
 */
export function gateSeedMounts(stack: SandboxStack, unsafeAllow: string[], say: Say, facts: HostFacts = hostFacts(process.env, stack.engine)): void {
  // No workspace root: only what is never allowed is judged (the stores lie outside the workspace by design).
  const context: StackContext = { ...facts, kind: 'worktree', composeFile: stack.compose.files[0] };
  const verdicts = (stack.packageManager?.seedMounts ?? []).flatMap((mount) => {
    const verdict = judgeHostPath({ written: mount.source, path: mount.source }, 'bind', context);
    return verdict ? [{ source: mount.source, ...verdict }] : [];
  });
  for (const verdict of verdicts.filter((verdict) => unsafeAllow.includes(verdict.rule)))
    say.warn(`UNSAFE: ${verdict.rule} allowed by --unsafe-allow: the clone's seed mounts ${visible(verdict.source)} (${verdict.why})`);
  const blocking = verdicts.filter((verdict) => !unsafeAllow.includes(verdict.rule));
  if (blocking.length === 0) return;
  throw new SandboxError(
    `Refusing to start: the container that seeds the clone would mount, and copy into the sandbox's node_modules volume:\n${blocking
      .map((verdict) => `  - ${visible(verdict.source)} (${verdict.rule}): ${verdict.why}`)
      .join('\n')}\n` +
      'These come from YARN_CACHE_FOLDER, YARN_GLOBAL_FOLDER or node_modules/.modules.yaml on this machine: point them at the package cache itself. ' +
      'To start anyway, allow one rule explicitly: --unsafe-allow=<rule>.',
  );
}

/** The gate of the shared services (up-shared), started from the worktree at `workspaceRoot`. */
export function sharedGate(stack: SharedStack, workspaceRoot: string, unsafeAllow: string[], run: Runner = runCommand, facts: HostFacts = hostFacts()) {
  return gateStack(stack.compose, sharedContext(stack, workspaceRoot, facts), unsafeAllow, run);
}

/** `--unsafe-allow=a,b`: the rules allowed by name, read as every list option is. */
export const ruleList = (value: unknown): string[] => listOption(value);

/**
 * The gate, whole — what `up`, `up-shared` and `devsec prepare` call before anything starts. A
 * worktree's stack: its nested `.git`s and gitlinks, then (unless `model` is false: everything
 * the rules would read is what passed last time) the rules on its effective model and the dev
 * container's mounts as named. The shared services: the rules on their own model. Each finding
 * allowed by name is said, loudly.
 */
export function gate(
  stack: SandboxStack | SharedStack,
  allow: unknown,
  say: Say,
  options: { workspaceRoot?: string; model?: boolean } = {},
): { model?: ComposeModel; allowed: Finding[] } {
  const unsafeAllow = ruleList(allow);
  if ('identity' in stack) gateNestedGit(stack, unsafeAllow, say);
  if ('identity' in stack && stack.workspace === 'clone') gateSeedMounts(stack, unsafeAllow, say);
  if (options.model === false) return { allowed: [] };
  const gated =
    'identity' in stack
      ? policyGate(stack, unsafeAllow, runCommand, undefined, say.info)
      : sharedGate(stack, options.workspaceRoot ?? process.cwd(), unsafeAllow);
  for (const finding of gated.allowed) say.warn(`UNSAFE: ${finding.rule} allowed by --unsafe-allow: ${finding.message}`);
  return gated;
}
