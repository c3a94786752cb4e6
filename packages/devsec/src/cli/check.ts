/** `devsec check`: what changed in the host-executed surface since the last approval. */
import { DEFAULT_MAX_ENTRIES } from '../host/surface/list';
import { approveSurface } from '../host/surface/review';
import { renderEntries } from '../host/surface/report';
import { describeSnapshot } from '../host/surface/snapshot';
import { CommandIO, incompleteCode, loadReview, plural, printChanges } from './surface-command';

export const CHECK_HELP = `Usage: devsec check [--all] [--max-entries=<n>]

Shows every change the agent in the sandbox could have made since you last approved the
workspace: every file and symlink below the root (tracked, untracked and ignored, dist/ and tmp/
included; only the root's node_modules, .nx and .git are not the sandbox's). First, marked as
such and in full, the files the host's own tools execute or trust without asking (package.json
scripts, project.json targets, nx.json plugins and every file they import, the configs Nx
plugins read while building the graph, tool configs, .env files, .vscode tasks, git hooks and
hook managers, package-manager configs and plugins, .npmrc, .envrc, .devcontainer, nested .git
and node_modules, symlinks, gitlinks, ...); then every other change, one line each. Read what it
shows before running anything on the host; \`devsec trust\` approves it. A gitlink (submodule entry) of the index, HEAD or a local branch whose folder holds
a repository that is not a registered submodule is shown first, approved or not: git status
would run git in it, with that repository's config.

The workspace is the nearest folder from here up holding nx.json and .git. The approved
snapshot lives in your state directory ($XDG_STATE_HOME/devsec/trust, by default
~/.local/state/devsec/trust), one per repository, shared by its worktrees. The first run
records the current files as the baseline.

  -a, --all          every other change as a full diff too
  --max-entries=<n>  stop the walk after n entries (default ${DEFAULT_MAX_ENTRIES})
  -h, --help         this text

Exit: 0 nothing changed (or the baseline was recorded), 1 something changed, the walk could
not see everything or a gitlink leads into a repository, 2 a usage error or no workspace to check.
`;

export async function checkCommand(argv: string[], io: CommandIO): Promise<number> {
  const loaded = loadReview('check', argv, io, CHECK_HELP);
  if (typeof loaded === 'number') return loaded;
  const { review, out } = loaded;
  if (!review.approved) {
    approveSurface(review);
    const count = Object.keys(review.scan.entries).length;
    out(`No snapshot was approved for this repository yet: recorded the ${plural(count, 'file')} below as the baseline.`);
    out('Review them now: from here on, devsec check shows what changes in them.');
    for (const line of renderEntries(review.scan.entries)) out(line);
    return incompleteCode(review);
  }
  if (review.changes.length === 0) {
    out(`Nothing changed since ${describeSnapshot(review.approved)}.`);
    return incompleteCode(review);
  }
  printChanges(loaded);
  out(`${plural(review.changes.length, 'change')} since ${describeSnapshot(review.approved)}.`);
  out('Read them before running anything on the host; `devsec trust` approves them.');
  return 1;
}
