import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureSharedSecrets, legacySecretsPath, parseSecrets, secretsPath } from './secrets';

const COMPOSE = 'services:\n  postgres:\n    environment:\n      POSTGRES_PASSWORD: ${DEVSEC_POSTGRES_PASSWORD:?run up-shared}\n';

describe('shared secrets in the state directory', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  let gitDir: string;
  const said: string[] = [];
  const say = (line: string) => said.push(line);
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'devsec-secrets-'));
    env = { XDG_STATE_HOME: join(home, 'state') };
    gitDir = join(home, 'repo/.git');
    mkdirSync(gitDir, { recursive: true });
    said.length = 0;
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('generates a password once, keyed by the shared compose project, outside the workspace and git', () => {
    const first = ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env);
    expect(first.DEVSEC_POSTGRES_PASSWORD).toMatch(/^[A-Za-z0-9_-]{24}$/);
    // A second clone (another git dir) of the same repository gets the same password.
    expect(ensureSharedSecrets('ws-shared', COMPOSE, join(home, 'clone/.git'), say, env)).toEqual(first);
    const path = secretsPath('ws-shared', env);
    expect(path).toBe(join(home, 'state/devsec/shared/ws-shared.env'));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(join(gitDir, 'devsec'))).toBe(false);
  });

  it.each([
    [
      'an unknown line',
      'DEVSEC_POSTGRES_PASSWORD=abcdefgh123\nDEVSEC_WORKSPACE=/\n',
      /ws-shared\.env:2: only DEVSEC_<NAME>_PASSWORD=<value> lines belong here, not "DEVSEC_WORKSPACE"/,
    ],
    ['a duplicate', 'DEVSEC_POSTGRES_PASSWORD=abcdefgh123\nDEVSEC_POSTGRES_PASSWORD=ijklmnop456\n', /:2: DEVSEC_POSTGRES_PASSWORD is set twice/],
    ['a value with shell characters', 'DEVSEC_POSTGRES_PASSWORD=$(id)abcdefgh\n', /:1: the value of DEVSEC_POSTGRES_PASSWORD must be/],
    ['control characters in a name', 'DEVSEC_\u001b[2J=abcdefgh123\n', /not "DEVSEC_\\x1b\[2J"/],
  ])('refuses %s, naming the file and line', (_name, text, message) => {
    ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env);
    writeFileSync(secretsPath('ws-shared', env), text);
    expect(() => ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env)).toThrow(message);
  });

  it('never reads the state file through a symlink', () => {
    ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env);
    const path = secretsPath('ws-shared', env);
    rmSync(path);
    writeFileSync(join(home, 'other.env'), 'DEVSEC_POSTGRES_PASSWORD=stolen-secret-1\n');
    symlinkSync(join(home, 'other.env'), path);
    expect(() => ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env)).toThrow(/is a symlink/);
  });

  it('moves the file of an older version out of the git common dir once, validated, with a message', () => {
    mkdirSync(join(gitDir, 'devsec'));
    writeFileSync(legacySecretsPath(gitDir), '# old\nDEVSEC_POSTGRES_PASSWORD=the-old-one-123\n');
    expect(ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env)).toEqual({ DEVSEC_POSTGRES_PASSWORD: 'the-old-one-123' });
    expect(existsSync(legacySecretsPath(gitDir))).toBe(false);
    expect(readFileSync(secretsPath('ws-shared', env), 'utf-8')).toContain('DEVSEC_POSTGRES_PASSWORD=the-old-one-123');
    expect(said).toEqual([expect.stringMatching(/^Moved the shared services' passwords from .*shared\.env to .*ws-shared\.env/)]);
  });

  it('refuses to migrate an old file that holds anything else, or is a symlink', () => {
    mkdirSync(join(gitDir, 'devsec'));
    writeFileSync(legacySecretsPath(gitDir), 'DEVSEC_POSTGRES_PASSWORD=the-old-one-123\nDEVSEC_WORKSPACE=/\n');
    expect(() => ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env)).toThrow(/devsec\/shared\.env:2: only DEVSEC_<NAME>_PASSWORD/);
    rmSync(legacySecretsPath(gitDir));
    symlinkSync('/etc/passwd', legacySecretsPath(gitDir));
    expect(() => ensureSharedSecrets('ws-shared', COMPOSE, gitDir, say, env)).toThrow(/is not a regular file/);
  });

  it('parses comments and blank lines', () => {
    expect(parseSecrets('# c\n\nDEVSEC_REDIS_PASSWORD=abcdefgh\n', 'f')).toEqual({ DEVSEC_REDIS_PASSWORD: 'abcdefgh' });
  });
});
