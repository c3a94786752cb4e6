import { listOption } from './list';

describe('listOption: one reading of every list option', () => {
  it.each([
    [undefined, {}, []],
    ['a,b', {}, ['a', 'b']],
    [['a,b', 'c'], {}, ['a', 'b', 'c']],
    [[' a , ,b ', 'a'], {}, ['a', 'b']],
    [[3000, '3001,3000'], {}, ['3000', '3001']],
    ['GREETING=hello world,X=1', {}, ['GREETING=hello world', 'X=1']],
    ['jq git,curl', { spaces: true }, ['jq', 'git', 'curl']],
    [['a.example\nb.example'], { spaces: true }, ['a.example', 'b.example']],
  ])('%j %j → %j', (values, options, expected) => {
    expect(listOption(values, options)).toEqual(expected);
  });
});
