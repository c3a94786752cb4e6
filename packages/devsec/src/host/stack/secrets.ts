/**
 * Generated development passwords of the shared services. They live in the host user's state
 * directory (`$XDG_STATE_HOME/devsec/shared/<compose project>.env`), keyed by the shared stack's
 * compose project: every clone and worktree of the repository on this machine talks to the same
 * Postgres, so they all get the same password — and no sandbox mounts that folder. The file is
 * read as data: only `DEVSEC_<NAME>_PASSWORD=<value>` lines, anything else is an error naming
 * the line.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { readStateFile, stateDir, stateKey, writeStateFile } from '../engine/state-dir';

export const SECRET_NAME = /^DEVSEC_[A-Z0-9_]+_PASSWORD$/;
/** What we generate (base64url) and what a user may set by hand: no quoting needed anywhere. */
const SECRET_VALUE = /^[A-Za-z0-9_.~+-]{8,200}$/;
const HEADER = '# Development passwords of the shared services (@org/devsec). Not in any workspace, not in git.';

export function secretsPath(sharedProject: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(stateDir(['shared'], env), `${stateKey(sharedProject)}.env`);
}

/** Where versions before 0.2 kept them: in the git common dir, which the sandbox could write. */
export function legacySecretsPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'devsec', 'shared.env');
}

/** The `${DEVSEC_…_PASSWORD}` variables a compose file refers to. */
export function referencedSecrets(composeText: string): string[] {
  return [...new Set([...composeText.matchAll(/\$\{(DEVSEC_[A-Z0-9_]+_PASSWORD)\b/g)].map((match) => match[1]))].sort();
}

/** Strict: comments and blank lines, and `DEVSEC_<NAME>_PASSWORD=<value>` once per name. */
export function parseSecrets(text: string, path: string): Record<string, string> {
  const values: Record<string, string> = {};
  text.split('\n').forEach((raw, index) => {
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '' || line.startsWith('#')) return;
    const where = `${path}:${index + 1}`;
    const equals = line.indexOf('=');
    const name = equals === -1 ? line : line.slice(0, equals);
    const value = equals === -1 ? '' : line.slice(equals + 1);
    if (!SECRET_NAME.test(name)) {
      throw new SandboxError(
        `${where}: only DEVSEC_<NAME>_PASSWORD=<value> lines belong here, not "${visible(name.slice(0, 80))}". Remove the line, then run again.`,
      );
    }
    if (!SECRET_VALUE.test(value)) {
      throw new SandboxError(`${where}: the value of ${name} must be 8 to 200 letters, digits or "_.~+-". Fix it, then run again.`);
    }
    if (name in values) throw new SandboxError(`${where}: ${name} is set twice. Keep one line, then run again.`);
    values[name] = value;
  });
  return values;
}

function serialise(values: Record<string, string>): string {
  return `${HEADER}\n${Object.entries(values)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n')}\n`;
}

/**
 * Moves the secrets of an older version out of the git common dir, once: they are read as data
 * (never through a symlink), checked like the state file, and the old file is removed.
 */
function migrateLegacy(gitCommonDir: string, path: string, say: (line: string) => void): Record<string, string> | undefined {
  const legacy = legacySecretsPath(gitCommonDir);
  let stat;
  try {
    stat = lstatSync(legacy);
  } catch {
    return undefined;
  }
  if (!stat.isFile()) throw new SandboxError(`${legacy} is not a regular file (a symlink?): @org/devsec will not read it. Remove it, then run again.`);
  const values = parseSecrets(readFileSync(legacy, 'utf-8'), legacy);
  writeStateFile(path, serialise(values));
  unlinkSync(legacy);
  try {
    rmdirSync(dirname(legacy));
  } catch {
    // not empty: left as it is
  }
  say(`Moved the shared services' passwords from ${legacy} to ${path} (outside every sandbox).`);
  return values;
}

/** The repository's secrets, generating (once) any that the shared compose file needs. */
export function ensureSharedSecrets(
  sharedProject: string,
  composeText: string,
  gitCommonDir: string,
  say: (line: string) => void = console.log,
  env: NodeJS.ProcessEnv = process.env,
  /** Passwords needed besides those the file refers to (a Redis administrator's: tenants.ts). */
  alsoNeeded: string[] = [],
): Record<string, string> {
  const path = secretsPath(sharedProject, env);
  const text = readStateFile(path);
  const values = text !== undefined ? parseSecrets(text, path) : (migrateLegacy(gitCommonDir, path, say) ?? {});
  const missing = [...new Set([...referencedSecrets(composeText), ...alsoNeeded])].filter((name) => !values[name]);
  if (missing.length > 0) {
    // URL-safe and free of `$`, so it needs no escaping in a URL or in compose.
    for (const name of missing) values[name] = randomBytes(18).toString('base64url');
    writeStateFile(path, serialise(values));
  }
  return values;
}
