/**
 * Compose's variable interpolation, for reading a compose file as written: `${NAME}`,
 * `${NAME:-default}`, `${NAME-default}`, `${NAME:?error}`, `${NAME:+alternative}`, `$NAME`, `$$`.
 * A variable the reader does not know and that has no default stays as `${NAME}`, so that a
 * path built from it is reported as one the rules cannot place, never guessed.
 */

type Variables = Record<string, string | undefined>;

/** The end of a `${…}` starting at `start` (the index of `$`), counting nested braces. */
function closingBrace(text: string, start: number): number {
  let depth = 0;
  for (let index = start + 1; index < text.length; index++) {
    if (text[index] === '{') depth++;
    else if (text[index] === '}' && --depth === 0) return index;
  }
  return -1;
}

function expand(body: string, variables: Variables): string {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(body);
  if (!match) return `\${${body}}`;
  const [, name, operator, argument = ''] = match;
  const value = variables[name];
  const set = value !== undefined && (value !== '' || !operator?.startsWith(':'));
  switch (operator?.replace(':', '')) {
    case '-':
      return set ? (value as string) : interpolate(argument, variables);
    case '+':
      return set ? interpolate(argument, variables) : '';
    default:
      // Plain or `?error`: the value, or the reference itself when unknown.
      return value ?? `\${${name}}`;
  }
}

export function interpolate(text: string, variables: Variables): string {
  let out = '';
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char !== '$') {
      out += char;
    } else if (text[index + 1] === '$') {
      out += '$';
      index++;
    } else if (text[index + 1] === '{') {
      const end = closingBrace(text, index);
      if (end === -1) return out + text.slice(index);
      out += expand(text.slice(index + 2, end), variables);
      index = end;
    } else {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(index + 1))?.[0];
      out += name ? (variables[name] ?? `\${${name}}`) : '$';
      index += name?.length ?? 0;
    }
  }
  return out;
}

/** Every string value of a parsed compose file, interpolated (keys stay as written, as in Compose). */
export function interpolateModel<T>(value: T, variables: Variables): T {
  if (typeof value === 'string') return interpolate(value, variables) as T;
  if (Array.isArray(value)) return value.map((item) => interpolateModel(item, variables)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, interpolateModel(item, variables)])) as T;
  }
  return value;
}
