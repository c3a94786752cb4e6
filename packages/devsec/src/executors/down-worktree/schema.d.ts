export interface DownWorktreeExecutorSchema {
  composeFile: string;
  volumes?: boolean;
  images?: boolean;
}
