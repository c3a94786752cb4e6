import { ExecutorContext } from '@nx/devkit';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { preflight } from '../../host/engine';
import { gatherProbeInput, runLiveProbe } from '../../host/live-probe';
import { locateStack } from '../../host/sandbox-stack';
import { liveFindings, liveSummary } from '../../rules/live-findings';
import { formatSarif, formatTable, sortFindings } from '../../rules/report';
import { auditSandbox } from '../../rules/static-audit';
import { reportingErrors } from '../reporting';
import type { AuditExecutorSchema } from './schema';

export default function auditExecutor(options: AuditExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    const projectRoot = dirname(dirname(options.composeFile));
    const read = (path: string) => {
      const full = join(context.root, path);
      return existsSync(full) ? readFileSync(full, 'utf-8') : null;
    };
    const findings = auditSandbox(projectRoot, read);
    const format = options.format ?? 'table';
    if (options.live) {
      preflight();
      const stack = locateStack(context.root, options.composeFile);
      const { container, input } = gatherProbeInput(stack);
      const name = container.Name.replace(/^\//, '');
      const observations = runLiveProbe(name, input);
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
