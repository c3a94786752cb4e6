/**
 * The repository boundary, tried as an attacker would, on the real engine: the sandbox has a
 * repository of its own (git-mounts.ts), the repository's objects read-only behind its alternates.
 * The agent (docker exec as the container's user) replaces a loose object the host has, wherever
 * the sandbox's git could find it, commits, branches, moves a host branch by name, writes
 * packed-refs, plants symlinks, a hard link, a commondir and an alternates entry; then the host
 * starts again and does what a user does next — status, checkout, worktree add, fsck. Pass: the
 * host's refs, index, objects and files are byte for byte as before, and git works inside.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describeWithDocker, docker } from '../../../../tools/testing/docker';
import { createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import { REPOSITORY_OBJECTS_INSIDE } from '../host/git/git-mounts';

jest.setTimeout(600_000);

describeWithDocker("the repository boundary: the sandbox's repository is its own, the host's is read-only inside", () => {
  let stack: SandboxStackFixture;
  let dir: string;
  let app: string;
  let home: string;
  let branch: string;
  const inside = (script: string) => docker(['exec', '-u', 'node', '-w', dir, app, 'bash', '-c', script]);
  /** git on the host, as the checkout's owner runs it. */
  const hostGit = (...args: string[]) => stack.hostGit(...args);
  const up = async () => {
    const { success, errors } = await stack.up();
    app = stack.app;
    return { success, errors };
  };
  /** Every file of the repository's refs, packed-refs, HEAD, index and objects: path, mode, size and content hash. */
  const fingerprint = () => {
    const common = join(dir, '.git');
    const lines: string[] = [];
    const visit = (path: string) => {
      const stat = statSync(path);
      if (stat.isDirectory()) {
        for (const entry of readdirSync(path).sort()) visit(join(path, entry));
        return;
      }
      lines.push(`${relative(common, path)} ${stat.mode.toString(8)} ${stat.size} ${createHash('sha256').update(readFileSync(path)).digest('hex')}`);
    };
    for (const part of ['refs', 'objects', 'packed-refs', 'HEAD', 'index', 'config', 'hooks', 'info'])
      if (existsSync(join(common, part))) visit(join(common, part));
    return lines.join('\n');
  };

  beforeAll(async () => {
    stack = await createSandboxStack('repo', {
      prepare: (root) => writeFileSync(join(root, 'README.md'), 'the host wrote this\n'),
      committed: (ws) => {
        ws.git('commit', '-q', '--allow-empty', '-m', 'second on the host');
        ws.git('branch', 'side');
        ws.git('tag', '-a', '-m', 'a tag', 'v1');
      },
    });
    ({ dir, home } = stack);
    branch = hostGit('branch', '--show-current').stdout.trim();
    expect(await up()).toEqual({ success: true, errors: '' });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("lets git work inside on the repository's history: log, status, commit, branch, rebase — and none of it moves the host's branches", async () => {
    const hostLog = hostGit('log', '--format=%H %s').stdout;
    expect(inside('git log --format="%H %s"').stdout).toBe(hostLog);
    expect(inside('git tag -l && git branch --format="%(refname:short)"').stdout.trim().split('\n').sort()).toEqual(['side', branch, 'v1'].sort());
    const work = inside(
      [
        'echo hello > hello.txt && git add hello.txt && git commit -q -m "from the sandbox"',
        'git switch -q -c topic HEAD~1 && echo topic > topic.txt && git add topic.txt && git commit -q -m "on topic"',
        `git switch -q ${branch} && git rebase -q topic && git log --format=%s -3`,
      ].join(' && '),
    );
    expect(work.stderr).toBe('');
    expect(work.stdout.trim().split('\n')).toEqual(['from the sandbox', 'on topic', 'second on the host']);
    // (docker-compose.shared.yml: written by the first start, not committed here.)
    expect(inside('git status --short').stdout).toBe('?? docker-compose.shared.yml\n');
    // The host's branches and HEAD stay; the new files are in the worktree, as any change the agent makes.
    expect(hostGit('log', '--format=%H %s').stdout).toBe(hostLog);
    expect(hostGit('branch', '--list', 'topic').stdout).toBe('');
    expect(hostGit('status', '--short').stdout).toBe('?? docker-compose.shared.yml\n?? hello.txt\n?? topic.txt\n');
    // The agent's commits are in the sandbox's own objects, and none in the repository's.
    const agentHead = inside('git rev-parse HEAD').stdout.trim();
    expect(hostGit('cat-file', '-e', agentHead).status).not.toBe(0);
    // A restart keeps the agent's branches (they wait for devsec fetch).
    const topic = inside('git rev-parse topic').stdout.trim();
    expect(await up()).toEqual({ success: true, errors: '' });
    expect(inside('git rev-parse HEAD topic').stdout.trim().split('\n')).toEqual([agentHead, topic]);
    // Back to the host's commit: the branch follows the host again from the next start.
    const reset = inside(`git reset -q --hard ${hostGit('rev-parse', 'HEAD').stdout.trim()} && git branch -q -D topic && git status --short`);
    expect(reset).toMatchObject({ status: 0, stdout: '?? docker-compose.shared.yml\n' });
  });

  it("keeps the repository byte for byte as it was whatever the agent plants in the sandbox's repository, and the host's git reads its own objects", async () => {
    // git status refreshes the index's stat data: once first, so the fingerprint is of the settled index.
    hostGit('status');
    const statusBefore = hostGit('status', '--porcelain=v2', '--branch').stdout;
    const before = fingerprint();
    const readme = hostGit('rev-parse', 'HEAD:README.md').stdout.trim();
    const loose = join(dir, '.git/objects', readme.slice(0, 2), readme.slice(2));
    expect(existsSync(loose)).toBe(true);
    const sideBefore = hostGit('rev-parse', 'side').stdout.trim();

    // 1. The loose object of README.md, wherever the sandbox's git could find it: its own objects (the agent's, and only its git reads them), the alternate.
    const forge = inside(
      [
        `forged=$(printf 'the agent wrote this\\n' | git hash-object -w --stdin)`,
        `own=$(git rev-parse --git-path objects)/${readme.slice(0, 2)}`,
        `mkdir -p $own && cp $(git rev-parse --git-path objects)/\${forged:0:2}/\${forged:2} $own/${readme.slice(2)}`,
        `(cp $own/${readme.slice(2)} ${REPOSITORY_OBJECTS_INSIDE}/${readme.slice(0, 2)}/${readme.slice(2)} || true)`,
        `(rm -f ${REPOSITORY_OBJECTS_INSIDE}/${readme.slice(0, 2)}/${readme.slice(2)} || true)`,
        `(chmod u+w ${REPOSITORY_OBJECTS_INSIDE}/${readme.slice(0, 2)} || true)`,
        `(mv ${REPOSITORY_OBJECTS_INSIDE}/${readme.slice(0, 2)} ${REPOSITORY_OBJECTS_INSIDE}/moved || true)`,
        'git cat-file -p HEAD:README.md',
      ].join('\n'),
    );
    // The sandbox's git reads the forgery (its own objects come first): the agent fools only itself.
    expect(forge.stdout).toBe('the agent wrote this\n');
    // Each of the four writes refused: runc says Read-only file system; gVisor's gofer checks a 0444 file's mode first (Permission denied).
    expect(forge.stderr.match(/Read-only file system|Permission denied/g)?.length).toBeGreaterThanOrEqual(4);
    // 2–5. A commit on the checked-out branch, a branch, a host branch moved by name, packed-refs written.
    const refs = inside(
      [
        'git commit -q --allow-empty -m "agent on the branch"',
        'git branch agent/evil',
        'git update-ref refs/heads/side $(git commit-tree HEAD^{tree} -m "moved side")',
        // Sorted last, so git's binary search of packed-refs finds it.
        'printf "%s refs/tags/zzz-planted\\n" $(git rev-parse HEAD) >> $(git rev-parse --git-path packed-refs)',
        'git rev-parse side zzz-planted',
      ].join(' && '),
    );
    expect(refs).toMatchObject({ status: 0, stderr: '' });
    // 6–9. A symlink and a hard link in its objects, a commondir, an alternates entry naming a host path.
    const plants = inside(
      [
        'exec 2>&1',
        'objects=$(git rev-parse --git-path objects)',
        `mkdir -p $objects/ee && ln -s ${loose} $objects/ee/${'e'.repeat(38)}`,
        `ln -s ${REPOSITORY_OBJECTS_INSIDE} $objects/pack/link-to-repository`,
        `ln ${REPOSITORY_OBJECTS_INSIDE}/${readme.slice(0, 2)}/${readme.slice(2)} $objects/ee/hardlinked`,
        `echo ${join(dir, '.git/objects')} >> $objects/info/alternates`,
        `echo ${join(home, 'evil')} > $objects/info/http-alternates`,
        `echo ${join(dir, '.git')} > $(git rev-parse --git-dir)/commondir`,
      ].join('\n'),
    );
    expect(plants.stdout).toMatch(/Invalid cross-device link|Operation not permitted/);
    // The alternates are not the agent's: read-only (or not its own to create in).
    expect(plants.stdout.match(/info\/(http-)?alternates: (Read-only file system|Permission denied)/g)?.length).toBe(2);

    // The host starts again, then does what a user does.
    expect(await up()).toEqual({ success: true, errors: '' });
    expect(fingerprint()).toBe(before);
    expect(hostGit('status', '--porcelain=v2', '--branch').stdout).toBe(statusBefore);
    expect(hostGit('cat-file', '-p', readme).stdout).toBe('the host wrote this\n');
    expect(hostGit('rev-parse', 'side').stdout.trim()).toBe(sideBefore);
    expect(hostGit('for-each-ref', '--format=%(refname)').stdout).not.toMatch(/zzz-planted|agent\/evil/);
    writeFileSync(join(dir, 'README.md'), 'changed on the host\n');
    expect(hostGit('checkout', '--', 'README.md').status).toBe(0);
    expect(readFileSync(join(dir, 'README.md'), 'utf-8')).toBe('the host wrote this\n');
    const worktree = join(home, 'wt');
    expect(hostGit('worktree', 'add', '-q', '--detach', worktree, 'side').status).toBe(0);
    expect(readFileSync(join(worktree, 'README.md'), 'utf-8')).toBe('the host wrote this\n');
    expect(hostGit('worktree', 'remove', '--force', worktree).status).toBe(0);
    const fsck = hostGit('fsck', '--full');
    expect([fsck.status, fsck.stderr]).toEqual([0, '']);
    expect(fsck.stdout).not.toMatch(/missing|corrupt|error/);

    // Inside, the agent's branch and the moved side are the sandbox's, kept; the commondir is the agent's to remove.
    inside('rm -f .git/commondir');
    expect(inside('git log -1 --format=%s side').stdout.trim()).toBe('moved side');
  });

  describe('issue 27: the next start walks nothing of the agent by path', () => {
    const victims = ['victim-a', 'victim-b', 'victim-c', 'victim-d'];
    const victimFolder = () => {
      const folder = mkdtempSync(join(tmpdir(), 'devsec-repo-victim-'));
      for (const name of victims) writeFileSync(join(folder, name), 'the user\u2019s file\n', { mode: 0o600 });
      chmodSync(folder, 0o755);
      return folder;
    };
    /** Inside: `watched` a folder of many entries, among them the victims' names; at the host's first touch (inotify) it becomes a symlink to the host folder. */
    const plantRace = (prep: string, watched: string, victimDir: string) => {
      const plant = inside(
        `cd .git && ${prep} && mkdir -p ${watched} && (cd ${watched} && seq 1 30000 | xargs touch && touch ${victims.join(' ')}) && ` +
          `(node -e "const fs=require('fs');let done=false;fs.watch('${watched}',()=>{if(done)return;done=true;fs.renameSync('${watched}','${watched}.old-'+Date.now());fs.symlinkSync('${victimDir}','${watched}');process.exit(0)});setTimeout(()=>process.exit(1),120000)" > /dev/null 2>&1 &) ; echo planted`,
      );
      expect([plant.stdout.trim(), plant.stderr]).toEqual(['planted', '']);
    };

    it('pins objects and refs: the agent cannot rename them to plant a folder under the read-only alternates or refs/replace', () => {
      for (const folder of ['objects', 'refs']) {
        const moved = inside(`mv .git/${folder} .git/${folder}.agent`);
        expect(moved.status).not.toBe(0);
        expect(moved.stderr).toMatch(/busy/i);
      }
      expect(inside('cat .git/objects/info/alternates').stdout).toBe(`${REPOSITORY_OBJECTS_INSIDE}\n`);
      expect(inside('mkdir .git/objects/info/big').status).not.toBe(0);
      expect(inside('mkdir .git/refs/replace/big').status).not.toBe(0);
    });

    it('shallow made a folder inside, swapped for a symlink to a host folder mid-start: the host sets it aside whole, no host file is deleted', async () => {
      const victimDir = victimFolder();
      plantRace('true', 'shallow', victimDir);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await up()).toEqual({ success: true, errors: '' });
      expect(victims.filter((victim) => existsSync(join(victimDir, victim)))).toEqual(victims);
      // Set aside whole, as the agent left it; git works inside once the agent's leftovers are gone.
      expect(Number(inside('ls .git/.devsec-set-aside-*/ | wc -l').stdout.trim())).toBeGreaterThanOrEqual(30000);
      inside('rm -rf .git/shallow .git/shallow.old-* .git/.devsec-set-aside-*');
      expect(inside('git status --short >/dev/null && echo ok').stdout.trim()).toBe('ok');
      rmSync(victimDir, { recursive: true, force: true });
    });

    it('HEAD deleted inside: the next start creates what is missing in place and removes nothing — and, as root, chowns no host file through a swapped folder', async () => {
      const victimDir = victimFolder();
      plantRace('rm -f HEAD', 'zz', victimDir);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect(await up()).toEqual({ success: true, errors: '' });
      expect(victims.filter((victim) => existsSync(join(victimDir, victim)))).toEqual(victims);
      expect(victims.map((victim) => statSync(join(victimDir, victim)).uid)).toEqual(victims.map(() => process.getuid!()));
      expect(inside('git rev-parse --abbrev-ref HEAD').stdout.trim()).toBe(branch);
      inside('rm -rf .git/zz .git/zz.old-* .git/.devsec-set-aside-*');
      rmSync(victimDir, { recursive: true, force: true });
    });
  });
});
