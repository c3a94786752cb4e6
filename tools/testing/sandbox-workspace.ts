import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, lchownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
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
  /** Hands the checkout (and its git data) to the ordinary user, as on a developer's machine. */
  chownToCheckoutUser: () => void;
}

/** A real checkout belongs to an ordinary user; the dev container's user is uid 1000 too. */
export const CHECKOUT_UID = 1000;

/**
 * Root (this process) runs git on a checkout of uid 1000: git refuses such a repository unless
 * told it is safe. Set in the environment, so the executors' and hooks' git children see it.
 */
export function trustCheckoutsAsRoot(): void {
  Object.assign(process.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' });
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
  return { dir, git, chownToCheckoutUser: () => chownTree(dir) };
}

function chownTree(path: string): void {
  const stat = lstatSync(path);
  lchownSync(path, CHECKOUT_UID, CHECKOUT_UID);
  if (stat.isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry));
}

/**
 * The compiled plugin where `nx add` would install it, with the one package its host entry
 * (`devsec`) loads, so devcontainer.json's initializeCommand runs it as in a real workspace.
 */
export function installPlugin(dir: string): void {
  const dist = join(__dirname, '..', '..', 'dist', 'packages', 'devsec');
  if (!existsSync(join(dist, 'src', 'bin', 'devsec.js'))) throw new Error(`${dist} holds no built plugin: run \`npm run build:packages\` (npm test does).`);
  cpSync(dist, join(dir, 'node_modules/@org/devsec'), { recursive: true });
  // What the host entry (devsec, initializeCommand) loads at run time, with what those load in turn; Nx's own are the workspace's.
  const manifest = JSON.parse(readFileSync(join(dist, 'package.json'), 'utf-8')) as { dependencies?: Record<string, string> };
  const pending = Object.keys(manifest.dependencies ?? {}).filter((name) => !name.startsWith('@nx/') && !name.startsWith('@org/'));
  const copied = new Set<string>();
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (copied.has(name)) continue;
    copied.add(name);
    // The repository's own install (npm hoists them to the root; some export no package.json to resolve).
    const from = join(__dirname, '..', '..', 'node_modules', name);
    if (!existsSync(join(from, 'package.json'))) throw new Error(`${from} is missing: run npm ci.`);
    cpSync(from, join(dir, 'node_modules', name), { recursive: true });
    pending.push(
      ...Object.keys((JSON.parse(readFileSync(join(from, 'package.json'), 'utf-8')) as { dependencies?: Record<string, string> }).dependencies ?? {}),
    );
  }
}
