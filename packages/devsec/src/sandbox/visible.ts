/**
 * Text that came from inside a sandbox (file names, file contents, container names, log lines,
 * probe answers) is data: before the host prints it, its control characters are made visible,
 * so an agent-written string cannot move the cursor, rewrite a line or set the terminal's title.
 * Newlines are kept when `keepNewlines` (a file's lines), tabs always.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function visible(text: string, keepNewlines = false): string {
  return text.replace(CONTROL, (c) => (keepNewlines && c === '\n' ? c : `\\u{${c.charCodeAt(0).toString(16)}}`));
}
