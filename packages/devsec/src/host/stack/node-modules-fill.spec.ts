import type { Runner } from '../engine/run';
import { fillNodeModulesOnce } from './node-modules-fill';

describe('the node_modules fill: once per dev container', () => {
  /** An engine whose exec answers with `status` and `output`, and records what was asked. */
  const engine = (status: number, output: string) => {
    const calls: string[][] = [];
    const run: Runner = (_command, args) => (calls.push(args), { status, stdout: status === 0 ? output : '', stderr: status === 0 ? '' : output });
    return { calls, run };
  };
  const sayings = () => {
    const said: string[] = [];
    return {
      said,
      say: {
        info: (line: string) => said.push(`info: ${line}`),
        warn: (line: string) => said.push(`warn: ${line}`),
        error: (line: string) => said.push(`error: ${line}`),
      },
    };
  };

  it('fills a container it has not filled, as its user, and remembers it; the same container is not asked again', () => {
    const a = engine(0, "node_modules: copied from the host's install (linux-x64-glibc)");
    const { said, say } = sayings();
    const done = fillNodeModulesOnce('c1', undefined, false, say, a.run);
    expect(done).toEqual({ container: 'c1', ok: true });
    expect(a.calls).toHaveLength(1);
    expect(a.calls[0].slice(0, 4)).toEqual(['exec', '-u', 'node', 'c1']);
    expect(a.calls[0]).not.toContain('DEVSEC_REFILL=1');
    expect(said).toEqual(["info: node_modules: copied from the host's install (linux-x64-glibc)"]);

    const b = engine(0, 'unused');
    const again = sayings();
    expect(fillNodeModulesOnce('c1', done, false, again.say, b.run)).toBe(done);
    expect(b.calls).toEqual([]);
    expect(again.said).toEqual([]);
  });

  it('says a failure once, with how to try again, and does not repeat it for the same container', () => {
    const a = engine(1, "cp: cannot open '/devsec/host-node_modules/x': Permission denied");
    const { said, say } = sayings();
    const failed = fillNodeModulesOnce('c1', undefined, false, say, a.run);
    expect(failed).toEqual({ container: 'c1', ok: false });
    expect(said).toEqual([expect.stringMatching(/^warn: node_modules inside could not be filled \(.*Permission denied\)[^]*--refill-node-modules/)]);
    const b = engine(1, 'Permission denied');
    const again = sayings();
    expect(fillNodeModulesOnce('c1', failed, false, again.say, b.run)).toBe(failed);
    expect(b.calls).toEqual([]);
    expect(again.said).toEqual([]);
  });

  it('asks again for a recreated container, and always with --refill-node-modules (which empties the volume first)', () => {
    const recreated = engine(0, 'node_modules: kept as it is (refill it from the host with --refill-node-modules)');
    expect(fillNodeModulesOnce('c2', { container: 'c1', ok: true }, false, sayings().say, recreated.run)).toEqual({ container: 'c2', ok: true });
    expect(recreated.calls).toHaveLength(1);
    const refill = engine(0, "node_modules: copied from the host's install (linux-x64-glibc)");
    expect(fillNodeModulesOnce('c1', { container: 'c1', ok: false }, true, sayings().say, refill.run)).toEqual({ container: 'c1', ok: true });
    expect(refill.calls[0].slice(0, 6)).toEqual(['exec', '-u', 'node', '-e', 'DEVSEC_REFILL=1', 'c1']);
  });
});
