import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compiledProxyBin, stopProcess } from './proxy-process';

export interface RunningEgress {
  port: number;
  child: ChildProcess;
  /** Every JSON line the proxy wrote so far. */
  lines: () => Record<string, unknown>[];
  /** Waits for a line that `match` accepts (the access line of a request ends after its answer). */
  waitForLine: (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown>>;
  stop: () => Promise<void>;
}

/** Starts the compiled binary in egress mode on a free loopback port, with a clean environment. */
export async function startEgress(env: Record<string, string>): Promise<RunningEgress> {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-egress-'));
  // A file, not a pipe: a pipe nobody drains would stall the proxy.
  const logPath = join(dir, 'egress.log');
  const logFd = openSync(logPath, 'a');
  const child = spawn(process.execPath, [compiledProxyBin()], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', EGRESS: '1', EGRESS_LISTEN: 'tcp://127.0.0.1:0', ...env },
    stdio: ['ignore', logFd, logFd],
  });
  closeSync(logFd);
  const readLog = () => readFileSync(logPath, 'utf8');
  const lines = () =>
    readLog()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const waitForLine = async (match: (line: Record<string, unknown>) => boolean, timeoutMs = 5000) => {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 20))) {
      const found = lines().find(match);
      if (found) return found;
    }
    throw new Error(`no such log line in:\n${readLog()}`);
  };
  const startup = await waitForLine((line) => line.msg === 'listening', 10_000).catch(() => {
    throw new Error(`egress proxy did not start (exit ${child.exitCode}): ${readLog()}`);
  });
  return {
    port: Number(/:(\d+)$/.exec(String(startup.listen))?.[1]),
    child,
    lines,
    waitForLine,
    stop: () => stopProcess(child, dir),
  };
}
