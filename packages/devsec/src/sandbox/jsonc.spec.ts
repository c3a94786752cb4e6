import { jsoncPropertyLine, parseJsonc } from './jsonc';

describe('JSONC, read as VS Code reads it', () => {
  it.each([
    ['`,]` inside a string', '{"initializeCommand": "echo a,]"}', { initializeCommand: 'echo a,]' }],
    ['`,}` inside a string', '{"a": "x,}", "b": [1,],}', { a: 'x,}', b: [1] }],
    ['`//` inside a string', '{"url": "https://example.com//x", // a comment\n"b": 1}', { url: 'https://example.com//x', b: 1 }],
    ['an escaped quote before `//`', '{"a": "say \\"hi\\" // not a comment", "b": 2}', { a: 'say "hi" // not a comment', b: 2 }],
    ['`/*` and `*/` inside strings beside a block comment', '{"a": "q\\"/*", /* c */ "b": "*/"}', { a: 'q"/*', b: '*/' }],
    ['a block comment holding `"` and `//`', '{/* "x": 1, // */ "y": 2}', { y: 2 }],
    ['a byte-order mark', '\uFEFF{"a": 1}', { a: 1 }],
    ['trailing commas and CRLF line comments', '{\r\n  "a": [1, 2,], // x\r\n  "b": {"c": true,},\r\n}', { a: [1, 2], b: { c: true } }],
  ])('reads %s', (_, text, value) => {
    expect(parseJsonc(text)).toEqual(value);
  });

  it.each([
    ['two commas', '{"a": 1,,}'],
    ['text after the value', '{"a": 1} x'],
    ['an unterminated block comment', '{"a": 1} /* x'],
    ['nothing', ''],
  ])('refuses %s rather than guess', (_, text) => {
    expect(() => parseJsonc(text)).toThrow(SyntaxError);
  });

  it('finds the line where a property is named, not where its text appears in a string', () => {
    const text = '{\n  "x": "\\"runArgs\\"",\n  // "runArgs": in a comment\n  "runArgs": ["--privileged"]\n}';
    expect(jsoncPropertyLine(text, ['runArgs'])).toBe(4);
    expect(jsoncPropertyLine(text, ['missing'])).toBeUndefined();
  });
});
