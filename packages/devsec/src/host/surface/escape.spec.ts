import { visible } from './escape';

describe('visible', () => {
  it('shows control characters as escapes instead of sending them', () => {
    expect(visible('a\x1b[2Jb')).toBe('a\\x1b[2Jb');
    expect(visible('bell\x07 nul\x00 del\x7f csi\x9b cr\r nl\n')).toBe('bell\\x07 nul\\x00 del\\x7f csi\\x9b cr\\x0d nl\\x0a');
  });

  it('shows bidi overrides and other invisible characters', () => {
    expect(visible('admin\u202e\u2066txt\ufeff')).toBe('admin\\u202e\\u2066txt\\ufeff');
  });

  it('keeps tabs in contents when asked, and ordinary text as it is', () => {
    expect(visible('\tx', { keepTabs: true })).toBe('\tx');
    expect(visible('\tx')).toBe('\\x09x');
    expect(visible('héllo wörld — 日本 🙂')).toBe('héllo wörld — 日本 🙂');
  });
});
