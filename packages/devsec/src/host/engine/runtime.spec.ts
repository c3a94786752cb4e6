import { stubRunner } from '../../testing/stub-runner';
import { chooseRuntime, engineRuntimes, kernelLine } from './runtime';

const WITH_GVISOR = JSON.stringify({ runc: { path: 'runc' }, runsc: { path: '/usr/bin/runsc', runtimeArgs: ['--network=host', '--directfs=false'] } });
const WITHOUT = JSON.stringify({ 'io.containerd.runc.v2': { path: 'runc' }, runc: { path: 'runc' } });

describe('the kernel boundary: the engine runtimes and the dev container runtime', () => {
  it("reads the engine's runtimes from one docker info, and where it runs gVisor from", () => {
    const run = stubRunner([[/^docker info/, { stdout: `${WITH_GVISOR}\n` }]]);
    expect(engineRuntimes(run)).toEqual({ names: ['runc', 'runsc'], gvisorPath: '/usr/bin/runsc', gvisorArgs: ['--network=host', '--directfs=false'] });
    expect(run.calls).toEqual(['docker info --format {{json .Runtimes}}']);
    // A name no engine registers is left out, never carried into a compose file.
    expect(engineRuntimes(stubRunner([[/^docker info/, { stdout: JSON.stringify({ 'runc\nx': {}, runc: {} }) }]])).names).toEqual(['runc']);
  });

  it('puts the dev container on runsc when the sandbox does not opt out and the engine has it', () => {
    const has = { names: ['runc', 'runsc'], gvisorPath: '/usr/bin/runsc', gvisorArgs: ['--directfs=false'] };
    const lacks = { names: ['io.containerd.runc.v2', 'runc'] };
    // gVisor with directfs (its default): a read-only mount's file can be emptied from inside; not used, and --runtime=runsc refused.
    const direct = { names: ['runc', 'runsc'], gvisorPath: '/usr/bin/runsc', gvisorArgs: ['--network=host'] };
    expect(chooseRuntime('auto', direct, 'app')).toBeUndefined();
    expect(() => chooseRuntime('runsc', direct, 'app')).toThrow(/runs runsc without --directfs=false[^]*"runtimeArgs"/);
    expect(kernelLine(undefined, direct)).toMatch(/^Kernel: shared with the host \(runc\): the engine's runsc runs without --directfs=false/);
    expect(chooseRuntime('auto', has, 'app')).toBe('runsc');
    expect(chooseRuntime('runsc', has, 'app')).toBe('runsc');
    expect(chooseRuntime('runc', has, 'app')).toBeUndefined();
    expect(chooseRuntime('auto', lacks, 'app')).toBeUndefined();
    expect(chooseRuntime('runc', lacks, 'app')).toBeUndefined();
  });

  it("refuses --runtime=runsc on an engine without gVisor, naming the engine's runtimes and how to register it", () => {
    const lacks = engineRuntimes(stubRunner([[/^docker info/, { stdout: WITHOUT }]]));
    expect(() => chooseRuntime('runsc', lacks, 'app')).toThrow(
      "Refusing to start: app's sandbox is generated with --runtime=runsc (gVisor), and the engine has no runsc: its runtimes are io.containerd.runc.v2, runc. " +
        'To register gVisor: install gVisor from 2024 or later (Debian 13: apt-get install runsc',
    );
    expect(() => chooseRuntime('runsc', lacks, 'app')).toThrow(
      /"runtimes": \{"runsc": \{"path": "\/usr\/bin\/runsc", "runtimeArgs": \["--directfs=false"\]\}\} to \/etc\/docker\/daemon\.json[^]*reload dockerd/,
    );
  });

  it('says at every start which kernel boundary holds', () => {
    // The engine's runsc is a program of this machine (here /bin/sh stands in for it): its version is said.
    const version = stubRunner([[/^\/bin\/sh --version$/, { stdout: 'runsc version 0.0~20240729.0\nspec: 1.2.0\n' }]]);
    expect(kernelLine('runsc', { names: ['runc', 'runsc'], gvisorPath: '/bin/sh' }, version)).toBe(
      "Kernel: gVisor (runsc 0.0~20240729.0): the dev container runs on a kernel of its own, not the host's. IPv6 stays off on its loopback: the localhost forwarder answers on 127.0.0.1 (and localhost), not on ::1.",
    );
    // Debian 12's build: coreutils' statx fails on it, said at the start.
    const old = stubRunner([[/^\/bin\/sh --version$/, { stdout: 'runsc version 0.0~20221219.0\nspec: 1.0.2-dev\n' }]]);
    expect(kernelLine('runsc', { names: ['runsc'], gvisorPath: '/bin/sh' }, old)).toContain(
      'This runsc (20221219) is older than 20240101: ls and stat fail inside (statx); install a newer one.',
    );
    // Not on this machine (an engine in a VM): gVisor without a version.
    expect(kernelLine('runsc', { names: ['runsc'], gvisorPath: '/nonexistent/runsc' })).toMatch(/^Kernel: gVisor \(runsc\):/);
    expect(kernelLine(undefined, { names: ['runc', 'runsc'], gvisorArgs: ['--directfs=false'] })).toMatch(
      /^Kernel: shared with the host \(runc\): the sandbox is generated with --runtime=runc/,
    );
    expect(kernelLine(undefined, { names: ['runc'] })).toMatch(/^Kernel: shared with the host \(runc\) — register gVisor to add a boundary: install gVisor/);
  });
});
