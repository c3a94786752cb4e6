import type { HasherContext, Task } from '@nx/devkit';
import auditHasher from './audit-hasher';

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
  it("is Nx's hash for the static audit: cached on its inputs", async () => {
    expect((await auditHasher(task({}), context)).value).toBe('abc');
    expect((await auditHasher(task({ format: 'json', live: false }), context)).value).toBe('abc');
  });

  it('never repeats for --live, or for a target whose options say live: never replayed from the cache', async () => {
    const one = await auditHasher(task({ live: true }), context);
    const two = await auditHasher(task({ live: true }), context);
    expect(one.value).toMatch(/^abc-live-/);
    expect(one.value).not.toBe(two.value);
    expect((await auditHasher(task({}, 'audit-live'), context)).value).toMatch(/^abc-live-/);
  });
});
