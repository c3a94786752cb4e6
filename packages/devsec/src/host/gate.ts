/**
 * The policy gate: reads the effective model (`docker compose config --format json`) and
 * refuses a stack that breaks a gate rule, unless that rule is explicitly allowed.
 */
import { checkSandbox, ComposeModel } from '../rules/compose-rules';
import { Finding, GATE_RULES, RuleId } from '../rules/registry';
import { SandboxError } from '../sandbox/errors';
import { runCompose } from './compose-project';
import { preflight } from './engine';
import { runCommand, Runner } from './run';
import type { SandboxStack } from './sandbox-stack';
import type { SharedStack } from './shared-stack';

export { GATE_RULES };

const isGateRule = (rule: string): rule is RuleId => (GATE_RULES as readonly string[]).includes(rule);

export function policyGate(stack: SandboxStack, unsafeAllow: string[], run: Runner = runCommand): { model: ComposeModel; allowed: Finding[] } {
  const unknown = unsafeAllow.filter((rule) => !isGateRule(rule));
  if (unknown.length > 0) {
    throw new SandboxError(`--unsafe-allow=${unknown.join(',')}: unknown rule. Rules: ${GATE_RULES.join(', ')}.`);
  }
  const config = runCompose(stack.compose, ['config', '--format', 'json'], run);
  if (config.status !== 0) {
    // Is the docker CLI there, and Compose v2? Their own messages say what to install.
    preflight(run);
    throw new SandboxError(`docker compose config failed for ${stack.compose.files[0]}:\n${config.stderr.trim()}`);
  }
  const model = JSON.parse(config.stdout) as ComposeModel;
  const findings = checkSandbox({ composeFile: stack.compose.files[0], compose: model }).filter((finding) => isGateRule(finding.rule));
  const blocking = findings.filter((finding) => !unsafeAllow.includes(finding.rule));
  if (blocking.length > 0) {
    const lines = blocking.map((f) => `  - ${f.file}: ${f.key} (${f.rule}): ${f.message} Fix: ${f.fix}`);
    throw new SandboxError(
      `Refusing to start: the sandbox would not hold.\n${lines.join('\n')}\n` + 'To start anyway, allow one rule explicitly: --unsafe-allow=<rule>.',
    );
  }
  return { model, allowed: findings };
}

/**
 * The same gate for the shared services: `docker compose config` of the shared file, every gate
 * rule, no override. No service there may see the Docker socket (the proxy lives in each
 * worktree's stack, never here).
 */
export function gateSharedStack(stack: SharedStack, run: Runner = runCommand): ComposeModel {
  const config = runCompose(stack.compose, ['config', '--format', 'json'], run);
  if (config.status !== 0) {
    preflight(run);
    throw new SandboxError(`docker compose config failed for ${stack.compose.files[0]}:\n${config.stderr.trim()}`);
  }
  const model = JSON.parse(config.stdout) as ComposeModel;
  const blocking = checkSandbox({ composeFile: stack.compose.files[0], compose: model, proxyService: '' }).filter((finding) => isGateRule(finding.rule));
  if (blocking.length > 0) {
    const lines = blocking.map((f) => `  - ${f.file}: ${f.key} (${f.rule}): ${f.message} Fix: ${f.fix}`);
    throw new SandboxError(`Refusing to start the shared services: they would not hold.\n${lines.join('\n')}`);
  }
  return model;
}
