import { bodyFraming, forwardedHeaders, parseAbsoluteTarget, parseConnectTarget } from './request';

describe('CONNECT targets', () => {
  it.each([
    ['registry.npmjs.org:443', { host: { kind: 'name', name: 'registry.npmjs.org' }, port: 443 }],
    ['GitHub.com:443', { host: { kind: 'name', name: 'github.com' }, port: 443 }],
    ['192.0.2.1:8443', { host: { kind: 'ip', address: '192.0.2.1' }, port: 8443 }],
    ['[2001:DB8::1]:443', { host: { kind: 'ip', address: '2001:db8::1' }, port: 443 }],
  ])('reads %p', (url, target) => {
    expect(parseConnectTarget(url)).toEqual(target);
  });

  it.each([
    ['example.com', 'malformed-target'],
    ['example.com:', 'malformed-target'],
    ['example.com:0', 'malformed-target'],
    ['example.com:65536', 'malformed-target'],
    ['example.com:443:1', 'malformed-target'],
    ['http://example.com:443', 'malformed-target'],
    ['/example.com:443', 'malformed-target'],
    ['2001:db8::1:443', 'malformed-target'],
    ['[2001:db8::1]', 'malformed-target'],
    ['127.1:443', 'malformed-target'],
    ['example.com.:443', 'malformed-target'],
    ['user:pw@example.com:443', 'userinfo'],
    ['example.com@evil.com:443', 'userinfo'],
  ])('refuses %p (%s)', (url, rule) => {
    expect(parseConnectTarget(url)).toMatchObject({ status: 400, rule });
  });
});

describe('absolute-form targets', () => {
  it.each([
    ['http://example.com/a/b?c=d', { host: { kind: 'name', name: 'example.com' }, port: 80, path: '/a/b?c=d', authority: 'example.com' }],
    ['HTTP://Example.COM', { host: { kind: 'name', name: 'example.com' }, port: 80, path: '/', authority: 'example.com' }],
    ['http://example.com?x=1', { host: { kind: 'name', name: 'example.com' }, port: 80, path: '/?x=1', authority: 'example.com' }],
    ['http://example.com:8080/%2e%2e/', { host: { kind: 'name', name: 'example.com' }, port: 8080, path: '/%2e%2e/', authority: 'example.com:8080' }],
    ['http://[2001:db8::1]:81/', { host: { kind: 'ip', address: '2001:db8::1' }, port: 81, path: '/', authority: '[2001:db8::1]:81' }],
  ])('reads %p', (url, target) => {
    expect(parseAbsoluteTarget(url)).toEqual(target);
  });

  it.each([
    ['/path', 'origin-form'],
    ['*', 'origin-form'],
    ['example.com:80', 'malformed-target'],
    ['https://example.com/', 'scheme'],
    ['ftp://example.com/', 'scheme'],
    ['http://user:pw@example.com/', 'userinfo'],
    ['http://user@example.com/', 'userinfo'],
    ['http://example.com@evil.com/', 'userinfo'],
    ['http://example.com/#frag', 'malformed-target'],
    ['http:///path', 'malformed-target'],
    ['http://example.com:/', 'malformed-target'],
    ['http://example.com:99999/', 'malformed-target'],
    ['http://127.1/', 'malformed-target'],
    ['http://exa%6dple.com/', 'malformed-target'],
    ['http://example.com\\@evil.com/', 'userinfo'],
  ])('refuses %p (%s)', (url, rule) => {
    expect(parseAbsoluteTarget(url)).toMatchObject({ status: 400, rule });
  });
});

describe('forwarded headers', () => {
  it('drops hop-by-hop headers, those Connection names, Proxy-* and Host; keeps order, case and repeats', () => {
    const raw = [
      'Host', 'evil.example', 'Proxy-Authorization', 'Basic eA==', 'Proxy-Connection', 'keep-alive', 'Connection', 'keep-alive, X-Secret',
      'X-Secret', 's', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket',
      'Expect', '100-continue', 'Trailer', 'X-T', 'Accept', 'a', 'Cookie', 'c1', 'Cookie', 'c2', 'Content-Length', '3', 'Proxy-Foo', 'f',
    ]; // prettier-ignore
    expect(forwardedHeaders(raw)).toEqual(['Accept', 'a', 'Cookie', 'c1', 'Cookie', 'c2', 'Content-Length', '3']);
  });
});

describe('request body framing', () => {
  it('passes Content-Length on, re-chunks chunked bodies, and refuses anything else', () => {
    expect(bodyFraming({})).toEqual({ header: [] });
    expect(bodyFraming({ 'content-length': '12' })).toEqual({ header: [] });
    expect(bodyFraming({ 'transfer-encoding': 'chunked' })).toEqual({ header: ['Transfer-Encoding', 'chunked'] });
    expect(bodyFraming({ 'transfer-encoding': 'chunked', 'content-length': '3' })).toMatchObject({ status: 400, rule: 'smuggling' });
    expect(bodyFraming({ 'transfer-encoding': 'gzip, chunked' })).toMatchObject({ status: 400, rule: 'smuggling' });
    expect(bodyFraming({ 'content-length': '3, 3' })).toMatchObject({ status: 400, rule: 'smuggling' });
  });
});
