export interface UpSharedExecutorSchema {
  composeFile?: string;
}
