import { spawnSync } from 'node:child_process';
import { mismatch, OBSERVATIONS, parseProbeAnswer, PROBE_UID } from './live-answer';
import { probeScript } from './live-audit';
import type { ProbeInput } from '../../rules/live-findings';

/** What the probe writes in a generated stack (a small one: every field, a few entries). */
const clean = () => ({
  uid: 1000,
  gid: 1000,
  user: 'node',
  probeUid: PROBE_UID,
  status: { capEff: '0000000000000000', noNewPrivs: '1' },
  privilegeTools: [],
  credentials: { files: [], helpers: [], env: [] },
  writable: [{ path: '/ws/apps/app/.devcontainer', writable: false, error: 'EROFS' }],
  hostMarkersSeen: [],
  vscode: { processes: [], gitconfigHelpers: [] },
  endpoints: [
    {
      name: 'DOCKER_HOST=tcp://docker-proxy:2375',
      docker: true,
      ping: { status: 200, apiVersion: '1.41', body: 'OK' },
      calls: [{ method: 'POST', path: '/containers/create', answer: { status: 403, body: 'no' } }],
      env: [],
    },
  ],
  sockets: [],
  network: [{ host: '172.18.0.1', port: 2375, label: 'the gateway of network dev', answer: { error: 'ECONNREFUSED' } }],
  egress: {
    direct: [{ host: '1.1.1.1', port: 443, label: 'a public address', outcome: 'silent', error: 'timeout' }],
    lookup: { name: 'example.com', error: 'EAI_AGAIN' },
    proxy: 'http://egress-proxy:3128',
    refused: { name: 'devsec-audit.invalid', status: 403 },
  },
  unsearched: [],
});
const line = (value: unknown) => `${JSON.stringify(value)}\n`;

describe('parseProbeAnswer', () => {
  it('takes the one line the probe writes', () => {
    expect(parseProbeAnswer(line(clean()))).toEqual(clean());
  });

  it('refuses a forged line appended to the answer (the last line no longer wins)', () => {
    const forged = { ...clean(), user: 'root' };
    expect(() => parseProbeAnswer(line(clean()) + line(forged))).toThrow(
      /^The live probe's answer was not what the probe writes: it is 2 lines, where the probe writes one\. No verdict is drawn from it\.$/,
    );
    // Written before the probe's own line, or without an end of line: refused as well.
    expect(() => parseProbeAnswer(line(forged) + line(clean()))).toThrow(/it is 2 lines/);
    expect(() => parseProbeAnswer(JSON.stringify(clean()))).toThrow(/it is 1 line without an end of line/);
    expect(() => parseProbeAnswer('')).toThrow(/it is 0 lines/);
  });

  it.each<[string, (answer: ReturnType<typeof clean> & Record<string, unknown>) => void, RegExp]>([
    ['an unknown key', (answer) => (answer.verdict = 'clean'), /the answer has a key the probe never writes \("verdict"\)/],
    ['an unknown key deep inside', (answer) => Object.assign(answer.endpoints[0].ping, { trusted: true }), /the answer\.endpoints\[0\]\.ping has a key/],
    ['a missing field', (answer) => delete (answer as Partial<typeof answer>).sockets, /the answer\.sockets is missing/],
    ['a wrong type', (answer) => Object.assign(answer, { uid: '0' }), /the answer\.uid is not an integer/],
    ['a list where an object goes', (answer) => Object.assign(answer, { status: [] }), /the answer\.status is not an object/],
    ['an outcome the probe never writes', (answer) => Object.assign(answer.egress.direct[0], { outcome: 'fine' }), /outcome is not one of connected/],
    ['a probe that did not run as its uid', (answer) => (answer.probeUid = 1000), /it says the probe ran as uid 1000, where it runs as 65534/],
  ])('refuses %s', (_name, change, reason) => {
    const answer = clean() as ReturnType<typeof clean> & Record<string, unknown>;
    change(answer);
    expect(() => parseProbeAnswer(line(answer))).toThrow(reason);
  });

  it('refuses what is not JSON, and shows it as text', () => {
    expect(() => parseProbeAnswer('{"uid":\x1b[31m\n')).toThrow(/it is not JSON \(.*\)/);
    expect(() => parseProbeAnswer(line({ ...clean(), ['\x1b]0;x\x07']: 1 }))).toThrow('("\\u001b]0;x\\u0007")');
  });

  it('keeps a user name with escapes as data (the summary shows it escaped: rules/live-findings.spec.ts)', () => {
    expect(parseProbeAnswer(line({ ...clean(), user: 'node\x1b[31m' })).user).toBe('node\x1b[31m');
  });

  it('refuses a dev container whose agent runs as the probe uid', () => {
    expect(() => parseProbeAnswer(line({ ...clean(), uid: PROBE_UID }))).toThrow(/runs as uid 65534, the live probe's own/);
  });

  it('is the shape the real probe writes (run here, on this machine)', () => {
    const input: ProbeInput = {
      calls: [],
      targets: [],
      writable: ['/', '/proc/1', '/nonexistent-devsec'],
      workspaceRoot: process.cwd(),
      credentialPaths: ['.ssh'],
      enginePorts: [],
      socketPaths: [],
      hostNames: [],
      hostMarkers: [],
      egress: { direct: [], refusedName: 'devsec-audit.invalid', lookupName: 'devsec-audit.invalid' },
    };
    const result = spawnSync(process.execPath, ['-', JSON.stringify({ ...input, timeoutMs: 200 })], {
      input: probeScript(),
      encoding: 'utf-8',
      timeout: 60_000,
    });
    expect(result.stderr).toBe('');
    expect(result.stdout.split('\n')).toHaveLength(2);
    expect(mismatch(JSON.parse(result.stdout), OBSERVATIONS)).toBeUndefined();
    expect(JSON.parse(result.stdout).writable).toContainEqual({ path: '/nonexistent-devsec', writable: false, missing: true, error: 'ENOENT' });
  });
});
