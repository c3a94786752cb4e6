import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const REPO_ROOT = join(__dirname, '..', '..', '..');
/** The packages are released as one fixed group: one version names both tarballs. */
const VERSION = (JSON.parse(readFileSync(join(REPO_ROOT, 'packages/devsec/package.json'), 'utf-8')) as { version: string }).version;
export const PLUGIN_TARBALL = join(REPO_ROOT, 'dist', `org-devsec-${VERSION}.tgz`);
export const PROXY_TARBALL = join(REPO_ROOT, 'dist', `org-devsec-socket-proxy-${VERSION}.tgz`);
/** A real checkout belongs to an ordinary user; the dev container's user is uid 1000 too. */
export const CHECKOUT_UID = 1000;

export interface TestWorkspace {
  dir: string;
  env: NodeJS.ProcessEnv;
  run: (
    command: string,
    args: string[],
    options?: { cwd?: string; allowFailure?: boolean; timeout?: number },
  ) => { status: number | null; stdout: string; stderr: string };
}

/**
 * A fresh workspace made by create-nx-workspace@23.2.1, with one app project and the packed
 * plugin and proxy installed (`nx add` takes the plugin tarball; no registry holds it).
 */
export function createTestWorkspace(): TestWorkspace {
  for (const tarball of [PLUGIN_TARBALL, PROXY_TARBALL]) {
    if (!existsSync(tarball)) throw new Error(`${tarball} is missing: run \`node scripts/build-packages.js --pack\` (npm test does).`);
  }
  const parent = mkdtempSync(join(tmpdir(), 'devsec-e2e-'));
  const dir = join(parent, 'ws');
  // git as root on a checkout owned by uid 1000 needs safe.directory; keep it out of the real global config.
  const gitConfig = join(parent, 'gitconfig');
  writeFileSync(gitConfig, '[safe]\n\tdirectory = *\n[user]\n\tname = devsec e2e\n\temail = e2e@devsec.invalid\n[init]\n\tdefaultBranch = main\n');
  // The host user's state directory of this run: the shared services' passwords, the sandboxes' private git dirs.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GIT_CONFIG_GLOBAL: gitConfig,
    XDG_STATE_HOME: join(parent, 'state'),
    NX_DAEMON: 'false',
    NX_NO_CLOUD: 'true',
    NX_INTERACTIVE: 'false',
  };
  delete env.DOCKER_HOST;
  const run: TestWorkspace['run'] = (command, args, options = {}) => {
    const result = spawnSync(command, args, {
      cwd: options.cwd ?? dir,
      env,
      encoding: 'utf-8',
      timeout: options.timeout ?? 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = { status: result.status, stdout: result.stdout ?? '', stderr: (result.stderr ?? '') + (result.error ? String(result.error) : '') };
    if (out.status !== 0 && !options.allowFailure) {
      throw new Error(`${command} ${args.join(' ')} failed (${out.status}) in ${options.cwd ?? dir}:\n${out.stdout.slice(-4000)}\n${out.stderr.slice(-4000)}`);
    }
    return out;
  };

  run('npx', ['-y', 'create-nx-workspace@23.2.1', 'ws', '--preset=apps', '--nxCloud=skip', '--no-interactive', '--skipGit=false'], { cwd: parent });
  mkdirSync(join(dir, 'apps/app'), { recursive: true });
  // A test of its own, so the agent can run the workspace's Nx inside (`nx test app`).
  const test = { executor: 'nx:run-commands', options: { command: 'node --test apps/app/smoke.test.js' } };
  writeFileSync(join(dir, 'apps/app/project.json'), JSON.stringify({ name: 'app', root: 'apps/app', projectType: 'application', targets: { test } }, null, 2));
  writeFileSync(join(dir, 'apps/app/smoke.test.js'), "require('node:test')('runs', () => require('node:assert').ok(true));\n");
  run('npm', ['install', '-D', '--no-audit', '--no-fund', PROXY_TARBALL]);
  run('npx', ['nx', 'add', `@org/devsec@file:${PLUGIN_TARBALL}`]);
  run('git', ['add', '-A']);
  run('git', ['commit', '-q', '-m', 'workspace with @org/devsec']);
  return { dir, env, run };
}

/** Hands the checkout to the ordinary user, as on a developer's machine. */
export function chownToCheckoutUser(workspace: TestWorkspace): void {
  workspace.run('chown', ['-R', `${CHECKOUT_UID}:${CHECKOUT_UID}`, workspace.dir]);
}

/** The user's own app service in the stack: a tiny HTTP server answering with its hostname. */
export const WEB_SERVICE = [
  'services:',
  '  web:',
  '    image: node:24-trixie-slim',
  `    command: ["node", "-e", "require('http').createServer((q, s) => s.end('web ' + require('os').hostname())).listen(3000)"]`,
  '    networks: [sandbox]',
  '',
].join('\n');

/**
 * The user's journey up to `up-worktree`: a secure dev container for app (with the database
 * clients), postgres and redis shared by every worktree, the app's own web service, and
 * localhost:3000 inside forwarded to it. Committed, as a user would.
 */
export function generateSandbox(workspace: TestWorkspace): void {
  const nx = (...args: string[]) => workspace.run('npx', ['nx', ...args, '--no-interactive']);
  nx('g', '@org/devsec:secure-devcontainer', '--project=app', '--aptPackages=postgresql-client,redis-tools');
  nx('g', '@org/devsec:shared-service', 'postgres');
  nx('g', '@org/devsec:shared-service', 'redis');
  writeFileSync(join(workspace.dir, 'apps/app/.devcontainer/docker-compose.services.yml'), WEB_SERVICE);
  nx('g', '@org/devsec:localhost-proxy', 'app');
  workspace.run('git', ['add', '-A']);
  workspace.run('git', ['commit', '-q', '-m', 'sandbox for app, with postgres, redis and a localhost proxy']);
}
