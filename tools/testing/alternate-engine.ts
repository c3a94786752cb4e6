import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { docker, dockerRequired, Run } from './docker';

/**
 * A second engine on this machine, started by a script of `scripts/engines/` as root, whose
 * daemon runs as an ordinary user (rootless Docker, rootless Podman) or as root (Podman): the
 * sandbox's journey runs on it as that user would run it. `.ci/setup-engine.sh` installs what
 * each needs; under DEVSEC_REQUIRE_DOCKER=1 a missing piece fails the suite, never skips it.
 */
export interface AlternateEngine {
  /** The DOCKER_HOST the user's CLI would have. */
  dockerHost: string;
  /** The user the engine (and so the host side of the journey) runs as. */
  user: string;
  uid: number;
  home: string;
  docker: (args: string[], options?: { timeout?: number }) => Run;
  /** A command as that user, with its DOCKER_HOST, HOME and runtime dir. */
  asUser: (command: string, args: string[], options?: { cwd?: string; env?: Record<string, string>; timeout?: number }) => Run;
  stop: () => void;
}

const SCRIPTS = join(__dirname, '..', '..', 'scripts', 'engines');

/** What this machine lacks to run the engine the script starts, or undefined. */
export function alternateEngineProblem(script: string, needs: string[]): string | undefined {
  if (process.getuid?.() !== 0) return 'starting a second engine needs root (it creates its user and runtime directory)';
  const missing = needs.filter((path) => !existsSync(path));
  return missing.length ? `missing ${missing.join(', ')} (bash .ci/setup-engine.sh installs it)` : undefined;
}

/** describe() when the engine can run here; a failing test under CI's flag; else a visible skip. */
export function describeOnEngine(name: string, problem: string | undefined, body: () => void): void {
  if (!problem) return describe(name, body);
  if (dockerRequired) {
    return describe(name, () => {
      it('needs its engine (DEVSEC_REQUIRE_DOCKER=1)', () => {
        throw new Error(`${problem}.`);
      });
    });
  }
  console.warn(`skipping real-engine suite "${name}": ${problem}`);
  return describe.skip(name, body);
}

export function startAlternateEngine(script: string, user: string): AlternateEngine {
  const path = join(SCRIPTS, script);
  const started = spawnSync('bash', [path, 'start'], { encoding: 'utf-8', timeout: 300_000 });
  const dockerHost = /export DOCKER_HOST=(\S+)/.exec(started.stdout ?? '')?.[1];
  if (started.status !== 0 || !dockerHost) throw new Error(`${script} start failed (${started.status}):\n${(started.stderr ?? '').slice(-3000)}`);
  const uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf-8' }).trim());
  const home = execFileSync('getent', ['passwd', user], { encoding: 'utf-8' }).split(':')[5];
  const runtimeDir = `/run/user/${uid}`;
  const asUser: AlternateEngine['asUser'] = (command, args, options = {}) => {
    const env = [
      `HOME=${home}`,
      `USER=${user}`,
      `PATH=${process.env.PATH}`,
      `XDG_RUNTIME_DIR=${runtimeDir}`,
      `DOCKER_HOST=${dockerHost}`,
      ...Object.entries(options.env ?? {}).map(([key, value]) => `${key}=${value}`),
    ];
    const result = spawnSync('runuser', ['-u', user, '--', 'env', '-i', ...env, command, ...args], {
      encoding: 'utf-8',
      cwd: options.cwd,
      timeout: options.timeout ?? 600_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: result.status, stdout: result.stdout ?? '', stderr: (result.stderr ?? '') + (result.error ? String(result.error) : '') };
  };
  return {
    dockerHost,
    user,
    uid,
    home,
    docker: (args, options = {}) => docker(args, { host: dockerHost, timeout: options.timeout }),
    asUser,
    stop: () => void spawnSync('bash', [path, 'stop'], { stdio: 'ignore', timeout: 120_000 }),
  };
}
