import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throw-away workspace for real-engine suites that call the generators and executors in
 * process: a git repository with one Nx project `app` at apps/app, and the proxy package where
 * `nx add` would install it (the stack builds the proxy image from there).
 */
export interface SandboxWorkspace {
  dir: string;
  git: (...args: string[]) => Buffer;
}

export function createSandboxWorkspace(prefix: string, packageName: string): SandboxWorkspace {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: packageName }));
  writeFileSync(join(dir, 'nx.json'), '{}');
  mkdirSync(join(dir, 'apps/app'), { recursive: true });
  writeFileSync(join(dir, 'apps/app/project.json'), JSON.stringify({ name: 'app', root: 'apps/app' }));
  const proxy = join(__dirname, '..', '..', 'packages', 'socket-proxy');
  for (const part of ['package.json', 'Dockerfile', 'bin', 'src']) cpSync(join(proxy, part), join(dir, 'node_modules/@org/devsec-socket-proxy', part), { recursive: true });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
  git('init', '-q');
  return { dir, git };
}
