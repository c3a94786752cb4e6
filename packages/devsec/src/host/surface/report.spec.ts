import { SurfaceEntry } from './list';
import { renderChange, surfaceTable } from './report';

const plain = { colour: false };
const file = (text: string | undefined, extra: Partial<SurfaceEntry> = {}): SurfaceEntry =>
  ({ kind: 'file', rule: 'project-json', sha256: `sha-${text ?? 'none'}-0123456789`, size: text?.length ?? 99, binary: false, text, ...extra }) as SurfaceEntry;

describe('printing a change', () => {
  it('names a deleted file and what it was', () => {
    expect(renderChange({ path: 'a/project.json', type: 'deleted', before: file('x') }, plain)).toEqual(['deleted a/project.json: was a file']);
  });

  it('shows a file that became a symlink, with the target made visible', () => {
    const after: SurfaceEntry = { kind: 'symlink', rule: 'project-json', target: '/etc/\x1b[31mpasswd' };
    expect(renderChange({ path: 'project.json', type: 'changed', before: file('{}\n'), after }, plain)).toEqual([
      'changed project.json — Nx: every target is a command the host runs',
      '  was a file',
      '  now a symlink -> /etc/\\x1b[31mpasswd',
    ]);
  });

  it('gives binaries and files kept without text a one-line note, and shows new text whole', () => {
    const binary = renderChange(
      { path: 'p.json', type: 'changed', before: file(undefined, { binary: true }), after: file(undefined, { binary: true }) },
      plain,
    );
    expect(binary[1]).toBe('  sha256 sha-none-012 (99 bytes, binary) -> sha-none-012 (99 bytes, binary): binary, no diff');
    const nowText = renderChange({ path: 'p.json', type: 'changed', before: file(undefined), after: file('new\n') }, plain);
    expect(nowText).toContain('  the whole file now:');
    expect(nowText).toContain('+new');
  });

  it('counts the diff lines it does not show', () => {
    const text = Array.from({ length: 50 }, (_, i) => `line ${i}\n`).join('');
    const lines = renderChange({ path: 'p.json', type: 'added', after: file(text) }, { colour: false, maxDiffLines: 10 });
    expect(lines).toHaveLength(1 + 2 + 10 + 1);
    expect(lines[lines.length - 1]).toBe('… 41 more diff lines of p.json not shown: open the file and read it whole.');
  });
});

describe('the surface table', () => {
  it('has one row per rule, for the README', () => {
    expect(surfaceTable().split('\n')).toContain('| `nx.json` (root) | Nx: the plugins it loads, targetDefaults, tasksRunnerOptions |');
  });
});
