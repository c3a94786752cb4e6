/**
 * The kernel boundary of a sandbox: which OCI runtimes the engine has (`docker info` → Runtimes),
 * and which one the dev container runs on. gVisor (runsc) puts a kernel of its own between the
 * agent and the host's; runc shares the host's. Asked at every start, never cached: registering
 * a runtime reloads the daemon (SIGHUP) without re-creating its socket, which the engine cache keys on.
 */
import { existsSync } from 'node:fs';
import { SandboxError } from '../../sandbox/errors';
import { GVISOR_RUNTIME, RuntimeChoice } from '../../sandbox/vocabulary';
import { visible } from '../../sandbox/visible';
import { lastLine, preflightEngine } from './engine';
import { runCommand, Runner } from './run';

/** A runtime name as engines register it (and as the socket proxy's CHILD_RUNTIME takes it). */
export const RUNTIME_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export interface EngineRuntimes {
  /** The runtimes the engine lists, by name (odd names left out). */
  names: string[];
  /** Where the engine runs gVisor from, when it lists it (a path on the engine's machine). */
  gvisorPath?: string;
  /** The arguments the engine gives runsc (its registration's runtimeArgs). */
  gvisorArgs?: string[];
}

/**
 * What gVisor must be registered with for the sandbox: with directfs (gVisor's default since 2023) the
 * sandbox opens host files itself, and an open with O_TRUNC of a file below a read-only folder mount
 * empties the host's file before EROFS is answered (checked here on runsc 20240729). Without it, the gofer
 * opens them and the mount stays read-only.
 */
export const GVISOR_REQUIRED_ARG = '--directfs=false';

/** Why, and how to mend an engine whose runsc lacks it: said by up, the refusal and the static audit. */
export const GVISOR_WITHOUT_REQUIRED_ARG = {
  why: 'a file below a read-only mount can be emptied from inside',
  fix: `add "${GVISOR_REQUIRED_ARG}" to runsc's "runtimeArgs" in /etc/docker/daemon.json and reload dockerd`,
};

/** Whether the engine lists gVisor registered so that read-only mounts hold. */
export function gvisorUsable(runtimes: EngineRuntimes): boolean {
  return runtimes.names.includes(GVISOR_RUNTIME) && (runtimes.gvisorArgs ?? []).includes(GVISOR_REQUIRED_ARG);
}

/** The engine's runtimes, from one `docker info`. */
export function engineRuntimes(run: Runner = runCommand): EngineRuntimes {
  const result = run('docker', ['info', '--format', '{{json .Runtimes}}']);
  if (result.status !== 0) {
    preflightEngine(run);
    throw new SandboxError(`docker info failed: ${visible(lastLine(result))}.`);
  }
  let listed: unknown;
  try {
    listed = JSON.parse(result.stdout);
  } catch {
    throw new SandboxError(`docker info printed ${visible(result.stdout.trim().slice(0, 200))} for its runtimes, not a list of them.`);
  }
  const entries = listed && typeof listed === 'object' && !Array.isArray(listed) ? Object.entries(listed as Record<string, unknown>) : [];
  const names = entries.map(([name]) => name).filter((name) => RUNTIME_NAME.test(name));
  const gvisor = entries.find(([name]) => name === GVISOR_RUNTIME)?.[1] as { path?: unknown; runtimeArgs?: unknown } | undefined;
  const args = Array.isArray(gvisor?.runtimeArgs) ? gvisor.runtimeArgs.filter((arg): arg is string => typeof arg === 'string') : undefined;
  return { names, ...(typeof gvisor?.path === 'string' ? { gvisorPath: gvisor.path } : {}), ...(args ? { gvisorArgs: args } : {}) };
}

/** How to register gVisor, for the messages that ask for it. */
export const REGISTER_GVISOR =
  'install gVisor from 2024 or later (Debian 13: apt-get install runsc; elsewhere https://gvisor.dev/docs/user_guide/install/), add ' +
  '"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--directfs=false"]}} to /etc/docker/daemon.json (--directfs=false keeps read-only mounts read-only; add "--network=host" where runsc ' +
  'says "cannot run with network enabled in root network namespace"), then reload dockerd (sudo systemctl reload docker, or kill -HUP its pid). ' +
  'Docker Desktop has no runsc';

