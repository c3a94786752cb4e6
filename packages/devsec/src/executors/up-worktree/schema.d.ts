export interface UpWorktreeExecutorSchema {
  composeFile: string;
  build?: boolean;
  unsafeAllow?: string[] | string;
  wait?: boolean;
  refillNodeModules?: boolean;
}
