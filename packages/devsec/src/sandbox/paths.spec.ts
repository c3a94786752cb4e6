import { below, isUnder } from './paths';

describe('paths', () => {
  it.each([
    ['/a/b', '/a', true],
    ['/a', '/a', true],
    ['/ab', '/a', false],
    ['/a', '/a/b', false],
    ['/x', '/', true],
  ])('isUnder(%s, %s) is %s', (path, root, expected) => expect(isUnder(path, root)).toBe(expected));

  it.each([
    ['/a', '/a/b/c', 'b/c'],
    ['/a', '/a/..x', '..x'],
    ['/a', '/a', undefined],
    ['/a', '/ab', undefined],
    ['/a/b', '/a', undefined],
    ['/a', '/a/../b', undefined],
  ])('below(%s, %s) is %s', (root, path, expected) => expect(below(root, path)).toBe(expected));
});
