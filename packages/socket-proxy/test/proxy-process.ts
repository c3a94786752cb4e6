import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { READ_SWITCHES } from '../src/common/vocabulary';

const PACKAGE = join(__dirname, '..');
const REPO_ROOT = join(PACKAGE, '..', '..');
const BUILD_COMMAND = 'npm run build:packages -- socket-proxy';

/**
 * The process-level suites run the compiled bin, as the image and an npm install run it: what
 * ships is what is tested. The build is `npm test`'s first step; a missing or stale build is an
 * error here rather than a test of old code.
 */
export function compiledProxyBin(): string {
  const bin = join(REPO_ROOT, 'dist', 'packages', 'socket-proxy', 'bin', 'devsec-socket-proxy.js');
  if (!existsSync(bin)) throw new Error(`${bin} is missing: build the proxy first with \`${BUILD_COMMAND}\` (npm test does).`);
  const builtAt = statSync(bin).mtimeMs;
  const sources = ['src', 'bin'].flatMap((dir) =>
    readdirSync(join(PACKAGE, dir), { recursive: true })
      .map((entry) => join(PACKAGE, dir, String(entry)))
      .filter((file) => file.endsWith('.ts') && !file.endsWith('.spec.ts')),
  );
  const changed = sources.filter((file) => statSync(file).mtimeMs > builtAt);
  if (changed.length > 0) {
    throw new Error(`${bin} is older than ${changed.join(', ')}: rebuild the proxy with \`${BUILD_COMMAND}\` (npm test does).`);
  }
  return bin;
}

export interface RunningProxy {
  socketPath: string;
  host: string;
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

/**
 * The proxy's environment as a generated stack sets it: every read switch on (those off by the
 * proxy's default turned on), reading `upstream` (the engine's socket unless given), scoped by
 * `scopeLabel`; a suite's own settings in `more`.
 */
export function stackProxyEnv(scopeLabel: string, more: Record<string, string> = {}, upstream = '/var/run/docker.sock'): Record<string, string> {
  const switchedOn = Object.entries(READ_SWITCHES)
    .filter(([, onByDefault]) => !onByDefault)
    .map(([name]) => [name, '1']);
  return { SOCKET_PATH: upstream, ...Object.fromEntries(switchedOn), SCOPE_LABEL: scopeLabel, ...more };
}

/** Starts the real proxy binary on a unix socket in a temp folder, with a clean environment. */
export async function startProxy(env: Record<string, string>): Promise<RunningProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-proxy-'));
  const socketPath = join(dir, 'proxy.sock');
  // The log goes to a file, not a pipe: tests that block in spawnSync would not drain a pipe,
  // and a full pipe would stall the proxy.
  const logPath = join(dir, 'proxy.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [compiledProxyBin()], {
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
    stop: () => stopProcess(child, dir),
  };
}

/** SIGTERM, wait for the exit, then remove the process's folder (socket, log). */
export async function stopProcess(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
