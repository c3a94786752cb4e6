/**
 * The nested-git part of the gate: a `.git` below the root that is not a registered submodule,
 * or a gitlink leading into one, is where the host's git and VS Code would run git on the
 * agent's terms (host/git/nested-git.ts, host/git/gitlinks.ts).
 */
import { SandboxError } from '../../sandbox/errors';
import type { Say } from '../../sandbox/say';
import { shellWord } from '../../sandbox/visible';
import { describeUnsafeGitlink, GitlinkScan, scanGitlinks } from '../git/gitlinks';
import type { SandboxStack } from '../stack/sandbox-stack';

/**
 * Refuses `.git`s below the root that are not registered submodules (unless allowed by name) —
 * first those a gitlink of the index or a branch leads the host's git into (host/gitlinks.ts).
 */
export function gateNestedGit(stack: SandboxStack, unsafeAllow: string[], say: Say, gitlinks: GitlinkScan = scanGitlinks(stack.identity.git)): void {
  const linked = new Set(gitlinks.unsafe.map((gitlink) => gitlink.dotGit));
  const strays = (stack.nestedGit?.strays ?? []).filter((stray) => !linked.has(stray));
  const truncated = stack.nestedGit?.truncated;
  const unseen = [...(truncated ? [`the search ${truncated}`] : []), ...gitlinks.unreadable.map((what) => `could not read ${what}`)];
  if (strays.length === 0 && linked.size === 0 && unseen.length === 0) return;
  if (unsafeAllow.includes('nested-git')) {
    say.warn(
      `UNSAFE: nested-git allowed by --unsafe-allow: ${[...gitlinks.unsafe.map(describeUnsafeGitlink), ...strays.map(shellWord), ...unseen].join(', ')}`,
    );
    return;
  }
  if (linked.size > 0) {
    throw new SandboxError(
      "Refusing to start: a gitlink (submodule entry) in your index or a branch leads into a repository that is not a registered submodule: after `git reset` or a checkout, the host's `git status` and VS Code run git in that folder with its config (core.fsmonitor):\n" +
        [...gitlinks.unsafe.map((gitlink) => `  - ${describeUnsafeGitlink(gitlink)}`), ...strays.map((path) => `  - ${shellWord(path)}`)].join('\n') +
        '\nRun no git in this worktree but `git status --ignore-submodules=all` until that .git is gone: remove it (if an agent made it, it is not yours), then drop the commit that added the gitlink. ' +
        'To start anyway: --unsafe-allow=nested-git.',
    );
  }
  // A search cut short proves nothing: a .git may sit just past where it stopped (an agent can nest one that deep).
  if (strays.length === 0) {
    throw new SandboxError(
      `Refusing to start: looking for nested .git folders, ${unseen.join('; ')}, so one may sit beyond it, where the host's git or VS Code would run git on its terms. ` +
        'Find out what made the workspace that deep or that large (devsec check lists nested .git folders), or start anyway with --unsafe-allow=nested-git.',
    );
  }
  throw new SandboxError(
    `Refusing to start: a .git below the workspace root is not a registered submodule, and the host's git or VS Code would run git there on its terms:\n` +
      // Names the agent chose, each one shell word: a line pasted into a shell names it, never runs it.
      strays.map((path) => `  - ${shellWord(path)}`).join('\n') +
      '\nRemove it (if an agent made it, it is not yours), or make your own repository a submodule (git submodule add). ' +
      'To start anyway: --unsafe-allow=nested-git.',
  );
}
