export interface DownSharedExecutorSchema {
  composeFile?: string;
  volumes?: boolean;
}
