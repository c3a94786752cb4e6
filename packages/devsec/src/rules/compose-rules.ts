/**
 * Rules of our own for what the Compose and Dev Container schemas do not catch. Pure
 * functions over parsed files; the generator's tests, the policy gate and `audit` share them.
 * The stack rules live in stack-rules.ts (`checkStack`); this adds devcontainer.json's.
 */
import type { ComposeModel } from '../sandbox/compose-model';
import { finding, Finding } from './registry';
import { checkStack, StackContext } from './stack-rules';

export type { Finding } from './registry';
export type { ComposeModel, ComposeService } from '../sandbox/compose-model';
export { checkStack } from './stack-rules';
export type { StackContext, StackKind } from './stack-rules';

export interface SandboxFiles {
  composeFile: string;
  /** The compose model: parsed YAML, or `docker compose config --format json`. */
  compose: ComposeModel;
  devcontainerFile?: string;
  devcontainer?: Record<string, unknown>;
  /** What the host knows about the stack; without a workspace root, only paths never allowed are judged. */
  context?: Omit<StackContext, 'kind' | 'composeFile'>;
}

/** A worktree's sandbox: its stack rules, and devcontainer.json's. */
export function checkSandbox(files: SandboxFiles): Finding[] {
  const findings = checkStack(files.compose, { ...files.context, kind: 'worktree', composeFile: files.composeFile });
  const devcontainerFile = files.devcontainerFile;
  if (files.devcontainer && devcontainerFile && files.devcontainer.dockerComposeFile !== undefined) {
    for (const field of ['runArgs', 'appPort', 'workspaceMount'] as const) {
      if (files.devcontainer[field] !== undefined) {
        findings.push(
          finding('devcontainer-ignored-with-compose', {
            file: devcontainerFile,
            key: field,
            message: `${field} is ignored when dockerComposeFile is set: it looks like a control but does nothing.`,
            fix: `Remove ${field} and set the equivalent in ${files.composeFile}.`,
          }),
        );
      }
    }
    if (files.devcontainer.privileged === true) {
      findings.push(
        finding('privileged', {
          file: devcontainerFile,
          key: 'privileged',
          message: 'devcontainer.json asks for a privileged container.',
          fix: 'Remove "privileged": true.',
        }),
      );
    }
  }
  return findings;
}
