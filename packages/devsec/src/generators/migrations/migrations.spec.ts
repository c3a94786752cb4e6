import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const PACKAGE = join(__dirname, '..', '..', '..');
const packageJson = require('../../../package.json');
const migrations = require('../../../migrations.json');
const generators = require('../../../generators.json');

describe('the package wires its migrations and generators', () => {
  it('names migrations.json in package.json, as nx migrate reads it', () => {
    expect(packageJson['nx-migrations']).toEqual({ migrations: './migrations.json' });
  });

  it.each(Object.entries(migrations.generators) as Array<[string, { version: string; description: string; implementation: string }]>)(
    'migration %s: a version, a description, and a default export',
    async (name, entry) => {
      expect(entry.version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(entry.description.length).toBeGreaterThan(20);
      expect(existsSync(join(PACKAGE, `${entry.implementation}.ts`))).toBe(true);
      expect(typeof (await import(join(PACKAGE, entry.implementation))).default).toBe('function');
      expect(entry.implementation).toBe(`./src/generators/migrations/${name}/${name}`);
    },
  );

  it('registers the sync generator, hidden, with no options', () => {
    expect(generators.generators.sync).toMatchObject({ factory: './src/generators/sync/sync', hidden: true });
    expect(JSON.parse(readFileSync(join(PACKAGE, generators.generators.sync.schema), 'utf-8')).properties).toEqual({});
  });
});
