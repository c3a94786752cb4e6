/** How findings are shown: sorted, as a table for people, as SARIF for code scanning, as JSON. */
import { shellWord, visible } from '../sandbox/visible';
import type { Finding } from './registry';

/** A finding as the audit reports it (the line is known where the file was parsed). */
export type AuditFinding = Finding;

/** High first, then by file and line. */
export function sortFindings(findings: AuditFinding[]): AuditFinding[] {
  const rank = { high: 0, medium: 1, info: 2 };
  return findings.sort((a, b) => rank[a.severity] - rank[b.severity] || a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0));
}

export function formatTable(findings: AuditFinding[]): string {
  if (findings.length === 0) return 'No findings: the sandbox holds on every rule checked.';
  // Notes (info) never fail the audit: above them, the same verdict as with none.
  const notes = findings.every((f) => f.severity === 'info')
    ? `No findings: the sandbox holds on every rule checked (${findings.length} note${findings.length === 1 ? '' : 's'} below).\n`
    : '';
  // File names, service names and what the probe saw came from the workspace or the sandbox: shown, never sent to the terminal.
  const rows = findings.map((f) => [
    f.severity.toUpperCase(),
    shellWord(`${f.file}${f.line ? `:${f.line}` : ''}`),
    visible(`${f.rule}: ${f.message}`),
    visible(f.fix),
  ]);
  const widths = [8, Math.max(...rows.map((r) => r[1].length), 9)];
  const header = `${'SEVERITY'.padEnd(widths[0])}  ${'FILE:LINE'.padEnd(widths[1])}  WHAT / FIX`;
  return [
    `${notes}${header}`,
    ...rows.map((r) => `${r[0].padEnd(widths[0])}  ${r[1].padEnd(widths[1])}  ${r[2]}\n${' '.repeat(widths[0] + widths[1] + 4)}fix: ${r[3]}`),
  ].join('\n');
}

/** SARIF 2.1.0, for code-scanning in CI. */
export function formatSarif(findings: AuditFinding[]): string {
  const rules = [...new Set(findings.map((f) => f.rule))];
  return JSON.stringify(
    {
      $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
      version: '2.1.0',
      runs: [
        {
          tool: { driver: { name: '@org/devsec audit', informationUri: 'https://github.com/org/devsec', rules: rules.map((id) => ({ id })) } },
          results: findings.map((f) => ({
            ruleId: f.rule,
            level: f.severity === 'high' ? 'error' : f.severity === 'medium' ? 'warning' : 'note',
            message: { text: `${f.message} Fix: ${f.fix}` },
            locations: [{ physicalLocation: { artifactLocation: { uri: f.file }, ...(f.line ? { region: { startLine: f.line } } : {}) } }],
          })),
        },
      ],
    },
    null,
    2,
  );
}
