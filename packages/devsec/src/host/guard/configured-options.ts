/**
 * Options that widen the sandbox (`unsafeAllow`, which compose file, where a report is written)
 * come from the command line only. In `project.json`, a `package.json` `nx` field or `nx.json`
 * `targetDefaults` — files the agent can write — they would be honoured silently on the next
 * run, so the executor refuses and names where they are set.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../sandbox/errors';

export interface ConfiguredTarget {
  /** The target's options as configured (what the project graph holds; command-line overrides are not in it). */
  options?: Record<string, unknown>;
  configurations?: Record<string, Record<string, unknown> | undefined>;
}

/** Where a configured option may come from, for the message. */
function sources(workspaceRoot: string, projectRoot: string, target: string, executor: string, option: string): string[] {
  const found: string[] = [];
  const read = (file: string) => {
    try {
      return JSON.parse(readFileSync(join(workspaceRoot, file), 'utf-8'));
    } catch {
      return undefined;
    }
  };
  const has = (config: unknown) => JSON.stringify(config ?? {}).includes(`"${option}"`);
  const projectJson = `${projectRoot === '.' ? '' : `${projectRoot}/`}project.json`;
  if (has(read(projectJson)?.targets?.[target])) found.push(projectJson);
  const packageJson = `${projectRoot === '.' ? '' : `${projectRoot}/`}package.json`;
  if (has(read(packageJson)?.nx?.targets?.[target])) found.push(`${packageJson} ("nx" field)`);
  const defaults = read('nx.json')?.targetDefaults ?? {};
  if (has(defaults[target]) || has(defaults[executor])) found.push('nx.json (targetDefaults)');
  return found;
}

/**
 * Refuses when one of `sensitive` is set by configuration, or when a configured value differs
 * from the one our plugin infers (`expected`).
 */
export function checkConfiguredOptions(
  configured: ConfiguredTarget | undefined,
  where: { workspaceRoot: string; projectRoot: string; target: string; executor: string },
  sensitive: string[],
  expected: Record<string, unknown> = {},
): void {
  const layers = [configured?.options ?? {}, ...Object.values(configured?.configurations ?? {}).map((c) => c ?? {})];
  const offending = sensitive.filter((option) =>
    layers.some((layer) => option in layer && !(option in expected && JSON.stringify(layer[option]) === JSON.stringify(expected[option]))),
  );
  if (offending.length === 0) return;
  const lines = offending.map((option) => {
    const files = sources(where.workspaceRoot, where.projectRoot, where.target, where.executor, option);
    return `  - ${option}, set in ${files.length ? files.join(', ') : 'the project configuration'}`;
  });
  throw new SandboxError(
    `Refusing to run ${where.target}: options that widen the sandbox come from the command line only, and these are configured:\n${lines.join('\n')}\n` +
      'The agent can write project and Nx configuration: remove them there, and pass them on the command line when you mean them ' +
      `(e.g. nx run <project>:${where.target} --unsafe-allow=<rule>).`,
  );
}
