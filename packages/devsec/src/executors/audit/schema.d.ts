export interface AuditExecutorSchema {
  composeFile: string;
  format?: 'table' | 'json' | 'sarif';
  outputFile?: string;
}
