/**
 * A local npm registry for the e2e suites: Verdaccio (a pinned devDependency) on a free port of
 * 127.0.0.1, with npmjs as its uplink (nx and everything else come through it) and the packed
 * `@org/*` tarballs (dist/*.tgz) published to it, so a workspace installs the plugin and the proxy
 * by name, as users do. Nothing is skipped: a Verdaccio that does not start or an uplink that does
 * not answer is an error.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PLUGIN_TARBALL, PROXY_TARBALL, REPO_ROOT } from './workspace';

export interface LocalRegistry {
  /** http://127.0.0.1:<port>/ */
  url: string;
  /** From spawn to the first answer of /-/ping. */
  startMs: number;
  stop: () => Promise<void>;
}

export interface ExecResult {
  status: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** spawn, asynchronously (several workspaces are made side by side); never throws, says how it ended. */
export function exec(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number }): Promise<ExecResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${options.timeout} ms)`;
      child.kill('SIGKILL');
    }, options.timeout ?? 300_000);
    child.on('error', (error) => (stderr += String(error)));
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** As exec, and throws with the command's output when it fails. */
export async function execOk(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout?: number }): Promise<ExecResult> {
  const result = await exec(command, args, options);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}) in ${options.cwd}:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-4000)}`);
  }
  return result;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The environment for npm without a registry of the caller's: the workspace's .npmrc (or --registry) decides. */
export function withoutRegistryOverride(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const clean = { ...env };
  for (const key of Object.keys(clean)) if (/^npm_config_(registry|userconfig)$/i.test(key)) delete clean[key];
  return clean;
}

export async function startLocalRegistry(): Promise<LocalRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'devsec-verdaccio-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/`;
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(dir, 'storage'))}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
      'uplinks:',
      '  npmjs:',
      '    url: https://registry.npmjs.org/',
      '    timeout: 60s',
      'packages:',
      // Ours are published here and only here: never looked up on npmjs.
      "  '@org/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      '    proxy: npmjs',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const started = Date.now();
  const child: ChildProcess = spawn(
    process.execPath,
    [join(REPO_ROOT, 'node_modules/verdaccio/bin/verdaccio'), '--config', config, '--listen', `127.0.0.1:${port}`],
    {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let log = '';
  child.stdout?.on('data', (chunk) => (log += chunk));
  child.stderr?.on('data', (chunk) => (log += chunk));
  let exited = false;
  child.on('exit', () => (exited = true));
  const stop = async () => {
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(5000)]);
      if (!exited) child.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    let startMs = -1;
    while (Date.now() - started < 60_000 && !exited) {
      if (
        await fetch(`${url}-/ping`).then(
          (response) => response.ok,
          () => false,
        )
      ) {
        startMs = Date.now() - started;
        break;
      }
      await sleep(100);
    }
    if (startMs < 0) throw new Error(`Verdaccio did not answer on ${url} within 60 s${exited ? ' (it exited)' : ''}:\n${log.slice(-4000)}`);
    // The uplink: without npmjs behind it no workspace can be made.
    const nx = await fetch(`${url}nx`, { headers: { accept: 'application/vnd.npm.install-v1+json' } }).catch((error: Error) => error);
    if (nx instanceof Error || !nx.ok) {
      throw new Error(
        `Verdaccio on ${url} cannot reach its uplink registry.npmjs.org (GET /nx: ${nx instanceof Error ? nx.message : nx.status}):\n${log.slice(-4000)}`,
      );
    }
    // A user of this run only, to publish with.
    const user = await fetch(`${url}-/user/org.couchdb.user:devsec-e2e`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'devsec-e2e', password: `e2e-${port}-${process.pid}` }),
    });
    const token = ((await user.json()) as { token?: string }).token;
    if (!token) throw new Error(`Verdaccio on ${url} gave no token to the e2e user (${user.status})`);
    const userconfig = join(dir, 'npmrc');
    writeFileSync(userconfig, `registry=${url}\n//127.0.0.1:${port}/:_authToken=${token}\n`);
    const env = withoutRegistryOverride(process.env);
    for (const tarball of [PROXY_TARBALL, PLUGIN_TARBALL]) {
      await execOk('npm', ['publish', tarball, '--userconfig', userconfig, '--registry', url], { cwd: dir, env, timeout: 120_000 });
    }
    return { url, startMs, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
