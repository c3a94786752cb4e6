import { interpolate, interpolateModel } from './interpolate';

describe('interpolate, as Compose does', () => {
  const variables = { SET: 'value', EMPTY: '', DEVSEC_WORKSPACE: '../../..' };
  it.each([
    ['${SET}', 'value'],
    ['$SET/x', 'value/x'],
    ['${UNSET:-default}', 'default'],
    ['${EMPTY:-default}', 'default'],
    ['${EMPTY-default}', ''],
    ['${SET:+alternative}', 'alternative'],
    ['${UNSET:+alternative}', ''],
    ['${UNSET:-${SET}}/y', 'value/y'],
    ['${DEVSEC_WORKSPACE:-/workspace}:${DEVSEC_WORKSPACE:-/workspace}', '../../..:../../..'],
    ['$$HOME', '$HOME'],
    // Unknown and without a default: left as a reference, never guessed.
    ['${UNSET}/data', '${UNSET}/data'],
    ['${UNSET:?run up-shared first}', '${UNSET}'],
    ['$UNSET', '${UNSET}'],
  ])('%s → %s', (text, expected) => {
    expect(interpolate(text, variables)).toBe(expected);
  });

  it('interpolates every string value of a model, not its keys', () => {
    expect(interpolateModel({ services: { '${SET}': { volumes: ['${SET}:/x'], privileged: true } } }, variables)).toEqual({
      services: { '${SET}': { volumes: ['value:/x'], privileged: true } },
    });
  });
});
