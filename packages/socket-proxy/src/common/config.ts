/** What every mode's configuration shares: its log levels, and how its problems are collected and reported. */

export const LOG_LEVELS = Object.freeze(['debug', 'info', 'warn', 'error', 'silent'] as const);
export type LogLevel = (typeof LOG_LEVELS)[number];

export class ConfigError extends Error {}

/** Collects every configuration problem, so that one failed start names them all. */
export function collectProblems(): { problems: string[]; attempt: <T>(step: () => T) => T | undefined } {
  const problems: string[] = [];
  /** Runs one parse step; its error becomes one more problem, reported with the others. */
  const attempt = <T>(step: () => T): T | undefined => {
    try {
      return step();
    } catch (error) {
      problems.push((error as Error).message);
      return undefined;
    }
  };
  return { problems, attempt };
}

/** A mode's configuration, or undefined once its problems are on stderr (the mode then exits 2). */
export function loadOrReport<T>(load: () => T): T | undefined {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return undefined;
  }
}
