import { formatDuration, isEgressMode, loadEgressConfig, parseDuration, parseEgressListen } from './config';
import { USAGE } from '../main';
import { EGRESS_DEFAULT_PORTS, EGRESS_ENV, EGRESS_PORT } from '../common/vocabulary';

describe('egress configuration', () => {
  it('is selected by EGRESS or any EGRESS_* variable, and by nothing else', () => {
    expect(isEgressMode({ EGRESS: '1' })).toBe(true);
    expect(isEgressMode({ EGRESS_ALLOW: 'example.com' })).toBe(true);
    expect(isEgressMode({ FORWARD: '3000:web:3000', CONTAINERS: '1', EGRESSX: '1' })).toBe(false);
  });

  it('has safe defaults', () => {
    const config = loadEgressConfig({ EGRESS: '1' });
    expect(config).toMatchObject({
      listen: { host: '127.0.0.1', port: EGRESS_PORT },
      defaultPorts: [...EGRESS_DEFAULT_PORTS],
      maxConnections: 256,
      headerTimeoutMs: 10_000,
      idleTimeoutMs: 300_000,
      connectTimeoutMs: 10_000,
      logLevel: 'info',
    });
    // An empty list lets nothing out.
    expect(config.allowlist.entries).toEqual([]);
    expect(config.allowlist.privateAllowed.size).toBe(0);
  });

  it('reads every variable', () => {
    const config = loadEgressConfig({
      EGRESS: '1',
      EGRESS_LISTEN: 'tcp://0.0.0.0:3129',
      EGRESS_ALLOW: 'registry.npmjs.org,*.github.com stand-in:8443',
      EGRESS_ALLOW_PRIVATE: 'stand-in',
      EGRESS_PORTS: '443',
      EGRESS_MAX_CONNECTIONS: '32',
      EGRESS_HEADER_TIMEOUT: '500ms',
      EGRESS_IDLE_TIMEOUT: '10m',
      EGRESS_CONNECT_TIMEOUT: '3s',
      LOG_LEVEL: 'WARN',
    });
    expect(config).toMatchObject({
      listen: { host: '0.0.0.0', port: 3129 },
      defaultPorts: [443],
      maxConnections: 32,
      headerTimeoutMs: 500,
      idleTimeoutMs: 600_000,
      connectTimeoutMs: 3000,
      logLevel: 'warn',
    });
    expect(config.allowlist.entries.map((entry) => [entry.text, entry.ports])).toEqual([
      ['registry.npmjs.org', [443]],
      ['*.github.com', [443]],
      ['stand-in:8443', [8443]],
    ]);
  });

  it('refuses to start on any problem, naming each variable and entry', () => {
    let message = '';
    try {
      loadEgressConfig({
        EGRESS: '1',
        EGRESS_ALLOW: 'ok.example.com, *.com',
        EGRESS_ALLOW_PRIVATE: 'elsewhere',
        EGRESS_ALLOWED: 'x',
        EGRESS_PORTS: '443,0',
        EGRESS_MAX_CONNECTIONS: 'many',
        EGRESS_HEADER_TIMEOUT: '10',
        EGRESS_IDLE_TIMEOUT: '0s',
        EGRESS_CONNECT_TIMEOUT: '25h',
        EGRESS_LISTEN: 'tcp://proxy:3128',
        LOG_LEVEL: 'loud',
      });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')[0]).toBe('devsec-socket-proxy (egress) will not start:');
    for (const expected of [
      'EGRESS_ALLOWED is not a variable of the egress proxy',
      'EGRESS_LISTEN=tcp://proxy:3128 is not tcp://ADDRESS:PORT with an IP address',
      'EGRESS_PORTS=443,0: "0" is not a port',
      'EGRESS_ALLOW: "*.com" is too broad',
      'EGRESS_ALLOW_PRIVATE: "elsewhere" is not listed exactly in EGRESS_ALLOW',
      'EGRESS_MAX_CONNECTIONS=many is not a number',
      'EGRESS_HEADER_TIMEOUT=10 is not a duration',
      'EGRESS_IDLE_TIMEOUT=0s is not a duration',
      'EGRESS_CONNECT_TIMEOUT=25h is not a duration',
      'LOG_LEVEL=loud is not one of',
    ]) {
      expect(message).toContain(expected);
    }
  });

  it('wants EGRESS=1 with its variables, and not with FORWARD', () => {
    expect(() => loadEgressConfig({ EGRESS_ALLOW: 'example.com' })).toThrow(/EGRESS_ALLOW is set but EGRESS is not: set EGRESS=1/);
    expect(() => loadEgressConfig({ EGRESS: '0' })).toThrow(/EGRESS=0: the egress mode is EGRESS=1/);
    expect(() => loadEgressConfig({ EGRESS: '1', FORWARD: '3000:web:3000' })).toThrow(/FORWARD and EGRESS select two different modes/);
  });

  it('reads durations with their unit, and prints them back', () => {
    expect(parseDuration('X', '250ms')).toBe(250);
    expect(parseDuration('X', '90s')).toBe(90_000);
    expect(parseDuration('X', '2h')).toBe(7_200_000);
    expect(() => parseDuration('X', '300')).toThrow(/X=300 is not a duration .* with its unit/);
    expect(() => parseDuration('X', '1.5s')).toThrow(/X=1.5s/);
    expect(formatDuration(300_000)).toBe('5m');
    expect(formatDuration(1500)).toBe('1500ms');
    expect(formatDuration(10_000)).toBe('10s');
  });

  it('listens on an IP address', () => {
    expect(parseEgressListen('tcp://[::]:3128')).toEqual({ host: '::', port: 3128 });
    expect(parseEgressListen('tcp://127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(() => parseEgressListen('unix:///tmp/egress.sock')).toThrow(/EGRESS_LISTEN=unix/);
  });

  it('documents every variable in the usage text', () => {
    for (const name of Object.values(EGRESS_ENV)) expect(USAGE).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('names in the vocabulary exactly the variables it reads', () => {
    expect(Object.keys(EGRESS_ENV)).toEqual(Object.values(EGRESS_ENV));
    expect(() => loadEgressConfig(Object.fromEntries(Object.values(EGRESS_ENV).map((name) => [name, name === 'EGRESS' ? '1' : 'bad'])))).not.toThrow(
      /is not a variable of the egress proxy/,
    );
  });
});
