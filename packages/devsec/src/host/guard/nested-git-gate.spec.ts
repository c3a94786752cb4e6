import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gateNestedGit } from './nested-git';
import { findNestedGit } from '../git/nested-git';
import type { GitLayout } from '../git/git-layout';
import type { SandboxStack } from '../stack/sandbox-stack';

const said: string[] = [];
const say = { info: (line: string) => said.push(line), warn: (line: string) => said.push(line), error: (line: string) => said.push(line) };
const stackWith = (nestedGit: SandboxStack['nestedGit']) => ({ nestedGit }) as SandboxStack;
/** No gitlinks (host/gitlinks.spec.ts tries them). */
const none = { gitlinks: [], unsafe: [], unreadable: [] };

describe('the nested-git gate', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-nested-'));
    // An agent's repository nested deeper than the search goes.
    const deep = join(root, ...Array.from({ length: 40 }, (_, i) => `d${i}`));
    mkdirSync(join(deep, '.git'), { recursive: true });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('refuses a start when the search stopped short, since a .git may sit beyond it', () => {
    const found = findNestedGit({ workspaceRoot: root, commonDir: join(root, '.git'), kind: 'main' } as GitLayout);
    expect(found.strays).toEqual([]);
    expect(found.truncated).toMatch(/^stopped at depth \d+ in d0\//);
    expect(() => gateNestedGit(stackWith(found), [], say, none)).toThrow(/Refusing to start: .*the search stopped at depth.*--unsafe-allow=nested-git/s);
  });

  it('starts with --unsafe-allow=nested-git, saying what it did not see', () => {
    said.length = 0;
    expect(() => gateNestedGit(stackWith({ submodules: [], strays: [], truncated: 'stopped after 200000 entries' }), ['nested-git'], say, none)).not.toThrow();
    expect(said).toEqual(['UNSAFE: nested-git allowed by --unsafe-allow: the search stopped after 200000 entries']);
  });

  it('passes a search that saw everything and found nothing', () => {
    expect(() => gateNestedGit(stackWith({ submodules: [], strays: [] }), [], say, none)).not.toThrow();
  });
});
