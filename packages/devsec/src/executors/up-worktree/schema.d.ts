export interface UpWorktreeExecutorSchema {
  composeFile: string;
  build?: boolean;
  unsafeAllow?: string[] | string;
  wait?: boolean;
  refillNodeModules?: boolean;
  /** A CA file (PEM) to trust inside from this start on, vouched for by the user (command line only). */
  caCerts?: string;
  /** http://[user:password@]host:port of the company proxy (command line only; else HTTPS_PROXY/HTTP_PROXY of the shell). */
  upstreamProxy?: string;
}
