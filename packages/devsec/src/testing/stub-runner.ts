import type { CommandResult, Runner } from '../host/engine/run';

/** A runner that answers from a table keyed by the joined arguments' start. */
export function stubRunner(answers: Array<[RegExp, Partial<CommandResult>]>): Runner & { calls: string[] } {
  const calls: string[] = [];
  const runner = ((command: string, args: string[]) => {
    const line = `${command} ${args.join(' ')}`;
    calls.push(line);
    const found = answers.find(([pattern]) => pattern.test(line));
    return { status: 0, stdout: '', stderr: '', ...(found?.[1] ?? {}) };
  }) as Runner & { calls: string[] };
  runner.calls = calls;
  return runner;
}
