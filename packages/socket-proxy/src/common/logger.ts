/** One JSON line per request on stdout; errors on stderr. */

const LEVEL_ORDER = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/** One access-log line: a request and what the proxy decided. */
export interface AccessEntry {
  method?: string;
  path?: string;
  decision: 'allow' | 'deny';
  rule: string;
  status: number;
  ms?: number;
  error?: string;
}

export interface Logger {
  access(entry: AccessEntry): void;
  error(entry: object): void;
  /** The start-up line shows whatever the level but silent: it says what the proxy grants. */
  startup(entry: object): void;
}

export function createLogger(level: string): Logger {
  const threshold = LEVEL_ORDER[level as keyof typeof LEVEL_ORDER] ?? 1;
  const line = (entry: object) => `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
  return {
    access(entry) {
      // Refusals are worth a warning; allowed requests are routine.
      const entryLevel = entry.decision === 'deny' ? 2 : 1;
      if (entryLevel >= threshold) process.stdout.write(line({ level: entryLevel === 2 ? 'warn' : 'info', ...entry }));
    },
    error(entry) {
      if (threshold <= 3) process.stderr.write(line({ level: 'error', ...entry }));
    },
    startup(entry) {
      if (threshold <= 3) process.stdout.write(line({ level: 'info', ...entry }));
    },
  };
}
