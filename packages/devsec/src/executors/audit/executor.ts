import { ExecutorContext } from '@nx/devkit';
import { runAudit } from '../../host/audit/audit';
import { checkInvocation } from '../checks';
import { composeFileOf, reportingErrors } from '../reporting';
import type { AuditExecutorSchema } from './schema';

export default function auditExecutor(options: AuditExecutorSchema, context: ExecutorContext): Promise<{ success: boolean }> {
  return reportingErrors(async () => {
    checkInvocation(context, __dirname, { composeFile: composeFileOf(context) });
    return runAudit(context.root, options.composeFile, options, (text) => process.stdout.write(text));
  });
}
