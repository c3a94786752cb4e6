/**
 * The part of jsonc-parser 3.3.1 (MIT, Microsoft; LICENSE.md beside it) this proxy uses.
 * parser.js and scanner.js are the package's lib/umd/impl files, unmodified (a unit test
 * compares them with the installed package): the proxy image holds its own files only, so
 * the tokenizer is carried here rather than installed.
 */
export interface ParseError {
  error: number;
  offset: number;
  length: number;
}
export type NodeType = 'object' | 'array' | 'property' | 'string' | 'number' | 'boolean' | 'null';
export interface Node {
  readonly type: NodeType;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the package's own type
  readonly value?: any;
  readonly offset: number;
  readonly length: number;
  readonly children?: Node[];
}
export interface ParseOptions {
  disallowComments?: boolean;
  allowTrailingComma?: boolean;
  allowEmptyContent?: boolean;
}
export declare function parseTree(text: string, errors?: ParseError[], options?: ParseOptions): Node | undefined;
