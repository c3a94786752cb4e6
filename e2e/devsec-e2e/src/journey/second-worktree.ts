/** A second git worktree's sandbox, up at the same time: a stack of its own, the same shared services. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { dockerOk } from '../../../../tools/testing/docker';
import { chownToCheckoutUser } from '../workspace';
import { inside, journey, nx } from './context';

export const second = { dir: '', project: '' };

export function describeSecondWorktree(): void {
  const insideSecond = (script: string) => inside(script, `${second.project}-app-1`);

  beforeAll(() => {
    const { ws } = journey;
    second.dir = join(dirname(ws.dir), 'agent-2');
    ws.run('git', ['worktree', 'add', '-q', '-b', 'agent/two', second.dir]);
    ws.run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: second.dir });
    // `git worktree add` ran as root: hand the new worktree and its gitdir to the user too.
    chownToCheckoutUser({ ...ws, dir: second.dir });
    chownToCheckoutUser({ ...ws, dir: join(ws.dir, '.git') });
    nx(['run', 'app:up-worktree'], { cwd: second.dir });
    second.project = /COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(second.dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1] as string;
  });

  afterAll(() => {
    nx(['run', 'app:down-worktree', '--volumes', '--images'], { cwd: second.dir, allowFailure: true });
  });

  it("forwards localhost to its own web service, not the other worktree's", () => {
    const web = dockerOk(['inspect', '-f', '{{.Config.Hostname}}', `${second.project}-web-1`]).trim();
    expect(insideSecond('curl -s -m 5 http://localhost:3000').stdout).toBe(`web ${web}`);
    expect(inside('curl -s -m 5 http://localhost:3000').stdout).not.toBe(`web ${web}`);
  });

  it("uses the same postgres, with a database of its own: the first worktree's table is not there", () => {
    expect(insideSecond('psql "$DATABASE_URL" -tAc "select current_database(), to_regclass(\'notes\') is null"').stdout.trim()).toMatch(
      /^app_app_agent_2_[0-9a-f]{8}\|t$/,
    );
  });

  it("runs as a stack of its own, and sees none of the other worktree's containers", () => {
    expect(second.project).toMatch(/^app-agent-2-[0-9a-f]{8}$/);
    expect(second.project).not.toBe(journey.project);
    const names = insideSecond('docker ps --format "{{.Names}}"').stdout.trim().split('\n');
    expect(names).toContain(`${second.project}-docker-proxy-1`);
    expect(names.filter((name) => name.startsWith(journey.project))).toEqual([]);
    expect(insideSecond(`docker inspect ${journey.project}-app-1`).stderr).toMatch(/No such object/);
  });

  it("reaches its own proxy and not the other worktree's", () => {
    const ip = (container: string) => dockerOk(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', container]).trim();
    const ownProxy = ip(`${second.project}-docker-proxy-1`);
    const otherProxy = ip(`${journey.project}-docker-proxy-1`);
    expect(insideSecond('getent hosts docker-proxy').stdout.trim().split(/\s+/)[0]).toBe(ownProxy);
    // Directly (--noproxy): these are routes, not requests the egress proxy would refuse.
    expect(insideSecond(`curl -s -m 3 --noproxy '*' http://${ownProxy}:2375/_ping`).stdout).toBe('OK');
    expect(insideSecond(`curl -s -m 3 --noproxy '*' http://${otherProxy}:2375/_ping`).status).not.toBe(0);
    expect(inside(`curl -s -m 3 --noproxy '*' http://${ownProxy}:2375/_ping`).status).not.toBe(0);
  });

  it("audit --live holds in both worktrees: every forbidden call refused, the other's proxy silent, no finding", () => {
    for (const cwd of [journey.ws.dir, second.dir]) {
      const audit = nx(['run', 'app:audit', '--live'], { cwd });
      const summary =
        /(\d+) of (\d+) forbidden Docker calls refused; (\d+) socket file\(s\) found; (\d+) of (\d+) addresses without any HTTP answer \((\d+) of them other sandboxes' proxies\); (\d+) of (\d+) sandbox paths read-only/.exec(
          audit.stdout,
        );
      expect(summary).not.toBeNull();
      const [refused, calls, sockets, silent, addresses, otherProxies, readOnly, paths] = summary!.slice(1).map(Number);
      expect([refused, sockets, silent, readOnly]).toEqual([calls, 0, addresses, paths]);
      expect(calls).toBeGreaterThan(20);
      expect(otherProxies).toBeGreaterThanOrEqual(1);
      expect(audit.stdout).toContain('No findings');
    }
  });

  it("runs git inside the linked worktree; its .git file and the repository stay read-only, and the commit stays in the sandbox's repository", () => {
    const commit = insideSecond('git status --short && git commit -q --allow-empty -m "from worktree two" && git branch --show-current');
    expect(commit.stderr).toBe('');
    expect(commit.stdout.trim()).toBe('agent/two');
    expect(insideSecond('git log -1 --format=%s agent/two').stdout.trim()).toBe('from worktree two');
    expect(journey.ws.run('git', ['log', '-1', '--format=%s', 'agent/two']).stdout.trim()).not.toBe('from worktree two');
    const common = join(journey.ws.dir, '.git');
    for (const path of [`${second.dir}/.git`, `${common}/hooks/post-checkout`, `${common}/worktrees/agent-2/commondir`, `${common}/config`]) {
      const write = insideSecond(`echo gitdir: /tmp/evil >> ${path}`);
      expect([path, write.stderr]).toEqual([path, expect.stringMatching(/Read-only file system/)]);
    }
    expect(journey.ws.run('git', ['status', '--short'], { cwd: second.dir }).status).toBe(0);
  });
}
