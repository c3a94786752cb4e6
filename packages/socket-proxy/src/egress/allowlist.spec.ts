import { Host, matchHost, parseAllowlist, parseHost, parsePorts } from './allowlist';

const DEFAULT_PORTS = [443, 80];
const list = (allow: string, allowPrivate = '') => parseAllowlist(allow, allowPrivate, DEFAULT_PORTS);
const host = (text: string) => parseHost(text) as Host;
const allows = (allow: string, text: string, port = 443) => matchHost(list(allow), host(text), port).allowed;

describe('egress allowlist: parsing', () => {
  it('reads names, suffixes and addresses, separated by commas or white space', () => {
    const { entries } = list('registry.npmjs.org, *.GitHub.com\n  192.0.2.1 [2001:DB8::1]:8443,localhost:3000');
    expect(entries.map(({ kind, value, ports }) => ({ kind, value, ports }))).toEqual([
      { kind: 'exact', value: 'registry.npmjs.org', ports: [443, 80] },
      { kind: 'suffix', value: 'github.com', ports: [443, 80] },
      { kind: 'ip', value: '192.0.2.1', ports: [443, 80] },
      { kind: 'ip', value: '2001:db8::1', ports: [8443] },
      { kind: 'exact', value: 'localhost', ports: [3000] },
    ]);
    expect(list('').entries).toEqual([]);
  });

  it.each([
    ['*.com', /"\*\.com" is too broad/],
    ['*', /"\*" has a "\*" that is not a leading/],
    ['*.', /"\*\." is not \*\.domain/],
    ['a.*.example.com', /wildcards stand for whole labels at the start only/],
    ['*example.com', /wildcards stand for whole labels/],
    ['https://example.com', /no scheme, path or user/],
    ['example.com/path', /no scheme, path or user/],
    ['user@example.com', /no scheme, path or user/],
    ['example.com:0', /no valid port/],
    ['example.com:70000', /no valid port/],
    ['example.com:', /no valid port/],
    ['2001:db8::1', /IPv6 addresses go in brackets/],
    ['127.1', /not one in canonical form/],
    ['2130706433', /not one in canonical form/],
    ['0x7f000001', /not one in canonical form/],
    ['-bad.example.com', /not a valid host name/],
    ['bad..example.com', /not a valid host name/],
    ['ünicode.example', /not a valid host name/],
  ])('refuses the entry %p, naming it', (entry, message) => {
    expect(() => list(entry)).toThrow(message);
  });

  it('reports every bad entry at once', () => {
    expect(() => list('good.example.com, *.com, 127.1')).toThrow(/\*\.com[\s\S]*127\.1/);
  });

  it('takes EGRESS_ALLOW_PRIVATE only for names listed exactly in EGRESS_ALLOW', () => {
    expect([...list('stand-in, localhost:8443, 10.0.0.5', 'STAND-IN localhost 10.0.0.5').privateAllowed]).toEqual(['stand-in', 'localhost', '10.0.0.5']);
    expect(() => list('*.example.com', 'a.example.com')).toThrow(/"a.example.com" is not listed exactly in EGRESS_ALLOW/);
    expect(() => list('example.com', '*.example.com')).toThrow(/no wildcards/);
    expect(() => list('example.com', 'example.com:443')).toThrow(/no wildcards, no ports/);
  });

  it('reads port lists', () => {
    expect(parsePorts('443, 80 8443', 'EGRESS_PORTS')).toEqual([443, 80, 8443]);
    expect(() => parsePorts('443,http', 'EGRESS_PORTS')).toThrow(/EGRESS_PORTS=443,http: "http" is not a port/);
    expect(() => parsePorts(' ', 'EGRESS_PORTS')).toThrow(/EGRESS_PORTS is empty/);
  });
});

