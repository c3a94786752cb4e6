import { visible, visibleText } from './visible';

describe('visible', () => {
  it('shows escape sequences, carriage returns, C1 controls and bidi overrides instead of sending them', () => {
    expect(visible('a\u001b[2Jb')).toBe('a\\x1b[2Jb');
    expect(visible('ok\rFAKE')).toBe('ok\\x0dFAKE');
    expect(visible('x\u009by')).toBe('x\\x9by');
    expect(visible('x\u202ey\ufeff')).toBe('x\\u202ey\\ufeff');
  });
  it('shows tabs and newlines in names, keeps them in text', () => {
    expect(visible('a\tb\nc')).toBe('a\\x09b\\x0ac');
    expect(visibleText('a\tb\nc\u001b')).toBe('a\tb\nc\\x1b');
  });
  it('leaves other text as it is', () => {
    expect(visible('héllo wörld ✓ 你好')).toBe('héllo wörld ✓ 你好');
  });
});
