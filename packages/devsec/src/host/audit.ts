/**
 * `audit`: the static review of a project's sandbox files, every `.git` below the root that is
 * not a registered submodule, and with `live` what a probe sees from inside the running stack.
 * The work behind the executor and `devsec audit`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { liveFindings, liveSummary } from '../rules/live-findings';
import { finding, Finding } from '../rules/registry';
import { formatSarif, formatTable, sortFindings } from '../rules/report';
import { auditSandbox } from '../rules/static-audit';
import { SandboxError } from '../sandbox/errors';
import { preflight } from './engine';
import { readGitLayout } from './git-layout';
import { gatherProbeInput, placeHostMarkers, runLiveProbe } from './live-audit';
import { findNestedGit } from './nested-git';
import { locateStack } from './sandbox-stack';

export interface AuditOptions {
  live?: boolean;
  format?: 'table' | 'json' | 'sarif';
  /** Also written here, a path inside the workspace. */
  outputFile?: string;
}

/** Every .git below the root that is not a registered submodule: where the host's git would run on the agent's terms. */
function nestedGitFindings(workspaceRoot: string): Finding[] {
  return findNestedGit(readGitLayout(workspaceRoot)).strays.map((path) =>
    finding('nested-git', { file: path, key: '.git', message: `${path} is a git repository inside the workspace that git did not register as a submodule.` }),
  );
}

/** The report, printed with `write`; true when nothing high was found. */
export function runAudit(workspaceRoot: string, composeFile: string, options: AuditOptions, write: (text: string) => void): boolean {
  const outputFile = options.outputFile === undefined ? undefined : join(workspaceRoot, options.outputFile);
  const fromRoot = outputFile === undefined ? '' : relative(workspaceRoot, outputFile);
  if (outputFile !== undefined && (fromRoot.startsWith('..') || isAbsolute(fromRoot) || fromRoot.split(/[\\/]/).includes('.git'))) {
    throw new SandboxError(`--outputFile=${options.outputFile}: the report goes inside the workspace, outside .git (e.g. --outputFile=audit.sarif).`);
  }
  const read = (path: string) => {
    const full = join(workspaceRoot, path);
    return existsSync(full) ? readFileSync(full, 'utf-8') : null;
  };
  const findings = [...auditSandbox(dirname(dirname(composeFile)), read), ...nestedGitFindings(workspaceRoot)];
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
    } finally {
      host.remove();
    }
    if (format === 'table') write(`${liveSummary(observations, name)}\n\n`);
    findings.push(...liveFindings(observations, { composeFile, container: name }));
  }
  sortFindings(findings);
  const report = format === 'json' ? JSON.stringify(findings, null, 2) : format === 'sarif' ? formatSarif(findings) : formatTable(findings);
  write(`${report}\n`);
  if (outputFile) writeFileSync(outputFile, `${report}\n`);
  return !findings.some((found) => found.severity === 'high');
}
