/** How the host's commands speak to the user: executors through Nx's logger, `devsec` through its own lines. */
export interface Say {
  info: (line: string) => void;
  warn: (line: string) => void;
  error: (line: string) => void;
}
