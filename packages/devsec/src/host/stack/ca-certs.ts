/**
 * --caCerts: the company's CA certificates, trusted inside the sandbox (a TLS-inspecting proxy,
 * an internal registry or Git server). The host reads the file at every start — certificates
 * only, each parsed by Node's X509Certificate, never a private key — and copies what it accepted
 * into the stack's state directory, which the dev container gets read-only: two files, the
 * certificates alone (NODE_EXTRA_CA_CERTS) and a bundle of the public roots Node ships with them
 * (npm, pnpm, yarn, git, curl, OpenSSL, Python, which replace their roots with a file given).
 *
 * Who vouches for the file: a path given at start (`up-worktree --caCerts=PATH`) is the user's
 * word, accepted as it is. A file of the workspace named in the spec is the agent's to write:
 * the first start trusts it (the user named it when generating), and a later start refuses a
 * file whose certificates differ from the copy the last start accepted, naming what changed,
 * until the user starts with --caCerts again. No edit from inside changes what the next start
 * trusts without the user seeing it.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, lstatSync, readFileSync, writeFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { isAbsolute, join, resolve } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { readStateFile } from '../engine/state-dir';
import { foldersOnTheWay } from './mount-pins';
import type { Mount } from '../git/git-mounts';

/** Where the dev container finds them (read-only). */
export const CA_INSIDE = { extra: '/etc/devsec/ca/extra.pem', bundle: '/etc/devsec/ca/bundle.pem' } as const;
const MAX_BYTES = 1024 * 1024;

/** The variables that make each tool trust them. */
export function caEnvironment(): Record<string, string> {
  return {
    // Node adds these to its own roots (npm's and pnpm's registry client are Node's TLS too).
    NODE_EXTRA_CA_CERTS: CA_INSIDE.extra,
    // Each of these replaces its tool's roots: the bundle keeps the public ones.
    npm_config_cafile: CA_INSIDE.bundle,
    YARN_CAFILE: CA_INSIDE.bundle,
    YARN_HTTPS_CA_FILE_PATH: CA_INSIDE.bundle,
    GIT_SSL_CAINFO: CA_INSIDE.bundle,
    SSL_CERT_FILE: CA_INSIDE.bundle,
    CURL_CA_BUNDLE: CA_INSIDE.bundle,
    REQUESTS_CA_BUNDLE: CA_INSIDE.bundle,
    PIP_CERT: CA_INSIDE.bundle,
  };
}

export interface CaCert {
  subject: string;
  fingerprint256: string;
  validTo: string;
  pem: string;
}

/**
 * The CA certificates of a PEM text, each parsed by X509Certificate. Refused, naming `name`: a
 * private key anywhere, a block that is not a CERTIFICATE, a certificate that does not parse or
 * is not a CA (basicConstraints CA:TRUE), no certificate at all.
 */
export function parseCaCerts(text: string, name: string): CaCert[] {
  const shown = visible(name);
  if (/PRIVATE KEY/.test(text)) {
    throw new SandboxError(
      `Refusing to start: ${shown} contains a PRIVATE KEY block. --caCerts takes CA certificates only; a private key does not belong in the sandbox. Remove it from the file (and consider it exposed).`,
    );
  }
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)];
  if (blocks.length === 0) throw new SandboxError(`Refusing to start: ${shown} holds no PEM certificate (-----BEGIN CERTIFICATE-----).`);
  return blocks.map((block, index) => {
    if (block[1] !== 'CERTIFICATE') {
      throw new SandboxError(
        `Refusing to start: ${shown}, block ${index + 1}, is a ${visible(block[1])}, not a CERTIFICATE: --caCerts takes certificates only.`,
      );
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(block[0]);
    } catch (error) {
      throw new SandboxError(`Refusing to start: ${shown}, certificate ${index + 1}, does not parse (${(error as Error).message}).`);
    }
    const subject = cert.subject.replace(/\n/g, ', ');
    if (!cert.ca) {
      throw new SandboxError(
        `Refusing to start: ${shown}, certificate ${index + 1} (${visible(subject)}), is not a CA certificate (no basicConstraints CA:TRUE): give the CA that signed the server's certificate.`,
      );
    }
    return { subject, fingerprint256: cert.fingerprint256, validTo: cert.validTo, pem: cert.toString() };
  });
}

