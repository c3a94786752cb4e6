/**
 * What the agent writes, as the host's Nx then reads it: options that widen the sandbox in
 * project.json, a .env that Nx loads. Each start is refused, naming the file.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dockerOk } from '../../../../tools/testing/docker';
import { inside, journey, nx } from './context';

export function describeHostBoundary(): void {
  const mounts = () => dockerOk(['inspect', '-f', '{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}', journey.app]).trim().split(' ').sort();

  it('refuses --unsafe-allow written into project.json by the agent, naming the file', () => {
    const { ws } = journey;
    const file = join(ws.dir, 'apps/app/project.json');
    const original = readFileSync(file, 'utf-8');
    const planted = JSON.parse(original);
    planted.targets['up-worktree'] = { options: { unsafeAllow: ['privileged', 'socket-mount'] } };
    expect(inside(`cat > ${file} <<'JSON'\n${JSON.stringify(planted)}\nJSON`).status).toBe(0);
    try {
      const up = nx(['run', 'app:up-worktree'], { allowFailure: true });
      expect(up.status).not.toBe(0);
      expect(`${up.stdout}${up.stderr}`).toMatch(/unsafeAllow, set in apps\/app\/project\.json/);
    } finally {
      writeFileSync(file, original);
    }
  });

  it('refuses a .env that Nx loads when it sets what steers the sandbox, naming it; nothing new is mounted', () => {
    const before = mounts();
    expect(inside(`echo DEVSEC_WORKSPACE=/ >> ${journey.ws.dir}/.env`).status).toBe(0);
    try {
      const up = nx(['run', 'app:up-worktree'], { allowFailure: true });
      expect(up.status).not.toBe(0);
      expect(`${up.stdout}${up.stderr}`).toMatch(/\.env:1 sets DEVSEC_WORKSPACE/);
      expect(mounts()).toEqual(before);
    } finally {
      journey.ws.run('rm', ['-f', join(journey.ws.dir, '.env')]);
    }
  });
}
