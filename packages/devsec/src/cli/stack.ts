/**
 * The stack commands of `devsec`: the same work as the executors (host/lifecycle.ts,
 * host/audit.ts), invoked without Nx — so nothing of the workspace runs, and options come from
 * this command line only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runAudit } from '../host/audit/audit';
import {
  commitsWaiting,
  endAgentSession,
  fetchSandbox,
  prepareSandbox,
  resetData,
  runningDevContainer,
  Say,
  startSandbox,
  startShared,
  stopSandbox,
  stopShared,
  waitingLine,
} from '../host/lifecycle';
import { SandboxError } from '../sandbox/errors';
import { specFromComposeText } from '../sandbox/spec';
import { sharedFileTrust } from '../sandbox/shared-trust';
import { visible } from '../sandbox/visible';
import { AGENTS, COMPOSE_FILE, CONTAINER_USER, DEVCONTAINER_DIR, SHARED_COMPOSE_FILE } from '../sandbox/vocabulary';
import { Parsed } from './args';
import { projectSandbox } from './workspace';

export interface StackCommand {
  usage: string;
  flags: Record<string, 'boolean' | 'string' | 'list'>;
  run: (root: string, args: Parsed, say: Say) => Promise<boolean>;
}

const bool = (value: unknown) => (value === undefined ? undefined : value === true);

export const STACK_COMMANDS: Record<string, StackCommand> = {
  up: {
    usage: `devsec up <project> [--unsafe-allow=<rule>] [--build | --no-build] [--no-wait] [--refill-node-modules]
  Starts this worktree's sandbox of <project>, as nx run <project>:up-worktree does (the shared
  services first, if any).`,
    flags: { 'unsafe-allow': 'list', build: 'boolean', wait: 'boolean', 'refill-node-modules': 'boolean' },
    run: async (root, args, say) => {
      const sandbox = projectSandbox(root, args.positionals[0]);
      // The shared services first, as the inferred up-worktree's dependsOn does — from a file @org/devsec wrote only.
      const sharedFile = join(root, SHARED_COMPOSE_FILE);
      if (sharedFileTrust(existsSync(sharedFile) ? readFileSync(sharedFile, 'utf-8') : null).trusted && !(await startShared(root, SHARED_COMPOSE_FILE, say)))
        return false;
      return startSandbox(
        root,
        sandbox.composeFile,
        {
          unsafeAllow: args.flags['unsafe-allow'] as string[] | undefined,
          build: bool(args.flags.build),
          wait: bool(args.flags.wait),
          refillNodeModules: args.flags['refill-node-modules'] === true,
          downCommand: `devsec down ${sandbox.project}`,
          fetchCommand: `devsec fetch ${sandbox.project}`,
        },
        say,
      );
    },
  },
  down: {
    usage: `devsec down <project> [--volumes] [--images]
  Stops and removes this worktree's sandbox of <project> (its volumes and built images too, if asked).`,
    flags: { volumes: 'boolean', images: 'boolean' },
    run: (root, args, say) => {
      const sandbox = projectSandbox(root, args.positionals[0]);
      return stopSandbox(root, sandbox.composeFile, { volumes: args.flags.volumes === true, images: args.flags.images === true }, say);
    },
  },
  fetch: {
    usage: `devsec fetch <project>
  Brings the branches of this worktree's sandbox of <project> into the repository, under
  refs/remotes/devsec/<project>/ (git log devsec/<project>/<branch>; merge what you want), through
  git fetch with object verification. The sandbox's git dir is read by a throwaway container of
  its own image (no network, read-only), never by git on this machine. No local branch, the index
  or the working tree moves.`,
    flags: {},
    run: async (root, args, say) => {
      const sandbox = projectSandbox(root, args.positionals[0]);
      return fetchSandbox(root, sandbox.composeFile, say);
    },
  },
  'reset-data': {
    usage: `devsec reset-data <project>
  Makes this worktree's database in the shared Postgres again from the shared one (or empty), and
  removes its Redis keys, as nx run <project>:reset-data does.`,
    flags: {},
    run: async (root, args, say) => resetData(root, projectSandbox(root, args.positionals[0]).composeFile, say),
  },
  'up-shared': {
    usage: `devsec up-shared
  Starts the shared services (${SHARED_COMPOSE_FILE}) through the policy gate, once for every worktree.`,
    flags: {},
    run: (root, _args, say) => startShared(root, SHARED_COMPOSE_FILE, say),
  },
  'down-shared': {
    usage: `devsec down-shared [--volumes]
  Stops the shared services (their data too, with --volumes).`,
    flags: { volumes: 'boolean' },
    run: (root, args, say) => stopShared(root, SHARED_COMPOSE_FILE, { volumes: args.flags.volumes === true }, say),
  },
  audit: {
    usage: `devsec audit <project> [--live] [--format=table|json|sarif] [--output-file=<path>]
  Reviews the sandbox's files (and, with --live, probes the running stack from inside); exits 1
  on any high finding.`,
    flags: { live: 'boolean', format: 'string', 'output-file': 'string' },
    run: async (root, args) => {
      const sandbox = projectSandbox(root, args.positionals[0]);
      const format = (args.flags.format as string | undefined) ?? 'table';
      if (!['table', 'json', 'sarif'].includes(format)) throw new SandboxError(`--format=${visible(format)}: use table, json or sarif.`);
      const options = { live: args.flags.live === true, format: format as 'table', outputFile: args.flags['output-file'] as string | undefined };
      return runAudit(root, sandbox.composeFile, options, (text) => process.stdout.write(text));
    },
  },
  agent: {
    usage: `devsec agent <project> [-- <command> [args...]]
  Opens the agent's session in the running dev container: docker exec as the container's user,
  with the container's own environment only — none of VS Code's forwarded channels (SSH agent,
  git askpass, IPC sockets in the environment). Without a command: the agent's CLI (claude,
  codex) when the sandbox has one, else bash.`,
    flags: {},
    run: async (root, args, say) => {
      const sandbox = projectSandbox(root, args.positionals[0]);
      const running = runningDevContainer(root, sandbox.composeFile);
      if (!running) throw new SandboxError(`the sandbox of ${sandbox.project} is not running: devsec up ${sandbox.project} first.`);
      const spec = specFromComposeText(readFileSync(join(root, sandbox.composeFile), 'utf-8'), sandbox.composeFile);
      const agent = spec?.agent ?? 'none';
      const command = args.rest.length > 0 ? args.rest : [AGENTS[agent] ? agent : 'bash'];
      const tty = process.stdin.isTTY ? ['-it'] : ['-i'];
      const result = spawnSync('docker', ['exec', ...tty, '-u', CONTAINER_USER, '-w', running.stack.identity.workspaceRoot, running.name, ...command], {
        stdio: 'inherit',
      });
      endAgentSession(running.stack, spec?.testContainers !== undefined, say);
      process.exitCode = result.status ?? 1;
      // The session is over: what the agent committed waits for devsec fetch (counted in the dev container, a hint; the fetch verifies).
      const waiting = waitingLine(await commitsWaiting(running.stack, running.name), `devsec fetch ${sandbox.project}`);
      if (waiting) process.stderr.write(`${waiting}\n`);
      return result.status === 0;
    },
  },
  prepare: {
    usage: `devsec prepare <project root>
  What devcontainer.json's initializeCommand runs before VS Code or the devcontainer CLI starts
  the stack: writes this worktree's .env and override file, and refuses a stack the gate refuses.`,
    flags: {},
    run: async (root, args, say) => {
      const projectRoot = args.positionals[0];
      if (!projectRoot || args.positionals.length > 1 || /(^|\/)\.\.(\/|$)|^\//.test(projectRoot)) {
        throw new SandboxError('prepare takes one project root, relative to the workspace root (e.g. devsec prepare apps/app).');
      }
      const stack = prepareSandbox(root, join(projectRoot, DEVCONTAINER_DIR, COMPOSE_FILE), say);
      say.info(`${stack.identity.composeProjectName} prepared for ${stack.identity.workspaceRoot}`);
      return true;
    },
  },
};
