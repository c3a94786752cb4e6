/**
 * Red team #29, finding 4, on the real engine: with --testContainers the agent may give its own
 * container a shared service's compose labels (compose inside needs them), and `docker ps` lists
 * the newest first. The host looks up the shared Postgres to hand it the administrator's
 * password (tenants), and the shared stack's containers to wait on them: neither lookup may
 * return a container carrying the owner label the proxy stamps on everything the agent creates.
 */
import { describeWithDocker, docker, dockerOk, requireImage, ROOTFS_IMAGE } from '../../../../../tools/testing/docker';
import { OWNER_LABEL } from '../../sandbox/vocabulary';
import { stackContainers } from '../engine/compose-project';
import { runCommand } from '../engine/run';
import { sharedServiceContainer } from './tenants';

const run = Math.random().toString(36).slice(2, 8);
const sharedProject = `devsec-impostor-${run}-shared`;
const real = `devsec-impostor-${run}-postgres`;
const impostor = `devsec-impostor-${run}-child`;
const labels = ['--label', `com.docker.compose.project=${sharedProject}`, '--label', 'com.docker.compose.service=postgres'];

describeWithDocker("the host's lookups of a shared service never find a container the agent made", () => {
  beforeAll(() => {
    requireImage(ROOTFS_IMAGE);
    dockerOk(['run', '-d', '--network', 'none', '--name', real, ...labels, ROOTFS_IMAGE, 'sleep', 'infinity']);
    // What the proxy makes of the agent's `docker run --label <the shared service's labels>`: newer, so listed first.
    dockerOk(['run', '-d', '--network', 'none', '--name', impostor, ...labels, '--label', `${OWNER_LABEL}=app-ws-${run}`, ROOTFS_IMAGE, 'sleep', 'infinity']);
  });

  afterAll(() => {
    docker(['rm', '-f', real, impostor]);
  });

  it('the engine lists the impostor first under the same labels (what the lookup used to take)', () => {
    const listed = dockerOk(['ps', '--filter', `label=com.docker.compose.project=${sharedProject}`, '--format', '{{.Names}}'])
      .trim()
      .split('\n');
    expect(listed).toEqual([impostor, real]);
  });

  it('tenants hand the administrator password to the real service only', () => {
    expect(sharedServiceContainer(sharedProject, 'postgres', runCommand)).toBe(dockerOk(['inspect', '--format', '{{.Id}}', real]).trim());
  });

  it("the shared stack's containers (what up-shared waits on) leave the impostor out", () => {
    expect(stackContainers({ name: sharedProject } as never).map((entry) => entry.Name)).toEqual([real]);
  });
});
