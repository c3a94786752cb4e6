/** Command-line arguments of `devsec`: positionals, `--flag`, `--flag=value`, `--no-flag`, and `--` then a command. */
import { visible } from '../sandbox/visible';

export interface FlagSpec {
  /** The flags a command takes, by name (kebab-case as typed), and whether each takes a value. */
  [name: string]: 'boolean' | 'string' | 'list';
}

export interface Parsed {
  positionals: string[];
  flags: Record<string, boolean | string | string[]>;
  /** After `--`: passed on as is (devsec agent). */
  rest: string[];
  help: boolean;
}

/** The parsed arguments, or the message of a usage error. */
export function parseArgs(argv: string[], spec: FlagSpec): Parsed | string {
  const parsed: Parsed = { positionals: [], flags: {}, rest: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      parsed.rest = argv.slice(i + 1);
      break;
    }
    if (arg === '-h' || arg === '--help') {
      parsed.help = true;
      continue;
    }
    const flag = /^--(no-)?([a-z][a-z-]*)(?:=(.*))?$/s.exec(arg);
    if (!flag) {
      if (arg.startsWith('-')) return `unknown option ${visible(arg)}.`;
      parsed.positionals.push(arg);
      continue;
    }
    const [, negated, name, value] = flag;
    const kind = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (kind === undefined) return `unknown option ${visible(arg.split('=')[0])}.`;
    if (kind === 'boolean') {
      if (value !== undefined && !/^(true|false)$/.test(value)) return `--${name} takes no value (or =true, =false).`;
      parsed.flags[name] = negated ? false : value !== 'false';
    } else {
      if (negated) return `--no-${name}: --${name} takes a value.`;
      const given = value ?? argv[++i];
      if (given === undefined || given.startsWith('--')) return `--${name} needs a value (--${name}=<value>).`;
      parsed.flags[name] = kind === 'list' ? [...((parsed.flags[name] as string[] | undefined) ?? []), ...given.split(',').filter(Boolean)] : given;
    }
  }
  return parsed;
}
