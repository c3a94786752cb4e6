import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { withoutEgressAllow } from './egress';
import { parseJsonc } from './jsonc';

/**
 * Generated files carry a one-line marker with a fingerprint of what we wrote. On a re-run:
 * - no marker: the user owns the file; we leave it alone;
 * - marker and matching fingerprint: ours and untouched; safe to replace;
 * - marker and another fingerprint: the user edited it; we stop rather than lose the edit.
 * The fingerprint is taken over the file's meaning (parsed YAML/JSON, or non-comment lines),
 * so a formatter pass or comment edits do not count as edits. The egress allowlist of a compose
 * file is the user's to edit (egress.ts): it is left out.
 */

const MARKER = '@org/devsec managed file';
const MARKER_LINE = /^\s*(?:#|\/\/)\s*@org\/devsec managed file, fingerprint ([0-9a-f]{12})\b.*$/m;

export type ManagedState = 'absent' | 'pristine' | 'edited' | 'user-owned';

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${stableStringify((value as Record<string, unknown>)[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value);
}

function meaning(path: string, content: string): string {
  if (/\.ya?ml$/.test(path)) return stableStringify(withoutEgressAllow(parseYaml(content)));
  if (/\.jsonc?$/.test(path)) return stableStringify(parseJsonc(content));
  return content
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .join('\n');
}

export function fingerprint(path: string, content: string): string {
  let text: string;
  try {
    text = meaning(path, content);
  } catch {
    // Unparseable: the raw text is the meaning.
    text = content;
  }
  return createHash('sha256').update(text).digest('hex').slice(0, 12);
}

const DEFAULT_NOTE = 'Edit freely: re-runs stop before replacing an edited file; delete this line to own the file.';

/** Puts the marker (with the content's fingerprint, and a note on what edits do) on the first line. */
export function stampManaged(path: string, content: string, note = DEFAULT_NOTE): string {
  const comment = /\.jsonc?$/.test(path) ? '//' : '#';
  const body = content.replace(MARKER_LINE, '').replace(/^\n+/, '');
  const print = fingerprint(path, body);
  return `${comment} ${MARKER}, fingerprint ${print}. ${note}\n${body}`;
}

export function managedState(path: string, existing: string | null): ManagedState {
  if (existing === null) return 'absent';
  const match = MARKER_LINE.exec(existing);
  if (!match) return 'user-owned';
  return fingerprint(path, existing.replace(MARKER_LINE, '')) === match[1] ? 'pristine' : 'edited';
}

/** The fingerprint a file's marker records, if it has one. */
export function markerFingerprint(content: string): string | undefined {
  return MARKER_LINE.exec(content)?.[1];
}

export function hasMarker(content: string): boolean {
  return MARKER_LINE.test(content);
}
