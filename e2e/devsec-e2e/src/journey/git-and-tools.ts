/** The agent's job inside: git in its own git dir, and the workspace's own toolchain (npm, Nx) on a node_modules of its own. */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { inside, journey } from './context';

export function describeGitAndTools(): void {
  it("lets git commit and switch branches; the commit stays in the sandbox's repository (devsec fetch brings it); what git on the host runs stays read-only", () => {
    const { ws } = journey;
    const commit = inside(
      `cd ${ws.dir} && git commit -q --allow-empty -m "from the sandbox" && git switch -q -c agent/scratch && git switch -q - && git log -1 --format="%s by %an <%ae>"`,
    );
    expect(commit.stderr).toBe('');
    // The host user's git identity, carried by .env.
    expect(commit.stdout.trim()).toBe('from the sandbox by devsec e2e <e2e@devsec.invalid>');
    expect(ws.run('git', ['log', '-1', '--format=%s']).stdout.trim()).not.toBe('from the sandbox');
    for (const path of ['.git/hooks/pre-commit', 'apps/app/.devcontainer/docker-compose.yml', 'apps/app/.devcontainer/evil', 'docker-compose.shared.yml']) {
      const write = inside(`echo evil >> ${ws.dir}/${path}`);
      expect([path, write.status, write.stderr]).toEqual([path, 1, expect.stringMatching(/Read-only file system/)]);
    }
    // .git inside is the sandbox's own git dir: its config is written by the host and read-only.
    expect(inside(`git -C ${ws.dir} config devsec.probe planted`).status).not.toBe(0);
    expect(ws.run('git', ['config', '--get', 'devsec.probe'], { allowFailure: true }).stdout).toBe('');
  });

  it('has npm, npx and a node_modules filled from the host on the first start, writable by the agent', () => {
    expect(inside('npm --version && npx --version').status).toBe(0);
    expect(inside(`cd ${journey.ws.dir} && test -x node_modules/.bin/nx && touch node_modules/.written-inside && echo ok`).stdout.trim()).toBe('ok');
    expect(existsSync(join(journey.ws.dir, 'node_modules/.written-inside'))).toBe(false);
  });

  it("runs the workspace's own Nx inside: nx show projects, nx test", () => {
    const hostGraph = join(journey.ws.dir, '.nx/workspace-data/project-graph.json');
    const hostGraphBefore = existsSync(hostGraph) ? statSync(hostGraph).mtimeMs : undefined;
    const projects = inside(`cd ${journey.ws.dir} && npx nx show projects`);
    expect(projects.stdout.split('\n')).toContain('app');
    const test = inside(`cd ${journey.ws.dir} && npx nx test app --skip-nx-cache`);
    expect(`${test.stdout}${test.stderr}`).toMatch(/pass 1/);
    expect(test.status).toBe(0);
    // Nx's cache and workspace data went to the stack's volume, not to the host's .nx.
    expect(inside('ls "$NX_WORKSPACE_DATA_DIRECTORY"').stdout).toContain('project-graph.json');
    expect(existsSync(hostGraph) ? statSync(hostGraph).mtimeMs : undefined).toBe(hostGraphBefore);
  });

  it('installs a local package offline, into its own node_modules only', () => {
    const { ws } = journey;
    const install = inside(
      [
        'mkdir -p /tmp/local-pkg && cd /tmp/local-pkg',
        `echo '{"name":"devsec-local-pkg","version":"1.0.0","main":"index.js"}' > package.json && echo "module.exports = 42" > index.js`,
        'npm pack --silent >/dev/null',
        `cd ${ws.dir} && npm install --offline --no-save --no-audit --no-fund /tmp/local-pkg/devsec-local-pkg-1.0.0.tgz`,
        'node -p "require(\'devsec-local-pkg\')"',
      ].join(' && '),
    );
    expect(install.stdout.trim().split('\n').pop()).toBe('42');
    expect(existsSync(join(ws.dir, 'node_modules/devsec-local-pkg'))).toBe(false);
    expect(ws.run('git', ['status', '--porcelain']).stdout).toBe('');
  });
}