describe('egress allowlist: matching', () => {
  it('matches exact names, case-insensitively', () => {
    expect(allows('registry.npmjs.org', 'registry.npmjs.org')).toBe(true);
    expect(allows('Registry.NPMJS.org', 'REGISTRY.npmjs.ORG')).toBe(true);
    expect(allows('registry.npmjs.org', 'npmjs.org')).toBe(false);
    expect(allows('registry.npmjs.org', 'x.registry.npmjs.org')).toBe(false);
    expect(allows('registry.npmjs.org', 'registry.npmjs.org.evil.com')).toBe(false);
  });

  it('matches *.suffix at any depth below the suffix, never the suffix itself', () => {
    expect(allows('*.example.com', 'a.example.com')).toBe(true);
    expect(allows('*.example.com', 'a.b.example.com')).toBe(true);
    expect(allows('*.example.com', 'A.Example.COM')).toBe(true);
    expect(allows('*.example.com', 'example.com')).toBe(false);
    expect(allows('*.example.com', 'badexample.com')).toBe(false);
    expect(allows('*.example.com', 'example.com.evil.net')).toBe(false);
    expect(allows('*.example.com, example.com', 'example.com')).toBe(true);
  });

  it('restricts ports: the defaults, or the entry’s own', () => {
    expect(allows('example.com', 'example.com', 443)).toBe(true);
    expect(allows('example.com', 'example.com', 80)).toBe(true);
    expect(allows('example.com', 'example.com', 22)).toBe(false);
    expect(allows('example.com:8443', 'example.com', 8443)).toBe(true);
    expect(allows('example.com:8443', 'example.com', 443)).toBe(false);
    expect(allows('example.com:8443, example.com', 'example.com', 443)).toBe(true);
    expect(allows('*.example.com:22', 'git.example.com', 22)).toBe(true);
    const refusal = matchHost(list('example.com'), host('example.com'), 22);
    expect(refusal).toMatchObject({ allowed: false, rule: 'port' });
    expect(!refusal.allowed && refusal.message).toMatch(/example.com is allowed on ports 443, 80 only, not 22\. .*--allowHosts=example.com:22/);
  });

  it('refuses IP literals unless listed exactly, in any spelling', () => {
    expect(matchHost(list('example.com'), host('93.184.216.34'), 443)).toMatchObject({ allowed: false, rule: 'ip-literal' });
    expect(allows('93.184.216.34', '93.184.216.34')).toBe(true);
    expect(allows('[2001:db8::1]', '[2001:0DB8:0:0::1]')).toBe(true);
    expect(allows('[2001:db8::1]', '[2001:db8::2]')).toBe(false);
    // A name entry never matches an address, whatever the address resolves back to.
    expect(allows('*.example.com, localhost', '127.0.0.1')).toBe(false);
  });

  it('names the host and how to allow it in a refusal', () => {
    const refusal = matchHost(list('example.com'), host('evil.example.net'), 443);
    expect(refusal).toMatchObject({ allowed: false, rule: 'not-allowed' });
    expect(!refusal.allowed && refusal.message).toMatch(
      /^evil.example.net is not on this sandbox's egress allowlist\. .*--allowHosts=evil.example.net.*EGRESS_ALLOW/,
    );
  });

  it('gives the rule that matched, and private addresses only to exact names listed for them', () => {
    const allowlist = list('*.example.com, stand-in:8443, example.com', 'stand-in');
    expect(matchHost(allowlist, host('a.example.com'), 443)).toEqual({ allowed: true, rule: '*.example.com', privateAllowed: false });
    expect(matchHost(allowlist, host('stand-in'), 8443)).toEqual({ allowed: true, rule: 'stand-in:8443', privateAllowed: true });
    expect(matchHost(allowlist, host('example.com'), 443)).toEqual({ allowed: true, rule: 'example.com', privateAllowed: false });
  });
});

describe('egress hosts as requested', () => {
  it.each(['127.1', '0x7f.0.0.1', '2130706433', '[127.0.0.1]', '[fe80::1%25eth0]', 'a b', 'a..b', '', 'ex@mple.com'])('%p is not a host', (text) => {
    expect(parseHost(text)).toBeUndefined();
  });

  it('reads names in lower case and addresses in canonical form', () => {
    expect(parseHost('GitHub.COM')).toEqual({ kind: 'name', name: 'github.com' });
    expect(parseHost('[::FFFF:127.0.0.1]')).toEqual({ kind: 'ip', address: '::ffff:7f00:1' });
    expect(parseHost('10.0.0.1')).toEqual({ kind: 'ip', address: '10.0.0.1' });
  });
});
