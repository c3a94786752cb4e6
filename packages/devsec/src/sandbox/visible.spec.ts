import { visible } from './visible';

describe('visible', () => {
  it('shows escape sequences, carriage returns and bidi overrides instead of sending them', () => {
    expect(visible('a\u001b[2Jb')).toBe('a\\u{1b}[2Jb');
    expect(visible('ok\rFAKE')).toBe('ok\\u{d}FAKE');
    expect(visible('x\u202ey')).toBe('x\\u{202e}y');
    expect(visible('tab\tkept')).toBe('tab\tkept');
  });
  it('keeps newlines only when asked', () => {
    expect(visible('a\nb')).toBe('a\\u{a}b');
    expect(visible('a\nb', true)).toBe('a\nb');
  });
});
