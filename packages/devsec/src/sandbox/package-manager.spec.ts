import { detectPackageManager, parsePackageManagerField, WorkspaceFiles } from './package-manager';

const files = (over: Partial<WorkspaceFiles>): WorkspaceFiles => ({ pnpmLock: false, yarnLock: false, packageLock: false, ...over });
const manifest = (packageManager?: unknown) => JSON.stringify({ name: 'w', ...(packageManager === undefined ? {} : { packageManager }) });

describe('detectPackageManager', () => {
  it('reads the lockfile: pnpm-lock.yaml is pnpm, package-lock.json or none is npm', () => {
    expect(detectPackageManager(files({ pnpmLock: true, packageJson: manifest() }))).toEqual({ name: 'pnpm', from: 'pnpm-lock.yaml' });
    expect(detectPackageManager(files({ packageLock: true, packageJson: manifest() }))).toEqual({ name: 'npm', from: 'package-lock.json' });
    expect(detectPackageManager(files({}))).toEqual({ name: 'npm', from: 'no lockfile (npm)' });
  });

  it('takes the version, and the hash corepack checks, from the packageManager field', () => {
    const hex = 'ab'.repeat(64);
    expect(detectPackageManager(files({ pnpmLock: true, packageJson: manifest(`pnpm@10.26.0+sha512.${hex}`) }))).toEqual({
      name: 'pnpm',
      version: '10.26.0',
      hash: { algorithm: 'sha512', hex },
      from: 'package.json "packageManager"',
    });
  });

  it('reads .yarnrc.yml with a YAML parser: the node-modules linker is accepted, in any YAML spelling', () => {
    const yarnrc = '# comment\n"nodeLinker": "node-modules"\nenableTelemetry: false\n';
    expect(detectPackageManager(files({ yarnLock: true, yarnrc, packageJson: manifest('yarn@4.12.0') }))).toMatchObject({ name: 'yarn', version: '4.12.0' });
  });

  it("refuses Yarn Plug'n'Play, naming nodeLinker and the fix: set explicitly, by default (no .yarnrc.yml), or with the key only in a comment", () => {
    for (const yarnrc of ['nodeLinker: pnp\n', undefined, '# nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn.cjs\n']) {
      expect(() => detectPackageManager(files({ yarnLock: true, yarnrc, packageJson: manifest('yarn@4.12.0') }))).toThrow(
        /nodeLinker: pnp.*Add `nodeLinker: node-modules` to \.yarnrc\.yml, run `yarn install` on the host/s,
      );
    }
  });

  it('takes Yarn 1 (its lockfile line, or a 1.x pin) as node_modules without a .yarnrc.yml', () => {
    expect(detectPackageManager(files({ yarnLock: true, yarnLockV1: true }))).toEqual({ name: 'yarn', classic: true, from: 'yarn.lock' });
    expect(detectPackageManager(files({ yarnLock: true, packageJson: manifest('yarn@1.22.22') }))).toMatchObject({
      name: 'yarn',
      version: '1.22.22',
      classic: true,
    });
    expect(detectPackageManager(files({ yarnLock: true, packageJson: manifest('yarn@4.12.0'), yarnrc: 'nodeLinker: node-modules\n' })).classic).toBeUndefined();
  });

  it('refuses a field that disagrees with the only lockfile, and two lockfiles with no field', () => {
    expect(() => detectPackageManager(files({ pnpmLock: true, packageJson: manifest('npm@10.9.2') }))).toThrow(/the lockfile is pnpm-lock\.yaml/);
    expect(() => detectPackageManager(files({ pnpmLock: true, packageLock: true }))).toThrow(/pnpm-lock\.yaml and package-lock\.json/);
  });
});

describe('parsePackageManagerField', () => {
  it('accepts an exact release only: never a range, tag, path, URL or git spec (npm pack would fetch or run them)', () => {
    expect(parsePackageManagerField('pnpm@9.15.0-rc.1')).toEqual({ name: 'pnpm', version: '9.15.0-rc.1' });
    for (const value of [
      'pnpm@^9.0.0',
      'pnpm@latest',
      'pnpm@file:../evil.tgz',
      'pnpm@github:evil/pnpm',
      'pnpm@https://evil.example/pnpm.tgz',
      'pnpm@9.0.0 --registry=https://evil.example',
      'bun@1.1.0',
      'pnpm@9.0.0+md5.abcd',
      42,
    ]) {
      expect(() => parsePackageManagerField(value)).toThrow(/exact release/);
    }
  });

  it('prints what the agent wrote with control characters made visible', () => {
    expect(() => parsePackageManagerField('pnpm@\u001b[2J9')).toThrow(/\\u001b|\\x1b|␛/);
  });
});
