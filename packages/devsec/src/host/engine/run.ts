import { spawn, spawnSync, SpawnSyncOptions } from 'node:child_process';
import { visible } from '../../sandbox/visible';

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Set when the program could not be started at all (e.g. ENOENT). */
  error?: NodeJS.ErrnoException;
}

/** Runs a program with an argument array (never a shell) and collects its output. */
export type Runner = (command: string, args: string[], options?: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv }) => CommandResult;

export const runCommand: Runner = (command, args, options = {}) => {
  // The environment is passed explicitly: what this process sees is what the child gets.
  const spawnOptions: SpawnSyncOptions = {
    cwd: options.cwd,
    input: options.input,
    env: options.env ?? process.env,
    encoding: 'utf-8',
    maxBuffer: 64 * 1024 * 1024,
  };
  const result = spawnSync(command, args, spawnOptions);
  return {
    status: result.status,
    stdout: String(result.stdout ?? ''),
    stderr: String(result.stderr ?? ''),
    error: result.error as NodeJS.ErrnoException | undefined,
  };
};

export interface StreamResult {
  code: number;
  /** Every line the program printed (both streams), for diagnosing a failure. */
  lines: string[];
}

/**
 * Runs a program with an argument array, streaming each output line with a prefix.
 * Ctrl-C reaches the child (same process group); the promise settles when it exits.
 */
export function streamCommand(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; prefix: string; write?: (line: string) => void },
): Promise<StreamResult> {
  const lines: string[] = [];
  const print = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const write = (line: string) => {
    lines.push(line.slice(options.prefix.length));
    // Compose prints service names, build steps and container output: data, never terminal control.
    print(visible(line, { keepTabs: true }));
  };
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const forward = (stream: NodeJS.ReadableStream) => {
      let pending = '';
      stream.setEncoding('utf-8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split(/\r?\n/);
        pending = lines.pop() ?? '';
        for (const line of lines) write(`${options.prefix}${line}`);
      });
      stream.on('end', () => pending && write(`${options.prefix}${pending}`));
    };
    forward(child.stdout);
    forward(child.stderr);
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 130 : 1), lines }));
  });
}
