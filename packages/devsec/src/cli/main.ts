/**
 * `devsec`: the host entry that loads nothing from the workspace — no Nx, no plugin, no `.env`,
 * no project configuration — and runs from the workspace's root node_modules, which no sandbox
 * can write. Same work, progress, summary and errors as the executors.
 */
import type { Say } from '../host/lifecycle';
import { DevsecError } from '../sandbox/errors';
import { visible, visibleText } from '../sandbox/visible';
import { parseArgs } from './args';
import type { CommandIO } from './surface-command';

export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export const USAGE = `Usage: devsec <command> [options]   (devsec <command> --help for each)

  up <project>        start this worktree's sandbox of <project> (and the shared services)
  down <project>      stop and remove it
  up-shared           start the shared services
  down-shared         stop the shared services
  audit <project>     review the sandbox; --live probes it from inside
  agent <project>     open the agent's session inside, with none of VS Code's forwarded channels
  fetch <project>     bring the sandbox's branches into the repository (refs/remotes/devsec/<project>/), verified
  check               show what changed in the files the host executes, since you approved them
  trust               approve them (after reading what check shows)
  prepare <root>      what devcontainer.json's initializeCommand runs

It runs nothing of the workspace: not Nx, not its plugins, not its .env files. Run it as
node_modules/.bin/devsec from the workspace root (npx reads the workspace's .npmrc, which the
agent can write; devsec check shows changes to it).

Exit codes: 0 done; 1 refused, failed or (check) something changed; 2 usage error.
`;

function say(io: CommandIO): Say {
  const line = (stream: NodeJS.WritableStream) => (text: string) => void stream.write(`${visibleText(text)}\n`);
  return { info: line(io.stdout), warn: line(io.stderr), error: line(io.stderr) };
}

export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '-h' || command === '--help') {
    io.stdout.write(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  // Each command loads its own modules: the usage answers at once (bench figure 8).
  if (command === 'check') return (await import('./check')).checkCommand(rest, io);
  if (command === 'trust') return (await import('./trust')).trustCommand(rest, io);
  const { STACK_COMMANDS } = await import('./stack');
  const spec = Object.hasOwn(STACK_COMMANDS, command) ? STACK_COMMANDS[command] : undefined;
  if (!spec) {
    io.stderr.write(`devsec: unknown command "${visible(command)}".\n\n${USAGE}`);
    return EXIT.usage;
  }
  const args = parseArgs(rest, spec.flags);
  if (typeof args === 'string') {
    io.stderr.write(`devsec ${command}: ${args}\n\nUsage: ${spec.usage}\n`);
    return EXIT.usage;
  }
  if (args.help) {
    io.stdout.write(`Usage: ${spec.usage}\n`);
    return EXIT.ok;
  }
  try {
    const root = (await import('./workspace')).workspaceRoot(io.cwd);
    return (await spec.run(root, args, say(io))) ? EXIT.ok : EXIT.refused;
  } catch (error) {
    if (!(error instanceof DevsecError)) throw error;
    io.stderr.write(`devsec ${command}: ${visibleText(error.message)}\n`);
    return EXIT.refused;
  }
}
