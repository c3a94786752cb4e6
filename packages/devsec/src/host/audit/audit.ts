/**
 * `audit`: the static review of a project's sandbox files, every `.git` below the root that is
 * not a registered submodule, and with `live` what a probe sees from inside the running stack.
 * The work behind the executor and `devsec audit`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { liveFindings, liveSummary } from '../../rules/live-findings';
import { finding, Finding } from '../../rules/registry';
import { formatSarif, formatTable, sortFindings } from '../../rules/report';
import { shellWord } from '../../sandbox/visible';
import { specFromComposeText, workspaceMode } from '../../sandbox/spec';
import type { WorkspaceMode } from '../../sandbox/vocabulary';
import { auditSandbox } from '../../rules/static-audit';
import { preflight } from '../engine/engine';
import { readGitLayout } from '../git/git-layout';
import { gatherProbeInput, placeHostMarkers, runLiveProbe, sharedLogins } from './live-audit';
import { findNestedGit } from '../git/nested-git';
import { writeReportFile } from './report-file';
import { kernelFindings, liveKernelFindings, readLiveKernel, runtimeChoiceOf, runtimesIfAny } from './kernel';
import { locateStack } from '../stack/sandbox-stack';

export interface AuditOptions {
  live?: boolean;
  format?: 'table' | 'json' | 'sarif';
  /** Also written here, a path inside the workspace (host/report-file.ts: never through a symlink or a planted link). */
  outputFile?: string;
}

/** Every .git below the root that is not a registered submodule: where the host's git would run on the agent's terms. */
function nestedGitFindings(workspaceRoot: string): Finding[] {
  return findNestedGit(readGitLayout(workspaceRoot)).strays.map((path) =>
    // The folder's name is the agent's to choose: quoted as one shell word, so that a report line pasted into a shell never runs it.
    finding('nested-git', {
      file: path,
      key: '.git',
      message: `${shellWord(path)} is a git repository inside the workspace that git did not register as a submodule.`,
    }),
  );
}

/** The sandbox's workspace mode as its stored spec says (mount when it stores none, or none that reads). */
function workspaceOf(text: string | null, path: string): WorkspaceMode {
  try {
    return workspaceMode(text === null ? undefined : specFromComposeText(text, path));
  } catch {
    return 'mount';
  }
}

/** The report, printed with `write`; true when nothing high was found. */
export function runAudit(workspaceRoot: string, composeFile: string, options: AuditOptions, write: (text: string) => void): boolean {
  const read = (path: string) => {
    const full = join(workspaceRoot, path);
    return existsSync(full) ? readFileSync(full, 'utf-8') : null;
  };
  const composeText = read(composeFile);
  const findings = [
    ...auditSandbox(dirname(dirname(composeFile)), read),
    ...nestedGitFindings(workspaceRoot),
    // The kernel boundary: the sandbox's --runtime against the engine's runtimes, when an engine answers.
    ...kernelFindings(composeFile, composeText, runtimesIfAny()),
  ];
  const format = options.format ?? 'table';
  if (options.live) {
    preflight();
    const stack = locateStack(workspaceRoot, composeFile);
    const { container, input } = gatherProbeInput(stack);
    const name = container.Name.replace(/^\//, '');
    const host = placeHostMarkers(workspaceRoot);
    let observations;
    try {
      observations = runLiveProbe(name, { ...input, hostMarkers: host.markers });
      observations = { ...observations, sharedLogins: sharedLogins(stack, name) };
    } finally {
      host.remove();
    }
    const kernel = liveKernelFindings(readLiveKernel(name, runtimeChoiceOf(composeText, composeFile)), composeFile);
    if (format === 'table') write(`${liveSummary(observations, name)}\n${kernel.line}\n\n`);
    findings.push(...liveFindings(observations, { composeFile, container: name }), ...kernel.findings);
  }
  sortFindings(findings);
  if (format === 'table' && workspaceOf(composeText, composeFile) === 'clone')
    write(`Workspace: clone (--workspace=clone): a volume of the stack holds a clone of the repository; nothing of your checkout or its .git is mounted.\n\n`);
  const report = format === 'json' ? JSON.stringify(findings, null, 2) : format === 'sarif' ? formatSarif(findings) : formatTable(findings);
  write(`${report}\n`);
  if (options.outputFile !== undefined) writeReportFile(workspaceRoot, options.outputFile, `${report}\n`);
  return !findings.some((found) => found.severity === 'high');
}
