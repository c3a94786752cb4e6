/** Teardown as the user does it: nothing of the test is left on the engine. */
import { docker, dockerOk } from '../../../../tools/testing/docker';
import { journey, nx, sharedProject } from './context';
import { second } from './second-worktree';

export function describeTeardown(): void {
  it('down-worktree --volumes --images leaves nothing of the stack behind', () => {
    nx(['run', 'app:down-worktree', '--volumes', '--images']);
    const filter = ['--filter', `label=com.docker.compose.project=${journey.project}`];
    expect(dockerOk(['ps', '-aq', ...filter]).trim()).toBe('');
    expect(dockerOk(['network', 'ls', '-q', ...filter]).trim()).toBe('');
    expect(dockerOk(['volume', 'ls', '-q', ...filter]).trim()).toBe('');
    expect(dockerOk(['images', '-q', `${journey.project}-*`]).trim()).toBe('');
  });

  it('down-shared --volumes removes the shared services, their data and the shared network: nothing of the test is left', () => {
    nx(['run', 'shared-infra:down-shared', '--volumes']);
    for (const name of [journey.project, second.project, sharedProject()]) {
      const filter = ['--filter', `label=com.docker.compose.project=${name}`];
      expect(dockerOk(['ps', '-aq', ...filter]).trim()).toBe('');
      expect(dockerOk(['volume', 'ls', '-q', ...filter]).trim()).toBe('');
      expect(dockerOk(['network', 'ls', '-q', ...filter]).trim()).toBe('');
    }
    // The shared network too (other suites running beside this one use networks of their own).
    expect(docker(['network', 'inspect', 'dev']).status).not.toBe(0);
  });
}
