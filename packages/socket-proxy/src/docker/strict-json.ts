/**
 * Request bodies as the engine's Go decoder would read them, minus its leniencies: strict JSON
 * (no comments, no trailing commas, nothing after the value), tokenized by jsonc-parser, and
 * no object that names a member twice. Go's decoder keeps the last of two equal names and
 * matches struct fields case-insensitively, so two names equal under Go's case folding are
 * refused as well: what this proxy checks is then the only value the engine could read.
 */
import { Node, parseTree, ParseError } from '../vendor/jsonc-parser/parser';

export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** An object parsed here: no prototype, so `__proto__` or `constructor` are plain names. */
export type JsonObject = { [name: string]: JsonValue };

export class BodyError extends Error {}

/**
 * A name as Go's encoding/json compares struct field names: ASCII upper-cased, any other
 * character upper-cased after being lower-cased (so the Kelvin sign matches `K`, a long s `S`).
 */
export function goFold(name: string): string {
  let folded = '';
  for (const char of name) {
    if (char.charCodeAt(0) < 0x80) {
      folded += char.toUpperCase();
      continue;
    }
    const mapped = char.toLowerCase().toUpperCase();
    // Go maps one rune to one rune; a full-case expansion (ß → SS) is not Go's.
    folded += [...mapped].length === 1 ? mapped : char;
  }
  return folded;
}

const ERROR_WORDS: Record<number, string> = {
  1: 'an invalid symbol',
  2: 'an invalid number',
  3: 'a missing member name',
  4: 'a missing value',
  5: 'a missing colon',
  6: 'a missing comma',
  7: 'a missing closing brace',
  8: 'a missing closing bracket',
  9: 'an unexpected end of the body',
  10: 'a comment',
  11: 'an unexpected end of a comment',
  12: 'an unexpected end of a string',
  13: 'an unexpected end of a number',
  14: 'an invalid unicode escape',
  15: 'an invalid escape character',
  16: 'a control character in a string',
};

function toValue(node: Node, path: string): JsonValue {
  switch (node.type) {
    case 'object': {
      const object: JsonObject = Object.create(null);
      const seen = new Map<string, string>();
      for (const property of node.children ?? []) {
        const [keyNode, valueNode] = property.children ?? [];
        const name = String(keyNode.value);
        const folded = goFold(name);
        const earlier = seen.get(folded);
        if (earlier !== undefined) {
          const same = earlier === name ? `"${name}" twice` : `"${earlier}" and "${name}", which the engine reads as one name`;
          throw new BodyError(`${path || 'the body'} names ${same}`);
        }
        seen.set(folded, name);
        object[name] = valueNode ? toValue(valueNode, path ? `${path}.${name}` : name) : null;
      }
      return object;
    }
    case 'array':
      return (node.children ?? []).map((child, index) => toValue(child, `${path}[${index}]`));
    case 'number':
      if (!Number.isFinite(node.value)) throw new BodyError(`${path} is a number out of range`);
      return node.value as number;
    case 'string':
    case 'boolean':
      return node.value as string | boolean;
    default:
      return null;
  }
}

/** Parses a body; throws BodyError saying what is wrong with it. */
export function parseStrictJson(text: string): JsonValue {
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  if (errors.length > 0 || tree === undefined) {
    const first = errors[0];
    const what = first ? `${ERROR_WORDS[first.error] ?? 'a syntax error'} at byte ${first.offset}` : 'no value';
    throw new BodyError(`the body is not strict JSON (${what})`);
  }
  return toValue(tree, '');
}

export const isObject = (value: JsonValue | undefined): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);
