/** Is there a Docker engine to talk to, with Compose v2? Each missing piece gets its own fix. */
import { SandboxError } from '../../sandbox/errors';
import { CommandResult, runCommand, Runner } from './run';

export function preflight(run: Runner = runCommand): void {
  preflightEngine(run);
  preflightCompose(run);
}

/** The docker CLI and its daemon (one `docker version`). */
export function preflightEngine(run: Runner = runCommand): void {
  const version = run('docker', ['version', '--format', '{{.Server.Version}}']);
  if (version.error?.code === 'ENOENT') {
    throw new SandboxError('The docker CLI is not installed (no `docker` on PATH). Install Docker Engine or Docker Desktop, then run again.');
  }
  if (version.status !== 0) {
    throw new SandboxError(
      `The Docker daemon does not answer: ${lastLine(version)}. Start it (e.g. \`sudo systemctl start docker\`, or open Docker Desktop), then run again.`,
    );
  }
}

/** Compose v2 (`docker compose`). up-worktree asks only when a compose command failed: each start of the plugin costs ~80 ms. */
export function preflightCompose(run: Runner = runCommand): void {
  const compose = run('docker', ['compose', 'version', '--short']);
  const composeVersion = compose.stdout.trim().replace(/^v/, '');
  if (compose.status !== 0 || !/^[2-9]\./.test(composeVersion)) {
    throw new SandboxError(
      'Compose v2 (`docker compose`) is needed: the sandbox relies on top-level `name:`, `--wait` and healthchecks. ' +
        (compose.status === 0 ? `Found Compose ${composeVersion}. ` : '') +
        "Install the docker-compose-plugin package (Debian 13 and Ubuntu ship it as docker-compose v2; Debian 12's docker-compose is v1).",
    );
  }
}

/** The last line a failed command printed, for a one-line reason. */
export function lastLine(result: CommandResult): string {
  return (result.stderr || result.stdout).trim().split('\n').pop() ?? `exit ${result.status}`;
}
