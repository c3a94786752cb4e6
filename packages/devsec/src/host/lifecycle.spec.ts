import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchSandbox, startSandbox, startShared, waitingLine } from './lifecycle';

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

describe('devsec fetch', () => {
  it('is refused on a remote engine before anything is read', () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'tcp://203.0.113.7:2376';
    try {
      const say = { info: jest.fn(), warn: jest.fn(), error: jest.fn() };
      expect(() => fetchSandbox('/nonexistent', 'apps/app/.devcontainer/docker-compose.yml', say)).toThrow(/not on this machine/);
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });

  it('says how many commits wait to be fetched, and nothing when they could not be counted', () => {
    expect(waitingLine(1, 'nx run app:fetch')).toBe('1 commit of the sandbox waits to be fetched: nx run app:fetch');
    expect(waitingLine(3, 'devsec fetch app')).toBe('3 commits of the sandbox wait to be fetched: devsec fetch app');
    expect(waitingLine(0, 'devsec fetch app')).toBe('No commit of the sandbox waits to be fetched.');
    expect(waitingLine(undefined, 'devsec fetch app')).toBeUndefined();
  });
});
