/**
 * Compose files as written, for the static audit: parsed with line numbers, merged the way a
 * stack runs them, and every value of the merged model traced back to its file and line.
 */
import { Document, isMap as isYamlMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import type { ComposeModel, ComposeService } from '../sandbox/compose-model';

export interface YamlFile {
  path: string;
  doc: Document;
  lines: LineCounter;
}

type ModelPath = Array<string | number>;

export function parseYamlFile(path: string, text: string): YamlFile {
  const lines = new LineCounter();
  return { path, doc: parseDocument(text, { lineCounter: lines }), lines };
}

/** The 1-based line of a key path in a parsed YAML file (its key, or its list item), or of the nearest parent found. */
export function lineOf(file: YamlFile, path: ModelPath): number | undefined {
  for (let length = path.length; length > 0; length--) {
    const parent = length === 1 ? file.doc.contents : file.doc.getIn(path.slice(0, length - 1), true);
    const last = path[length - 1];
    let node: { range?: [number, number, number] | null } | null | undefined;
    if (isYamlMap(parent)) node = parent.items.find((pair) => String(isScalar(pair.key) ? pair.key.value : pair.key) === String(last))?.key as typeof node;
    else if (isSeq(parent) && typeof last === 'number') node = parent.items[last] as typeof node;
    if (node?.range) return file.lines.linePos(node.range[0]).line;
  }
  return undefined;
}

export interface MergedFiles {
  model: ComposeModel & { services: Record<string, ComposeService> };
  /** The file and line a value of the merged model comes from: list items by origin, the rest from the last file that sets it. */
  locate: (at: ModelPath) => { file: string; line?: number };
}

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Compose's merge, close enough for auditing: lists add up, maps merge, scalars override; top-level sections merge by name. */
export function mergeFiles(files: YamlFile[]): MergedFiles {
  const model: MergedFiles['model'] = { services: {} };
  const sections = model as unknown as Record<string, unknown>;
  // Where each list item of a service came from: "service\0key" → [file, index in that file].
  const origins = new Map<string, Array<[YamlFile, number]>>();
  for (const file of files) {
    const json = (file.doc.toJSON() ?? {}) as ComposeModel & Record<string, unknown>;
    for (const [name, service] of Object.entries(json.services ?? {})) {
      const merged: ComposeService = { ...model.services[name] };
      for (const [key, value] of Object.entries(service ?? {})) {
        const current = merged[key];
        if (Array.isArray(value)) {
          const from = Array.isArray(current) ? (origins.get(`${name}\0${key}`) ?? []) : [];
          origins.set(`${name}\0${key}`, [...from, ...value.map((_, index): [YamlFile, number] => [file, index])]);
          merged[key] = Array.isArray(current) ? [...current, ...value] : value;
        } else if (isMap(current) && isMap(value)) merged[key] = { ...current, ...value };
        else merged[key] = value;
      }
      model.services[name] = merged;
    }
    for (const section of ['networks', 'volumes', 'secrets', 'configs'] as const) {
      if (isMap(json[section])) sections[section] = { ...(sections[section] as object), ...json[section] };
    }
    // The stored spec (what the generator was asked for): the main file's only, where the generator writes it.
    if (file === files[0] && isMap(json['x-devsec'])) sections['x-devsec'] = json['x-devsec'];
  }

  const locate = (at: ModelPath) => {
    const [top, service, key, index, ...rest] = at;
    const origin = top === 'services' && typeof index === 'number' ? origins.get(`${service}\0${key}`)?.[index] : undefined;
    if (origin) return { file: origin[0].path, line: lineOf(origin[0], ['services', service, key, origin[1], ...rest]) };
    // An override wins: the last file that sets the longest part of the path.
    for (let length = at.length; length > 0; length--) {
      const file = [...files].reverse().find((candidate) => candidate.doc.hasIn(at.slice(0, length)));
      if (file) return { file: file.path, line: lineOf(file, at.slice(0, length)) };
    }
    return { file: files[0].path, line: lineOf(files[0], at) };
  };
  return { model, locate };
}
