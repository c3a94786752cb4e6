import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, startShared } from './lifecycle';

describe('starting on a remote engine', () => {
  const said: string[] = [];
  const say = { info: (line: string) => said.push(line), warn: (line: string) => said.push(line), error: (line: string) => said.push(line) };
  let dir: string;
  const saved = process.env.DOCKER_HOST;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'devsec-remote-'));
    // An address that may even answer: nothing may be asked of it.
    process.env.DOCKER_HOST = 'tcp://203.0.113.7:2376';
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
    if (saved === undefined) delete process.env.DOCKER_HOST;
    else process.env.DOCKER_HOST = saved;
  });

  it('is refused by the shared services and the sandbox before anything is asked of the engine or written', async () => {
    await expect(startShared(dir, 'docker-compose.shared.yml', say)).rejects.toThrow(/not on this machine \(DOCKER_HOST=tcp:\/\/203\.0\.113\.7:2376\)/);
    await expect(startSandbox(dir, 'apps/app/.devcontainer/docker-compose.yml', { downCommand: 'x' }, say)).rejects.toThrow(/not on this machine/);
    expect(said).toEqual([]);
  });
});
