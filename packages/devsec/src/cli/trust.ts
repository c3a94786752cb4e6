/** `devsec trust`: shows what changed, as `devsec check` does, and records it as approved after an explicit yes. */
import { visible } from '../sandbox/visible';
import { DEFAULT_MAX_ENTRIES } from '../host/surface/list';
import { approveSurface } from '../host/surface/review';
import { renderEntries } from '../host/surface/report';
import { describeSnapshot } from '../host/surface/snapshot';
import { CommandIO, loadReview, plural, printChanges } from './surface-command';

export const TRUST_HELP = `Usage: devsec trust [--yes] [--all] [--max-entries=<n>]

Shows what changed in the host-executed surface of this workspace (see devsec check --help),
then records it as the approved snapshot for this repository once you answer y or yes. What is
recorded is exactly what was shown: a file changed while you read is shown by the next check.

  -y, --yes          approve without asking (for scripts); without a terminal, required
  -a, --all          every other change as a full diff too
  --max-entries=<n>  stop the walk after n entries (default ${DEFAULT_MAX_ENTRIES})
  -h, --help         this text

Exit: 0 approved (or nothing to approve), 1 not approved, 2 a usage error, no workspace, or
no terminal to ask on and no --yes.
`;

/** One line from the stream (at most 1 KiB), or what came before it ended. */
function readAnswer(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const finish = () => {
      stdin.off('data', onData);
      stdin.off('end', finish);
      stdin.off('error', finish);
      stdin.pause();
      resolve(text.split('\n')[0]);
    };
    const onData = (chunk: Buffer | string) => {
      text += chunk.toString();
      if (text.includes('\n') || text.length > 1024) finish();
    };
    stdin.on('data', onData);
    stdin.on('end', finish);
    stdin.on('error', finish);
    stdin.resume();
  });
}

export async function trustCommand(argv: string[], io: CommandIO): Promise<number> {
  const loaded = loadReview('trust', argv, io, TRUST_HELP);
  if (typeof loaded === 'number') return loaded;
  const { review, args, out } = loaded;
  let what: string;
  if (!review.approved) {
    const count = Object.keys(review.scan.entries).length;
    out(`No snapshot was approved for this repository yet; these ${plural(count, 'file')} would be the baseline:`);
    for (const line of renderEntries(review.scan.entries)) out(line);
    out();
    what = plural(count, 'file');
  } else if (review.changes.length === 0) {
    out(`Nothing to approve: nothing changed since ${describeSnapshot(review.approved)}.`);
    return 0;
  } else {
    printChanges(loaded);
    out(`${plural(review.changes.length, 'change')} since ${describeSnapshot(review.approved)}.`);
    what = plural(review.changes.length, 'change');
  }
  if (!args.yes) {
    if (!io.isTTY) {
      io.stderr.write(
        'devsec trust: nothing recorded: there is no terminal to ask on. Read what is shown above, then run `devsec trust --yes` to approve it.\n',
      );
      return 2;
    }
    io.stdout.write(`Approve ${what} as this repository's snapshot? [y/N] `);
    const answer = (await readAnswer(io.stdin)).trim().toLowerCase();
    if (answer !== 'y' && answer !== 'yes') {
      out('Not approved: nothing recorded.');
      return 1;
    }
  }
  approveSurface(review);
  out(`Approved: recorded ${what} in ${visible(review.file)}.`);
  return 0;
}
