import type { HasherContext, Task } from '@nx/devkit';
import { auditHasherWith } from './hasher';

let names: string[] | undefined = ['runc'];
const auditHasher = auditHasherWith(() => (names ? { names } : undefined));

const task = (overrides: Record<string, unknown>, target = 'audit') =>
  ({ id: `app:${target}`, target: { project: 'app', target }, overrides, outputs: [], parallelism: true }) as unknown as Task;

const context = {
  hasher: { hashTask: jest.fn(async () => ({ value: 'abc', details: { command: 'x', nodes: {} } })) },
  taskGraph: {},
  projectGraph: {
    nodes: {
      app: { data: { targets: { audit: { options: { composeFile: 'c' } }, 'audit-live': { options: { composeFile: 'c', live: true } } } } },
    },
  },
} as unknown as HasherContext;

describe('the audit hasher', () => {
  it("is Nx's hash for the static audit and the engine's runtimes: cached on its inputs, re-run once gVisor is registered", async () => {
    names = ['runc'];
    expect((await auditHasher(task({}), context)).value).toBe('abc-runtimes-runc');
    expect((await auditHasher(task({ format: 'json', live: false }), context)).value).toBe('abc-runtimes-runc');
    names = ['runsc', 'runc'];
    expect((await auditHasher(task({}), context)).value).toBe('abc-runtimes-runc,runsc');
    names = undefined;
    expect((await auditHasher(task({}), context)).value).toBe('abc-runtimes-no-engine');
  });

  it('never repeats for --live, or for a target whose options say live: never replayed from the cache', async () => {
    const one = await auditHasher(task({ live: true }), context);
    const two = await auditHasher(task({ live: true }), context);
    expect(one.value).toMatch(/^abc-live-/);
    expect(one.value).not.toBe(two.value);
    expect((await auditHasher(task({}, 'audit-live'), context)).value).toMatch(/^abc-live-/);
  });
});
