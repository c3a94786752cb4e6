import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = join(__dirname, '..', 'bin', 'devsec-socket-proxy.js');

export interface RunningProxy {
  socketPath: string;
  host: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/** Starts the real proxy binary on a unix socket in a temp folder, with a clean environment. */
export async function startProxy(env: Record<string, string>): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-proxy-'));
  const socketPath = join(dir, 'proxy.sock');
  // The log goes to a file, not a pipe: tests that block in spawnSync would not drain a pipe,
  // and a full pipe would stall the proxy.
  const logPath = join(dir, 'proxy.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [BIN], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LISTEN: `unix://${socketPath}`, ...env },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const readLog = () => readFileSync(logPath, 'utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start: ${readLog()}`)), 10_000);
    const poll = setInterval(() => {
      if (readLog().includes('"msg":"listening"')) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve();
      }
    }, 20);
    child.once('exit', (code) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`proxy exited with ${code}: ${readLog()}`));
    });
  });
  return {
    socketPath,
    host: `unix://${socketPath}`,
    child,
    output: readLog,
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
