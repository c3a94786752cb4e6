import { READ_SWITCH_DEFAULTS, WRITE_SWITCHES } from './vocabulary';

describe('switch names', () => {
  // The generator offers the proxy's switches as options; both lists must stay the same.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const proxy = require('@org/devsec-socket-proxy');

  it('offers exactly the write switches the proxy recognises', () => {
    expect([...WRITE_SWITCHES].sort()).toEqual([...proxy.WRITE_SWITCHES].sort());
  });

  it('offers exactly the read switches the proxy knows', () => {
    expect(Object.keys(READ_SWITCH_DEFAULTS).sort()).toEqual(Object.keys(proxy.READ_SWITCHES).sort());
  });
});
