import { describeRemoved, removeChildren } from './children';
import type { Runner } from './run';

describe('removeChildren', () => {
  it("removes the containers, networks and volumes labelled with the stack's owner, containers first", () => {
    const calls: string[][] = [];
    const run: Runner = (command, args) => {
      calls.push(args);
      const listing: Record<string, string> = { ps: 'c1\nc2\n', network: 'n1\n', volume: '' };
      const stdout = args[1] === '-aq' || args[1] === 'ls' ? (listing[args[0]] ?? '') : '';
      return { status: 0, stdout, stderr: '' };
    };
    expect(removeChildren('app-ws-1a2b', run)).toEqual({ containers: 2, networks: 1, volumes: 0 });
    expect(calls).toEqual([
      ['ps', '-aq', '--no-trunc', '--filter', 'label=org.devsec.owner=app-ws-1a2b'],
      ['rm', '-f', '-v', 'c1', 'c2'],
      ['network', 'ls', '-q', '--no-trunc', '--filter', 'label=org.devsec.owner=app-ws-1a2b'],
      ['network', 'rm', 'n1'],
      ['volume', 'ls', '-q', '--filter', 'label=org.devsec.owner=app-ws-1a2b'],
    ]);
  });

  it('ignores what is not an id in a listing', () => {
    const run: Runner = (command, args) => ({ status: 0, stdout: args[0] === 'ps' && args[1] === '-aq' ? '--help\n$(x)\n' : '', stderr: '' });
    expect(removeChildren('p', run)).toEqual({ containers: 0, networks: 0, volumes: 0 });
  });

  it('says what was removed', () => {
    expect(describeRemoved({ containers: 2, networks: 1, volumes: 0 })).toBe('2 containers, 1 network');
    expect(describeRemoved({ containers: 0, networks: 0, volumes: 0 })).toBeUndefined();
  });
});
