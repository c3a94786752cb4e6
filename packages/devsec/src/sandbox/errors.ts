/**
 * Errors meant for the user: each names the option or file at fault and says how to fix it.
 * Executors print their message and fail; anything else is a bug and keeps its stack.
 */
export class DevsecError extends Error {
  override name = 'DevsecError';
}

/** A generator's input or the tree it would change is wrong; the tree is left unchanged. */
export class GeneratorError extends DevsecError {
  override name = 'GeneratorError';
}

/** The sandbox cannot start, stop or be audited as asked. */
export class SandboxError extends DevsecError {
  override name = 'SandboxError';
}

/** git cannot tell which worktree this is. */
export class WorktreeError extends DevsecError {
  override name = 'WorktreeError';
}
