/**
 * Options that widen the sandbox (`unsafeAllow`, which compose file, where a report is written)
 * come from the command line only. In `project.json`, a `package.json` `nx` field or `nx.json`
 * `targetDefaults` — files the agent can write — they would be honoured silently on the next
 * run, so the executor refuses and names where they are set.
 *
 * Which options those are is the executor's `schema.json` to say (`"x-devsec-command-line-only":
 * true` on the property), and every name Nx accepts for one there counts: the property's own and
 * each `alias`/`aliases` it declares (Nx's convertAliases maps those onto the property, from
 * configuration as from the command line).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';

/** The marker on a property of an executor's schema.json: never taken from configuration. */
export const COMMAND_LINE_ONLY = 'x-devsec-command-line-only';

/** What of an executor's schema.json this check reads. */
export interface ExecutorOptionsSchema {
  properties?: Record<string, { alias?: string; aliases?: string[]; [COMMAND_LINE_ONLY]?: boolean } | undefined>;
}

export interface ConfiguredTarget {
  /** The target's options as configured (what the project graph holds; command-line overrides are not in it). */
  options?: Record<string, unknown>;
  configurations?: Record<string, Record<string, unknown> | undefined>;
}

/** Each command-line-only option of `schema`, with every name Nx reads it by (its own first). */
export function commandLineOnlyOptions(schema: ExecutorOptionsSchema): Map<string, string[]> {
  const options = new Map<string, string[]>();
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (property?.[COMMAND_LINE_ONLY] !== true) continue;
    const aliases = [...(typeof property.alias === 'string' ? [property.alias] : []), ...(Array.isArray(property.aliases) ? property.aliases : [])];
    options.set(name, [...new Set([name, ...aliases.filter((alias): alias is string => typeof alias === 'string')])]);
  }
  return options;
}

type Layer = { source: string; values: Record<string, unknown> };

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A target's options and each of its configurations, as layers named by `source`. */
function targetLayers(target: unknown, source: string): Layer[] {
  if (!isRecord(target)) return [];
  const configurations = isRecord(target.configurations) ? Object.values(target.configurations) : [];
  return [target.options, ...configurations].filter(isRecord).map((values) => ({ source, values }));
}

/** What the files the agent can write configure for this target, read directly (to refuse and to name them). */
function fileLayers(workspaceRoot: string, projectRoot: string, target: string, executor: string): Layer[] {
  const read = (file: string): unknown => {
    try {
      return JSON.parse(readFileSync(join(workspaceRoot, file), 'utf-8'));
    } catch {
      return undefined;
    }
  };
  const field = (value: unknown, ...keys: string[]): unknown => keys.reduce<unknown>((at, key) => (isRecord(at) ? at[key] : undefined), value);
  const prefix = projectRoot === '.' || projectRoot === '' ? '' : `${projectRoot}/`;
  const defaults = field(read('nx.json'), 'targetDefaults');
  return [
    ...targetLayers(field(read(`${prefix}project.json`), 'targets', target), `${prefix}project.json`),
    ...targetLayers(field(read(`${prefix}package.json`), 'nx', 'targets', target), `${prefix}package.json ("nx" field)`),
    ...targetLayers(field(defaults, target), 'nx.json (targetDefaults)'),
    ...(executor ? targetLayers(field(defaults, executor), 'nx.json (targetDefaults)') : []),
  ];
}

/**
 * Refuses when a command-line-only option of `schema` is set by configuration under any of its
 * names, with another value than the one our plugin infers (`expected`, by the option's own name).
 */
export function checkConfiguredOptions(
  configured: ConfiguredTarget | undefined,
  where: { workspaceRoot: string; projectRoot: string; target: string; executor: string },
  schema: ExecutorOptionsSchema,
  expected: Record<string, unknown> = {},
): void {
  const layers = [
    ...fileLayers(where.workspaceRoot, where.projectRoot, where.target, where.executor),
    ...targetLayers(configured, 'the project configuration'),
  ];
  const lines: string[] = [];
  for (const [option, names] of commandLineOnlyOptions(schema)) {
    const allowed = (value: unknown) => option in expected && JSON.stringify(value) === JSON.stringify(expected[option]);
    for (const name of names) {
      const found = layers.filter((layer) => Object.hasOwn(layer.values, name) && !allowed(layer.values[name])).map((layer) => layer.source);
      // The project graph holds what the files hold: name the files, the graph only when no file shows it.
      const files = [...new Set(found.filter((source) => source !== 'the project configuration'))];
      if (found.length === 0) continue;
      lines.push(`  - ${visible(option)}${name === option ? '' : ` (as ${visible(name)})`}, set in ${(files.length ? files : found.slice(0, 1)).join(', ')}`);
    }
  }
  if (lines.length === 0) return;
  throw new SandboxError(
    `Refusing to run ${where.target}: options that widen the sandbox come from the command line only, and these are configured:\n${lines.join('\n')}\n` +
      'The agent can write project and Nx configuration: remove them there, and pass them on the command line when you mean them ' +
      `(e.g. nx run <project>:${where.target} --unsafe-allow=<rule>).`,
  );
}
