import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as config from '../docker/config';
import { USAGE } from '../main';
import * as vocabulary from './vocabulary';

describe('vocabulary', () => {
  it('imports nothing, so the plugin can load it at graph time', () => {
    const source = readFileSync(join(__dirname, 'vocabulary.ts'), 'utf8');
    expect(source).not.toMatch(/^\s*import\s|\brequire\(/m);
  });

  it('is what the package name resolves to in this monorepo', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    expect(require('@org/devsec-socket-proxy/vocabulary')).toBe(vocabulary);
  });

  it('holds the switches the proxy reads', () => {
    expect(config.READ_SWITCHES).toBe(vocabulary.READ_SWITCHES);
    expect(config.WRITE_SWITCHES).toBe(vocabulary.WRITE_SWITCHES);
    expect(config.DEFAULT_SCOPE_LABEL).toBe(vocabulary.DEFAULT_SCOPE_LABEL);
  });

  it('names the environment variables the proxy reads and documents', () => {
    for (const name of Object.values(vocabulary.PROXY_ENV)) expect(USAGE).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(config.DEFAULT_LISTEN).toBe(`tcp://127.0.0.1:${vocabulary.PROXY_PORT}`);
  });
});
