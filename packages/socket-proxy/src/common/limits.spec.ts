import { loadConfig } from '../docker/config';
import { DEFAULT_LIMITS, LIMITS_USAGE, parseLimits } from './limits';

describe('parseLimits', () => {
  it('has safe defaults: 256 connections, 64 streams, 5 s for headers, body and idle keep-alive', () => {
    expect(parseLimits({})).toEqual({ limits: DEFAULT_LIMITS, problems: [] });
    expect(DEFAULT_LIMITS).toEqual({ maxConnections: 256, maxStreams: 64, headersTimeoutMs: 5000, bodyTimeoutMs: 5000, idleTimeoutMs: 5000 });
    expect(loadConfig({}).limits).toEqual(DEFAULT_LIMITS);
  });

  it('reads counts and seconds from the environment', () => {
    const env = { MAX_CONNECTIONS: '32', MAX_STREAMS: ' 8 ', HEADERS_TIMEOUT: '2', BODY_TIMEOUT: '0.5', IDLE_TIMEOUT: '30' };
    expect(parseLimits(env)).toEqual({
      limits: { maxConnections: 32, maxStreams: 8, headersTimeoutMs: 2000, bodyTimeoutMs: 500, idleTimeoutMs: 30000 },
      problems: [],
    });
    expect(loadConfig(env).limits.maxConnections).toBe(32);
  });

  it.each([
    [{ MAX_CONNECTIONS: '0' }, /MAX_CONNECTIONS=0 is not a count: use a whole number from 1 to 65536/],
    [{ MAX_CONNECTIONS: '1e3' }, /MAX_CONNECTIONS=1e3 is not a count/],
    [{ MAX_STREAMS: '-1' }, /MAX_STREAMS=-1 is not a count/],
    [{ HEADERS_TIMEOUT: '0' }, /HEADERS_TIMEOUT=0 is not a duration: use seconds, more than 0 and at most 3600/],
    [{ BODY_TIMEOUT: '5s' }, /BODY_TIMEOUT=5s is not a duration/],
    [{ IDLE_TIMEOUT: '7200' }, /IDLE_TIMEOUT=7200 is not a duration/],
    [{ MAX_CONNECTIONS: '16' }, /MAX_STREAMS=64 must be below MAX_CONNECTIONS=16, so that short requests \(docker ps\) always find a connection/],
  ])('refuses %p, and the proxy will not start on it', (env, message) => {
    expect(parseLimits(env).problems).toEqual([expect.stringMatching(message)]);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('reads only the variables a mode asks for: the forwarder has no streams', () => {
    expect(parseLimits({ MAX_CONNECTIONS: '16', MAX_STREAMS: 'x' }, ['MAX_CONNECTIONS'])).toEqual({
      limits: { ...DEFAULT_LIMITS, maxConnections: 16 },
      problems: [],
    });
  });

  it('never takes a limit for a misspelt switch', () => {
    expect(() => loadConfig({ MAX_CONNECTIONS: '1', MAX_STREAMS: '0' })).toThrow(/MAX_STREAMS=0 is not a count/);
    expect(() => loadConfig({ MAX_CONNECTIONS: '2', MAX_STREAMS: '1' })).not.toThrow();
  });

  it('documents every limit and its default for --help', () => {
    for (const name of ['MAX_CONNECTIONS', 'MAX_STREAMS', 'HEADERS_TIMEOUT', 'BODY_TIMEOUT', 'IDLE_TIMEOUT']) expect(LIMITS_USAGE).toContain(name);
    expect(LIMITS_USAGE).toMatch(/default 256/);
    expect(LIMITS_USAGE).toMatch(/logs -f and events have no idle timeout/);
  });
});