/** Reads a CA file as data: a regular file (never a symlink), at most 1 MB. */
function readCaFile(path: string, shown: string): string {
  const stat = lstatSync(path, { throwIfNoEntry: false });
  if (!stat) throw new SandboxError(`Refusing to start: the CA file ${visible(shown)} (--caCerts) does not exist.`);
  if (!stat.isFile()) throw new SandboxError(`Refusing to start: the CA file ${visible(shown)} (--caCerts) is not a regular file (a symlink?).`);
  if (stat.size > MAX_BYTES) throw new SandboxError(`Refusing to start: the CA file ${visible(shown)} is larger than 1 MB.`);
  return readFileSync(path, 'utf-8');
}

export interface CaTrust {
  certs: CaCert[];
  /** The dev container's read-only mounts of the two files. */
  mounts: Mount[];
  environment: Record<string, string>;
}

const digest = (certs: CaCert[]) => certs.map((cert) => cert.fingerprint256).sort();

/**
 * What this start trusts: from `--caCerts` given at start (a path, absolute or from the
 * workspace root), else the spec's workspace file, checked against the last accepted copy in
 * `stateDir`. Nothing when neither names a file.
 */
export function prepareCaTrust(
  workspaceRoot: string,
  specPath: string | undefined,
  givenAtStart: string | undefined,
  stateDir: string,
  say: (line: string) => void,
): CaTrust | undefined {
  const files = { extra: join(stateDir, 'ca-extra.pem'), bundle: join(stateDir, 'ca-bundle.pem') };
  const previousText = readStateFile(files.extra);
  const source = givenAtStart || specPath;
  // Nothing named: nothing mounted. The last accepted copy stays, what a later start compares with.
  if (!source) return undefined;
  const path = isAbsolute(source) ? source : resolve(workspaceRoot, source);
  // A file of the workspace is read through real folders only: never what a link the agent planted points at.
  if (!givenAtStart || path.startsWith(`${workspaceRoot}/`)) {
    if (!path.startsWith(`${workspaceRoot}/`)) throw new SandboxError(`Refusing to start: --caCerts ${visible(source)} is not inside the workspace.`);
    foldersOnTheWay(workspaceRoot, path, 'the CA file');
  }
  const certs = parseCaCerts(readCaFile(path, source), source);
  const previous = previousText === undefined ? undefined : parseCaCerts(previousText, files.extra);
  if (!givenAtStart && previous && digest(previous).join() !== digest(certs).join()) {
    const before = new Set(digest(previous));
    const after = new Set(digest(certs));
    const added = certs.filter((cert) => !before.has(cert.fingerprint256)).map((cert) => `+ ${visible(cert.subject)} (SHA-256 ${cert.fingerprint256})`);
    const removed = previous.filter((cert) => !after.has(cert.fingerprint256)).map((cert) => `- ${visible(cert.subject)} (SHA-256 ${cert.fingerprint256})`);
    throw new SandboxError(
      `Refusing to start: ${visible(source)} (--caCerts) changed since the last start trusted it:\n  ${[...added, ...removed].join('\n  ')}\n` +
        'The agent can write files of the workspace, and a CA it adds can read every TLS connection made inside. ' +
        `If you made this change, start once with --caCerts=${visible(source)} to trust the file as it is now; otherwise restore it.`,
    );
  }
  if (!previous || digest(previous).join() !== digest(certs).join()) {
    say(
      `Trusting inside the sandbox the CA certificates of ${visible(source)}:\n${certs.map((cert) => `  ${visible(cert.subject)} (SHA-256 ${cert.fingerprint256}, until ${cert.validTo})`).join('\n')}`,
    );
  }
  const extraPem = certs.map((cert) => cert.pem.trim()).join('\n') + '\n';
  // Readable by the container's user (the files only: the state directory stays 0700).
  writeFileSync(files.extra, extraPem, { mode: 0o644 });
  writeFileSync(files.bundle, [...rootCertificates.map((pem) => pem.trim()), extraPem.trim()].join('\n') + '\n', { mode: 0o644 });
  for (const file of Object.values(files)) chmodSync(file, 0o644);
  return {
    certs,
    mounts: [
      { source: files.extra, target: CA_INSIDE.extra, readOnly: true },
      { source: files.bundle, target: CA_INSIDE.bundle, readOnly: true },
    ],
    environment: caEnvironment(),
  };
}

/** A short fingerprint of what is trusted, for the worktree state. */
export const caDigest = (trust: CaTrust | undefined) =>
  trust ? createHash('sha256').update(digest(trust.certs).join()).digest('hex').slice(0, 16) : undefined;
