export interface FetchExecutorSchema {
  composeFile: string;
}
