export interface ResetDataExecutorSchema {
  composeFile: string;
}
