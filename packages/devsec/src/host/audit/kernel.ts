/**
 * The kernel boundary, as `audit` reports it: statically, from the sandbox's --runtime and the
 * engine's runtimes (shared-kernel); live, from what the engine ran the dev container with and
 * what the kernel answers inside (live-shared-kernel). Under runc, /proc/version inside is the
 * host's own line; gVisor answers with a kernel of its own (`Linux version 4.4.0 …`).
 */
import { readFileSync } from 'node:fs';
import { finding, Finding } from '../../rules/registry';
import { runtimeChoice, specFromComposeText } from '../../sandbox/spec';
import { GVISOR_RUNTIME, RuntimeChoice } from '../../sandbox/vocabulary';
import { visible } from '../../sandbox/visible';
import {
  chooseRuntime,
  engineRuntimes,
  EngineRuntimes,
  GVISOR_REQUIRED_ARG,
  GVISOR_WITHOUT_REQUIRED_ARG,
  gvisorUsable,
  REGISTER_GVISOR,
} from '../engine/runtime';
import { runCommand, Runner } from '../engine/run';
import { PROBE_UID } from './live-answer';

/** The sandbox's --runtime as its compose file stores it (auto when it stores none, or none that reads). */
export function runtimeChoiceOf(text: string | null, path: string): RuntimeChoice {
  try {
    return runtimeChoice(text === null ? undefined : specFromComposeText(text, path));
  } catch {
    return 'auto';
  }
}

/** The engine's runtimes, or undefined when no engine answers (the static audit runs without one). */
export function runtimesIfAny(run: Runner = runCommand): EngineRuntimes | undefined {
  try {
    return engineRuntimes(run);
  } catch {
    return undefined;
  }
}

const lineOf = (text: string | null, pattern: RegExp) => {
  const index = (text ?? '').split('\n').findIndex((line) => pattern.test(line));
  return index < 0 ? undefined : index + 1;
};

/**
 * shared-kernel: the dev container would run on the host's kernel. Medium when it is the
 * sandbox's choice (--runtime=runc) on an engine with gVisor; info when the engine has none
 * (nothing in the files can fix it). Nothing when the engine is unknown and the choice is auto.
 */
export function kernelFindings(composeFile: string, text: string | null, runtimes: EngineRuntimes | undefined): Finding[] {
  if (text === null) return [];
  const choice = runtimeChoiceOf(text, composeFile);
  const has = runtimes?.names.includes(GVISOR_RUNTIME);
  const at = { file: composeFile, key: 'x-devsec.options.runtime', line: lineOf(text, /^\s*options:/) };
  if (choice === 'runc')
    return [
      finding('shared-kernel', {
        ...at,
        severity: has === false ? 'info' : 'medium',
        message: `The sandbox is generated with --runtime=runc: its dev container shares the host's kernel${has ? ', though the engine has gVisor (runsc)' : ''}.`,
      }),
    ];
  if (choice === 'auto' && has && runtimes && !gvisorUsable(runtimes))
    return [
      finding('shared-kernel', {
        ...at,
        severity: 'info',
        message: `The engine runs gVisor (runsc) without ${GVISOR_REQUIRED_ARG}, under which ${GVISOR_WITHOUT_REQUIRED_ARG.why}: the dev container stays on the host's kernel.`,
        fix: `To mend the engine, ${GVISOR_WITHOUT_REQUIRED_ARG.fix}; up-worktree then runs the dev container on gVisor.`,
      }),
    ];
  if (choice === 'auto' && has === false)
    return [
      finding('shared-kernel', {
        ...at,
        severity: 'info',
        message: `The engine has no gVisor (runsc): the dev container shares the host's kernel. To register it: ${REGISTER_GVISOR}.`,
        fix: 'Register gVisor with the engine; up-worktree then runs the dev container on it (--runtime=auto).',
      }),
    ];
  return [];
}

/** What the live audit learned of the kernel: the runtime the engine ran the dev container with, and /proc/version inside. */
export interface LiveKernel {
  expected?: string;
  runtime: string;
  procVersion: string;
  hostProcVersion?: string;
}

/** /proc/version inside the dev container (the kernel's answer, gVisor's under runsc) and the host's, with the engine's runtime. */
export function readLiveKernel(container: string, choice: RuntimeChoice, run: Runner = runCommand): LiveKernel {
  const runtimes = runtimesIfAny(run);
  let expected: string | undefined;
  try {
    expected = runtimes ? chooseRuntime(choice, runtimes, container) : undefined;
  } catch {
    expected = GVISOR_RUNTIME; // --runtime=runsc on an engine without it: it should be on gVisor, and is not
  }
  const runtime = run('docker', ['inspect', '--format', '{{.HostConfig.Runtime}}', container]).stdout.trim();
  // As the probe's uid, not the container's user (the agent's): a process of the agent's uid could write into this one's
  // stdout through /proc/<pid>/fd/1 and answer for the kernel (red team, stop 8).
  const procVersion = run('docker', ['exec', '-u', `${PROBE_UID}:${PROBE_UID}`, '-w', '/', container, 'cat', '/proc/version'])
    .stdout.trim()
    .slice(0, 300);
  let hostProcVersion: string | undefined;
  try {
    hostProcVersion = readFileSync('/proc/version', 'utf-8').trim();
  } catch {
    hostProcVersion = undefined; // not Linux (an engine in a VM): the runtime the engine names is the fact
  }
  return { expected, runtime, procVersion, hostProcVersion };
}

/** The summary line of the live audit, and live-shared-kernel when the sandbox should be on gVisor and is not. */
export function liveKernelFindings(kernel: LiveKernel, composeFile: string): { line: string; findings: Finding[] } {
  const sameAsHost = kernel.hostProcVersion !== undefined && kernel.procVersion === kernel.hostProcVersion;
  const onGvisor = kernel.runtime === GVISOR_RUNTIME && !sameAsHost;
  const line = visible(
    onGvisor
      ? `Kernel: gVisor (runtime ${kernel.runtime}; inside, /proc/version reads "${kernel.procVersion}").`
      : `Kernel: shared with the host (runtime ${kernel.runtime || 'unknown'}${sameAsHost ? "; /proc/version inside is the host's" : ''}).`,
  );
  if (kernel.expected !== GVISOR_RUNTIME || onGvisor) return { line, findings: [] };
  return {
    line,
    findings: [
      finding('live-shared-kernel', {
        file: composeFile,
        key: 'x-devsec.options.runtime',
        message: visible(
          `The dev container should run on gVisor (runsc) and does not: the engine ran it with ${kernel.runtime || 'an unknown runtime'}` +
            `${sameAsHost ? ", and /proc/version inside is the host's" : ''}.`,
        ),
      }),
    ],
  };
}
