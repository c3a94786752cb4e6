/** The devcontainer CLI as the client: the same stack, from nothing, through initializeCommand. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { dockerOk } from '../../../../tools/testing/docker';
import { REPO_ROOT } from '../workspace';
import { journey, nx } from './context';

export function describeDevcontainerCli(): void {
  const cli = join(REPO_ROOT, 'node_modules', '.bin', 'devcontainer');
  const config = () => ['--workspace-folder', journey.ws.dir, '--config', join(journey.ws.dir, 'apps/app/.devcontainer/devcontainer.json')];
  const images = () =>
    new Set(
      dockerOk(['images', '--format', '{{.Repository}}'])
        .split('\n')
        .filter((name) => name.startsWith('vsc-')),
    );
  let before: Set<string>;

  beforeAll(() => {
    before = images();
  });

  afterAll(() => {
    // The CLI builds an image of its own (to match the user's uid): it goes with the test.
    for (const image of images()) if (!before.has(image)) dockerOk(['rmi', '-f', image]);
  });

  it('brings the same stack up with devcontainer up, and runs docker ps through the proxy with devcontainer exec', () => {
    const { ws, project } = journey;
    // From nothing: no running stack, no .env — initializeCommand must write what compose needs.
    nx(['run', 'app:down-worktree']);
    for (const file of ['.env', 'docker-compose.worktree.yml']) rmSync(join(ws.dir, 'apps/app/.devcontainer', file));
    const up = ws.run(cli, ['up', ...config()]);
    const outcome = JSON.parse(up.stdout.trim().split('\n').pop() as string);
    expect(outcome).toMatchObject({ outcome: 'success', composeProjectName: project, remoteUser: 'node', remoteWorkspaceFolder: ws.dir });
    const ps = ws.run(cli, ['exec', ...config(), 'docker', 'ps', '--format', '{{.Names}}']);
    expect(ps.stdout).toContain(`${project}-docker-proxy-1`);
    expect(ws.run(cli, ['exec', ...config(), 'id', '-u']).stdout.trim()).toBe('1000');
    // The stack VS Code starts pins the definition's folders too (the override initializeCommand wrote):
    // the red team's move of apps/app aside, to plant a definition of its own, fails.
    const moved = ws.run(cli, ['exec', ...config(), 'bash', '-c', 'mkdir -p apps/tmp && mv apps/app apps/tmp/app'], { allowFailure: true });
    expect([moved.status, moved.stderr]).toEqual([1, expect.stringMatching(/Device or resource busy/)]);
    const refused = ws.run(cli, ['exec', ...config(), 'docker', 'run', '--rm', 'node:24-trixie-slim', 'true'], { allowFailure: true });
    expect(refused.status).not.toBe(0);
    expect(refused.stderr + refused.stdout).toContain('devsec sandbox policy');
  });
}
