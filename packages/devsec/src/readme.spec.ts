import { readFileSync } from 'node:fs';
import { README, withDerivedBlocks } from '../../../scripts/docs';

// The README's rule list, host-executed surface and VS Code settings are the code's: `npm run docs` writes them.
describe('README.md', () => {
  it('holds the derived blocks as the code renders them today (npm run docs)', () => {
    const text = readFileSync(README, 'utf-8');
    expect(text).toBe(withDerivedBlocks(text));
  });

  it('refuses a README that lost a block', () => {
    expect(() => withDerivedBlocks('# no blocks here\n')).toThrow(/<!-- rules:start -->/);
  });
});
