import { ExecutorContext } from '@nx/devkit';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { preflight } from '../../host/engine';
import { gatherProbeInput, placeHostMarkers, runLiveProbe } from '../../host/live-audit';
import { readGitLayout } from '../../host/git-layout';
import { findNestedGit } from '../../host/nested-git';
import { finding, Finding } from '../../rules/registry';
import { locateStack } from '../../host/sandbox-stack';
import { liveFindings, liveSummary } from '../../rules/live-findings';
import { formatSarif, formatTable, sortFindings } from '../../rules/report';
import { auditSandbox } from '../../rules/static-audit';
import { checkInvocation } from '../checks';
import { composeFileOf, reportingErrors } from '../reporting';
import type { AuditExecutorSchema } from './schema';

/** Every .git below the root that is not a registered submodule: where the host's git would run on the agent's terms. */
function nestedGitFindings(workspaceRoot: string): Finding[] {
  return findNestedGit(readGitLayout(workspaceRoot)).strays.map((path) =>
    finding('nested-git', { file: path, key: '.git', message: `${path} is a git repository inside the workspace that git did not register as a submodule.` }),
  );
}

export default function auditExecutor(options: AuditExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, ['composeFile', 'outputFile'], { composeFile: composeFileOf(context) });
    const projectRoot = dirname(dirname(options.composeFile));
    const read = (path: string) => {
      const full = join(context.root, path);
      return existsSync(full) ? readFileSync(full, 'utf-8') : null;
    };
    const findings = [...auditSandbox(projectRoot, read), ...nestedGitFindings(context.root)];
    const format = options.format ?? 'table';
    if (options.live) {
      preflight();
      const stack = locateStack(context.root, options.composeFile);
      const { container, input } = gatherProbeInput(stack);
      const name = container.Name.replace(/^\//, '');
      const host = placeHostMarkers(context.root);
      let observations;
      try {
        observations = runLiveProbe(name, { ...input, hostMarkers: host.markers });
      } finally {
        host.remove();
      }
      if (format === 'table') process.stdout.write(`${liveSummary(observations, name)}\n\n`);
      findings.push(...liveFindings(observations, { composeFile: options.composeFile, container: name }));
    }
    sortFindings(findings);
    const report = format === 'json' ? JSON.stringify(findings, null, 2) : format === 'sarif' ? formatSarif(findings) : formatTable(findings);
    process.stdout.write(`${report}\n`);
    if (options.outputFile) writeFileSync(join(context.root, options.outputFile), `${report}\n`);
    return !findings.some((finding) => finding.severity === 'high');
  });
}
