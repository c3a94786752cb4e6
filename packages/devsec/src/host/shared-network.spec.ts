import { ensureSharedNetwork, removeSharedNetworkIfUnused } from './shared-network';
import { stubRunner } from '../testing/stub-runner';

describe('ensureSharedNetwork', () => {
  it('creates a missing network, labelled as ours', () => {
    const run = stubRunner([[/network inspect/, { status: 1, stderr: 'Error: No such network: dev' }]]);
    const said: string[] = [];
    ensureSharedNetwork('dev', run, (line) => said.push(line));
    expect(run.calls[1]).toBe('docker network create --driver bridge --label org.devsec.managed=true dev');
    expect(said).toEqual(['Created the shared network "dev".']);
  });

  it('uses an unlabelled bridge network and says so', () => {
    const said: string[] = [];
    ensureSharedNetwork('dev', stubRunner([[/network inspect/, { stdout: 'bridge <no value>\n' }]]), (line) => said.push(line));
    expect(said).toEqual(['Using the existing network "dev" (not created by @org/devsec).']);
  });

  it('refuses a network of another driver, naming the fix', () => {
    expect(() => ensureSharedNetwork('dev', stubRunner([[/network inspect/, { stdout: 'macvlan <no value>\n' }]]))).toThrow(
      /"dev" exists with driver "macvlan", not bridge. Remove it \(docker network rm dev\) or pick another name/,
    );
  });

  it('accepts a network another worktree created at the same moment', () => {
    const run = stubRunner([
      [/network inspect/, { status: 1 }],
      [/network create/, { status: 1, stderr: 'Error response from daemon: network with name dev already exists' }],
    ]);
    expect(() => ensureSharedNetwork('dev', run, () => undefined)).not.toThrow();
  });
});

describe('removeSharedNetworkIfUnused', () => {
  it('removes our network once nothing is attached', () => {
    const run = stubRunner([[/network inspect/, { stdout: 'true 0\n' }]]);
    removeSharedNetworkIfUnused('dev', run, () => undefined);
    expect(run.calls).toContain('docker network rm dev');
  });
  it.each([
    ['still in use', 'true 2\n'],
    ['not ours', '<no value> 0\n'],
  ])('keeps it when %s', (_name, stdout) => {
    const run = stubRunner([[/network inspect/, { stdout }]]);
    removeSharedNetworkIfUnused('dev', run, () => undefined);
    expect(run.calls.some((call) => call.includes('network rm'))).toBe(false);
  });
});
