/**
 * JSON with comments and trailing commas, as devcontainer.json and VS Code's files are written,
 * read by the parser VS Code and the devcontainer CLI read them with (Microsoft's jsonc-parser).
 */
import { findNodeAtLocation, parse, parseTree, ParseError, printParseErrorCode } from 'jsonc-parser';

/** jsonc-parser's options for what VS Code accepts in these files: comments and trailing commas. */
const OPTIONS = { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false };

/** A leading byte-order mark: VS Code's editor drops it on reading; jsonc-parser would call it a symbol. */
const withoutBom = (text: string) => (text.startsWith('\uFEFF') ? text.slice(1) : text);

/** The 1-based line of `offset` in `text`. */
const lineAt = (text: string, offset: number) => text.slice(0, offset).split(/\r\n|\r|\n/).length;

/**
 * Parses JSONC; throws a SyntaxError (naming the first problem and its line) where the text is not
 * JSONC, rather than take the tolerant parser's best guess at what a broken file means.
 */
export function parseJsonc<T = unknown>(text: string): T {
  const source = withoutBom(text);
  const errors: ParseError[] = [];
  const value = parse(source, errors, OPTIONS) as T;
  if (errors.length > 0) {
    const [first] = errors;
    throw new SyntaxError(`not valid JSONC: ${printParseErrorCode(first.error)} at line ${lineAt(source, first.offset)}`);
  }
  return value;
}

/** The 1-based line where the property at `path` (e.g. `['runArgs']`) is named, if the text has it. */
export function jsoncPropertyLine(text: string, path: (string | number)[]): number | undefined {
  const source = withoutBom(text);
  const root = parseTree(source, [], OPTIONS);
  const node = root && findNodeAtLocation(root, path);
  // The value's parent is the property node: its offset is where the key's text starts.
  const at = node?.parent?.type === 'property' ? node.parent.offset : node?.offset;
  return at === undefined ? undefined : lineAt(source, at);
}