/** The runtime the dev container gets (undefined: the engine's default), from the sandbox's choice and the engine's runtimes. */
export function chooseRuntime(choice: RuntimeChoice, runtimes: EngineRuntimes, project: string): string | undefined {
  const has = gvisorUsable(runtimes);
  if (choice === 'runsc' && !has && runtimes.names.includes(GVISOR_RUNTIME))
    throw new SandboxError(
      `Refusing to start: ${visible(project)}'s sandbox is generated with --runtime=runsc (gVisor), and the engine runs runsc without ${GVISOR_REQUIRED_ARG}: ` +
        `with directfs, ${GVISOR_WITHOUT_REQUIRED_ARG.why}. To mend it, ${GVISOR_WITHOUT_REQUIRED_ARG.fix} (sudo systemctl reload docker, or kill -HUP its pid).`,
    );
  if (choice === 'runsc' && !has)
    throw new SandboxError(
      `Refusing to start: ${visible(project)}'s sandbox is generated with --runtime=runsc (gVisor), and the engine has no runsc: ` +
        `its runtimes are ${runtimes.names.map((name) => visible(name)).join(', ') || 'none listed'}. To register gVisor: ${REGISTER_GVISOR}. ` +
        `Or generate the sandbox again with --runtime=auto (gVisor when the engine has it) or --runtime=runc (the host's kernel, shared).`,
    );
  return choice !== 'runc' && has ? GVISOR_RUNTIME : undefined;
}

/** The oldest gVisor build the dev container works on: Debian 12's 20221219 answers EINVAL to coreutils 9's statx. */
export const OLDEST_GVISOR = '20240101';

/** `runsc --version`'s version, when the engine's runsc is a program on this machine (a local engine); else undefined. */
export function gvisorVersion(runtimes: EngineRuntimes, run: Runner = runCommand): string | undefined {
  const path = runtimes.gvisorPath;
  if (!path || !path.startsWith('/') || !existsSync(path)) return undefined;
  const result = run(path, ['--version']);
  const version = /^runsc version (\S+)/m.exec(result.stdout)?.[1];
  return result.status === 0 && version ? visible(version) : undefined;
}

/** The line `up` prints at every start: which kernel boundary holds for the dev container, as the engine ran it. */
export function kernelLine(runtime: string | undefined, runtimes: EngineRuntimes, run: Runner = runCommand): string {
  if (runtime === GVISOR_RUNTIME) {
    const version = gvisorVersion(runtimes, run);
    // A date in the version: Debian's 0.0~20221219.0, gVisor's release-20240729.0.
    const built = /(20\d{6})/.exec(version ?? '')?.[1];
    const old =
      built && built < OLDEST_GVISOR ? ` This runsc (${built}) is older than ${OLDEST_GVISOR}: ls and stat fail inside (statx); install a newer one.` : '';
    return (
      `Kernel: gVisor (runsc${version ? ` ${version}` : ''}): the dev container runs on a kernel of its own, not the host's.${old} ` +
      // runsc does not apply the stack's net.ipv6.conf.lo.disable_ipv6=0, so ::1 never exists in its namespace.
      'IPv6 stays off on its loopback: the localhost forwarder answers on 127.0.0.1 (and localhost), not on ::1.'
    );
  }
  const name = runtime && RUNTIME_NAME.test(runtime) ? runtime : 'runc';
  if (runtimes.names.includes(GVISOR_RUNTIME) && !gvisorUsable(runtimes))
    return (
      `Kernel: shared with the host (${name}): the engine's runsc runs without ${GVISOR_REQUIRED_ARG}, under which ${GVISOR_WITHOUT_REQUIRED_ARG.why}; ` +
      `for gVisor, ${GVISOR_WITHOUT_REQUIRED_ARG.fix}.`
    );
  return runtimes.names.includes(GVISOR_RUNTIME)
    ? `Kernel: shared with the host (${name}): the sandbox is generated with --runtime=runc; generate it again without it for gVisor.`
    : `Kernel: shared with the host (${name}) — register gVisor to add a boundary: ${REGISTER_GVISOR}.`;
}
