/**
 * The one reading of a list option. `--x=a,b` arrives as ['a,b'] from the command line, as
 * ['a', 'b'] from code or project.json, and as 'a,b' from a string field: one list of the
 * items, trimmed, without empty ones or repeats, in the order given. With `spaces`, whitespace
 * separates items too (package and host names never hold one; `--env KEY=a value` does).
 */
export function listOption(values: unknown, options: { spaces?: boolean } = {}): string[] {
  const separator = options.spaces ? /[\s,]+/ : /,/;
  const items = [values ?? []]
    .flat()
    .flatMap((value) => String(value).split(separator))
    .map((item) => item.trim())
    .filter(Boolean);
  return [...new Set(items)];
}
