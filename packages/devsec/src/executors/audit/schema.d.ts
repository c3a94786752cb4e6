export interface AuditExecutorSchema {
  composeFile: string;
  live?: boolean;
  format?: 'table' | 'json' | 'sarif';
  outputFile?: string;
}
