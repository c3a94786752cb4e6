import { Tree } from '@nx/devkit';
import { parse } from 'yaml';
import { generated, run } from '../../testing/generated-sandbox';
import { readSpec, specFromOptions } from '../../sandbox/spec';
import { workspaceWithProjects } from '../../testing/workspace';
import { worktreeOverrideFile } from '../../host/git/worktree';
import { checkStack } from '../../rules/stack-rules';
import { kernelFindings } from '../../host/audit/kernel';
import { effectiveWorktree, worktreeContext } from '../../testing/effective-models';

describe('secure-devcontainer generator: --runtime (the kernel boundary)', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspaceWithProjects();
  });

  it('stores nothing by default (auto), and sets no runtime in the generated file: up-worktree chooses it per engine', async () => {
    await run(tree);
    expect(readSpec(tree, 'apps/app')?.runtime).toBeUndefined();
    expect(generated(tree).compose.services.app.runtime).toBeUndefined();
  });

  it('stores runsc or runc, keeps it on a re-run without the option, and --runtime=auto goes back to the default', async () => {
    await run(tree, { runtime: 'runc' });
    expect(readSpec(tree, 'apps/app')?.runtime).toBe('runc');
    await run(tree, { force: true });
    expect(readSpec(tree, 'apps/app')?.runtime).toBe('runc');
    await run(tree, { runtime: 'runsc', force: true });
    expect(readSpec(tree, 'apps/app')?.runtime).toBe('runsc');
    await run(tree, { runtime: 'auto', force: true });
    expect(readSpec(tree, 'apps/app')?.runtime).toBeUndefined();
    expect(() => specFromOptions({ runtime: 'kata' as never })).toThrow(/--runtime: "kata" is not a runtime choice/);
  });

  it("the override puts the dev container on the chosen runtime, and with --testContainers the proxy forces it on the agent's children", () => {
    const override = (kernel: { runtime?: string; childRuntime?: boolean }) =>
      parse(worktreeOverrideFile([], { 'docker-proxy': { environment: { A: '1' } } }, {}, {}, kernel)).services;
    expect(override({ runtime: 'runsc', childRuntime: true })).toMatchObject({
      app: { runtime: 'runsc' },
      'docker-proxy': { environment: { A: '1', CHILD_RUNTIME: 'runsc' } },
    });
    expect(override({ runtime: 'runsc' })['docker-proxy'].environment.CHILD_RUNTIME).toBeUndefined();
    expect(override({}).app.runtime).toBeUndefined();
  });

  it('the gate lets runsc through as up-worktree sets it, and refuses any other runtime or a CHILD_RUNTIME it did not choose', () => {
    const rules = (model: ReturnType<typeof effectiveWorktree>, runtime?: string) =>
      checkStack(model, { ...worktreeContext(), runtime }).map((found) => `${found.rule} ${found.service ?? ''}`);
    const onGvisor = effectiveWorktree();
    onGvisor.services.app.runtime = 'runsc';
    expect(rules(onGvisor, 'runsc')).toEqual([]);
    const runc = effectiveWorktree();
    runc.services.app.runtime = 'runc';
    expect(rules(runc)).toEqual(['runtime app']);
    const custom = effectiveWorktree();
    custom.services.web.runtime = 'nvidia';
    expect(rules(custom)).toEqual(['runtime web']);
    const children = effectiveWorktree();
    children['x-devsec'] = { generator: 'secure-devcontainer', options: { testContainers: { allowRegistries: ['docker.io'] } } };
    children.services['docker-proxy'].environment = {
      ...children.services['docker-proxy'].environment,
      WRITE_POLICY: '1',
      WRITE_OWNER: children.name,
      CHILDREN_NETWORK: `${children.name}_children`,
      ALLOW_REGISTRIES: 'docker.io',
      CHILD_RUNTIME: 'runsc',
    };
    expect(rules(children, 'runsc')).toEqual([]);
    expect(rules(children, undefined)).toEqual(['proxy-write-policy docker-proxy']);
    children.services['docker-proxy'].environment.CHILD_RUNTIME = 'runc';
    expect(rules(children, 'runsc')).toEqual(['proxy-write-policy docker-proxy']);
  });

  it('the static audit reports shared-kernel: medium for --runtime=runc on an engine with gVisor, info where the engine has none', async () => {
    const path = 'apps/app/.devcontainer/docker-compose.yml';
    await run(tree);
    const auto = tree.read(path, 'utf-8');
    const has = { names: ['runc', 'runsc'], gvisorArgs: ['--network=host', '--directfs=false'] };
    const lacks = { names: ['runc'] };
    expect(kernelFindings(path, auto, has)).toEqual([]);
    // gVisor registered with directfs: not used (a read-only mount's file could be emptied), said as a note.
    const [direct] = kernelFindings(path, auto, { names: ['runc', 'runsc'], gvisorArgs: ['--network=host'] });
    expect([direct.rule, direct.severity, direct.message]).toEqual(['shared-kernel', 'info', expect.stringMatching(/without --directfs=false/)]);
    expect(kernelFindings(path, auto, undefined)).toEqual([]);
    expect(kernelFindings(path, auto, lacks).map((found) => [found.rule, found.severity])).toEqual([['shared-kernel', 'info']]);
    await run(tree, { runtime: 'runc', force: true });
    const runc = tree.read(path, 'utf-8');
    const [found] = kernelFindings(path, runc, has);
    expect(found).toMatchObject({ rule: 'shared-kernel', severity: 'medium', file: path, line: expect.any(Number) });
    expect(found.message).toMatch(/--runtime=runc: its dev container shares the host's kernel, though the engine has gVisor/);
    expect(kernelFindings(path, runc, lacks)[0].severity).toBe('info');
  });
});
