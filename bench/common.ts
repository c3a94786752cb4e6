/** What every benchmark module shares: the run's identity, the docker CLI, and the table's rows. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..');
export const RUN = Math.random().toString(36).slice(2, 8);
export const SCOPE = `org.devsec.scope=bench-${RUN}`;
/** The table: one row per figure, in the order measured. */
export const rows: string[][] = [];

export const docker = (args: string[], env: Record<string, string> = {}) =>
  spawnSync('docker', args, { encoding: 'utf-8', env: { ...process.env, ...env }, maxBuffer: 256 * 1024 * 1024 });
export const dockerOk = (args: string[]) => {
  const r = docker(args);
  if (r.status !== 0) throw new Error(`docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

/** Runs `fn` with this process's stdout silenced: the executors' own output is not what is measured. */
export async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const write = process.stdout.write;
  process.stdout.write = (() => true) as typeof process.stdout.write;
  try {
    return await fn();
  } finally {
    process.stdout.write = write;
  }
}
