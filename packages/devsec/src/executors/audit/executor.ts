import { ExecutorContext } from '@nx/devkit';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { auditSandbox, formatSarif, formatTable } from '../../lib/audit';
import type { AuditExecutorSchema } from './schema';

export default async function auditExecutor(options: AuditExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  const projectRoot = dirname(dirname(options.composeFile));
  const read = (path: string) => {
    const full = join(context.root, path);
    return existsSync(full) ? readFileSync(full, 'utf-8') : null;
  };
  const findings = auditSandbox(projectRoot, read);
  const format = options.format ?? 'table';
  const report = format === 'json' ? JSON.stringify(findings, null, 2) : format === 'sarif' ? formatSarif(findings) : formatTable(findings);
  process.stdout.write(`${report}\n`);
  if (options.outputFile) writeFileSync(join(context.root, options.outputFile), `${report}\n`);
  return { success: !findings.some((finding) => finding.severity === 'high') };
}
