import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { rootCertificates } from 'node:tls';
import { FAKE_KEY_BLOCK, TEST_CA_1, TEST_CA_2, TEST_LEAF } from '../../testing/ca-fixtures';
import { CA_INSIDE, caEnvironment, parseCaCerts, prepareCaTrust } from './ca-certs';

describe('parseCaCerts', () => {
  it('reads each CA certificate with X509Certificate, comments around them allowed', () => {
    const certs = parseCaCerts(`# corp roots\n${TEST_CA_1}\nsome text\n${TEST_CA_2}`, 'corp.pem');
    expect(certs.map((cert) => cert.subject)).toEqual(['CN=devsec test CA 1', 'CN=devsec test CA 2']);
    expect(certs[0].fingerprint256).toBe(new X509Certificate(TEST_CA_1).fingerprint256);
  });

  it('refuses a file with a PRIVATE KEY block, naming the file', () => {
    expect(() => parseCaCerts(`${TEST_CA_1}${FAKE_KEY_BLOCK}`, 'tools/certs/corp.pem')).toThrow(/tools\/certs\/corp.pem contains a PRIVATE KEY block/);
    expect(() => parseCaCerts(FAKE_KEY_BLOCK.replace(/PRIVATE KEY/g, 'EC PRIVATE KEY'), 'k.pem')).toThrow(/k.pem contains a PRIVATE KEY/);
  });

  it('refuses a block that is not a certificate, one that does not parse, a leaf that is not a CA, and an empty file', () => {
    expect(() => parseCaCerts('-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n', 'a.pem')).toThrow(
      /a.pem, block 1, is a PUBLIC KEY, not a CERTIFICATE/,
    );
    expect(() => parseCaCerts(TEST_CA_1.replace(/\n[A-Za-z0-9+/]{10}/, '\nAAAAAAAAAA'), 'b.pem')).toThrow(/b.pem, certificate 1, does not parse/);
    expect(() => parseCaCerts(TEST_LEAF, 'c.pem')).toThrow(/c.pem, certificate 1 \(CN=leaf.example\), is not a CA certificate/);
    expect(() => parseCaCerts('nothing here', 'd.pem')).toThrow(/d.pem holds no PEM certificate/);
  });
});

describe('prepareCaTrust', () => {
  let root: string;
  let state: string;
  const said: string[] = [];
  const say = (line: string) => said.push(line);
  beforeEach(() => {
    const base = mkdtempSync(join(tmpdir(), 'devsec-ca-'));
    root = join(base, 'ws');
    state = join(base, 'state');
    mkdirSync(join(root, 'certs'), { recursive: true });
    mkdirSync(state);
    said.length = 0;
  });
  afterEach(() => rmSync(join(root, '..'), { recursive: true, force: true }));

  it('trusts a workspace file on the first start: copies it, mounts the copy read-only, sets every tool’s variable', () => {
    writeFileSync(join(root, 'certs/corp.pem'), TEST_CA_1);
    const trust = prepareCaTrust(root, 'certs/corp.pem', undefined, state, say)!;
    expect(trust.mounts).toEqual([
      { source: join(state, 'ca-extra.pem'), target: CA_INSIDE.extra, readOnly: true },
      { source: join(state, 'ca-bundle.pem'), target: CA_INSIDE.bundle, readOnly: true },
    ]);
    expect(trust.environment).toEqual(caEnvironment());
    expect(trust.environment).toMatchObject({ NODE_EXTRA_CA_CERTS: CA_INSIDE.extra, GIT_SSL_CAINFO: CA_INSIDE.bundle, npm_config_cafile: CA_INSIDE.bundle });
    expect(new X509Certificate(readFileSync(join(state, 'ca-extra.pem'))).fingerprint256).toBe(new X509Certificate(TEST_CA_1).fingerprint256);
    // The bundle keeps the public roots (npm's cafile and git's CAINFO replace them).
    const bundle = readFileSync(join(state, 'ca-bundle.pem'), 'utf-8');
    expect(bundle.split('-----BEGIN CERTIFICATE-----').length - 1).toBe(rootCertificates.length + 1);
    expect(statSync(join(state, 'ca-extra.pem')).mode & 0o777).toBe(0o644);
    expect(said.join('\n')).toMatch(/Trusting inside the sandbox the CA certificates of certs\/corp.pem:\n {2}CN=devsec test CA 1 \(SHA-256 /);
  });

  it('refuses a later start when the file changed (an agent’s edit), naming what changed; the user’s --caCerts accepts it', () => {
    writeFileSync(join(root, 'certs/corp.pem'), TEST_CA_1);
    prepareCaTrust(root, 'certs/corp.pem', undefined, state, say);
    // Planted from inside: the workspace is the agent's to write.
    writeFileSync(join(root, 'certs/corp.pem'), `${TEST_CA_1}${TEST_CA_2}`);
    expect(() => prepareCaTrust(root, 'certs/corp.pem', undefined, state, say)).toThrow(
      /certs\/corp.pem \(--caCerts\) changed since the last start trusted it:\n {2}\+ CN=devsec test CA 2 \(SHA-256 .*start once with --caCerts=certs\/corp.pem/s,
    );
    expect(readFileSync(join(state, 'ca-extra.pem'), 'utf-8')).not.toContain(TEST_CA_2.split('\n')[1]);
    expect(prepareCaTrust(root, 'certs/corp.pem', 'certs/corp.pem', state, say)?.certs).toHaveLength(2);
    expect(prepareCaTrust(root, 'certs/corp.pem', undefined, state, say)?.certs).toHaveLength(2);
  });

  it('takes a file outside the workspace given at start, and nothing when no file is named', () => {
    const outside = join(root, '..', 'corp.pem');
    writeFileSync(outside, TEST_CA_2);
    expect(prepareCaTrust(root, undefined, outside, state, say)?.certs.map((cert) => cert.subject)).toEqual(['CN=devsec test CA 2']);
    expect(prepareCaTrust(root, undefined, undefined, state, say)).toBeUndefined();
  });

  it('never reads a workspace CA file through a symlink', () => {
    writeFileSync(join(root, '..', 'elsewhere.pem'), TEST_CA_1);
    symlinkSync(join(root, '..', 'elsewhere.pem'), join(root, 'certs/link.pem'));
    expect(() => prepareCaTrust(root, 'certs/link.pem', undefined, state, say)).toThrow(/is not a regular file \(a symlink\?\)/);
    symlinkSync(join(root, '..'), join(root, 'up'));
    expect(() => prepareCaTrust(root, 'up/elsewhere.pem', undefined, state, say)).toThrow(/symlink/);
  });
});
