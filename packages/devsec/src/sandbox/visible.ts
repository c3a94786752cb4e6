/**
 * Text that came from inside a sandbox or from the workspace (file names and contents, symlink
 * targets, container names, log lines, probe answers) is data the agent could have written:
 * sent to a terminal raw, an escape sequence could recolour, hide or rewrite what the user
 * reads, or drive the terminal itself. Before the host prints it, it passes through `visible`.
 */

/** Invisible or reordering characters (bidi overrides, line separators, BOM) that make text read differently from what it is. */
const INVISIBLE = new Set([0x061c, 0x200e, 0x200f, 0x2028, 0x2029, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0xfeff]);

const hex = (code: number, width: number) => code.toString(16).padStart(width, '0');

/**
 * Control characters (C0, DEL, C1) as `\x1b`, invisible ones as `\u202e`; everything else as is.
 * Tabs and newlines stay where they are text (file contents, log lines: `keepTabs`,
 * `keepNewlines`), and are shown in names.
 */
export function visible(text: string, options: { keepTabs?: boolean; keepNewlines?: boolean } = {}): string {
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if ((code === 0x09 && options.keepTabs) || (code === 0x0a && options.keepNewlines)) out += char;
    else if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) out += `\\x${hex(code, 2)}`;
    else if (INVISIBLE.has(code)) out += `\\u${hex(code, 4)}`;
    else out += char;
  }
  return out;
}

/** For lines of text (logs, messages, file contents): newlines and tabs kept. */
export const visibleText = (text: string) => visible(text, { keepTabs: true, keepNewlines: true });

/**
 * A path from the workspace as one inert shell word: as is when it holds only characters no
 * shell gives a meaning, else single-quoted (control characters made visible first). A report
 * line pasted into a shell then names it, and never runs it (`x;id>out;#/.git`).
 */
export function shellWord(text: string): string {
  const shown = visible(text);
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(shown) ? shown : `'${shown.replace(/'/g, `'\\''`)}'`;
}
