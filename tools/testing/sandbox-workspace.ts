import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
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

/**
 * The compiled proxy package (what `npm install` puts in node_modules and the image is built
 * from); the sources hold TypeScript that the image cannot run.
 */
export function compiledProxyPackage(): string {
  const dist = join(__dirname, '..', '..', 'dist', 'packages', 'socket-proxy');
  if (!existsSync(join(dist, 'bin', 'devsec-socket-proxy.js'))) {
    throw new Error(`${dist} holds no built proxy: run \`npm run build:packages -- socket-proxy\` (npm test does).`);
  }
  return dist;
}

export function createSandboxWorkspace(prefix: string, packageName: string): SandboxWorkspace {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: packageName }));
  writeFileSync(join(dir, 'nx.json'), '{}');
  mkdirSync(join(dir, 'apps/app'), { recursive: true });
  writeFileSync(join(dir, 'apps/app/project.json'), JSON.stringify({ name: 'app', root: 'apps/app' }));
  cpSync(compiledProxyPackage(), join(dir, 'node_modules/@org/devsec-socket-proxy'), { recursive: true });
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: dir });
  git('init', '-q');
  return { dir, git };
}
