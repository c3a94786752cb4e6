import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Generated development passwords live in the git common dir: outside the work tree (never
 * committed), and shared by every worktree of the repository, which all see the same
 * shared services.
 */
export function sharedSecretsPath(gitCommonDir: string): string {
  return join(gitCommonDir, 'devsec', 'shared.env');
}

/** The `${DEVSEC_…_PASSWORD}` variables a compose file refers to. */
export function referencedSecrets(composeText: string): string[] {
  return [...new Set([...composeText.matchAll(/\$\{(DEVSEC_[A-Z0-9_]+_PASSWORD)\b/g)].map((match) => match[1]))].sort();
}

function parseEnv(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) values[match[1]] = match[2];
  }
  return values;
}

/** Reads the repository's secrets, generating (once) any that the compose file needs. */
export function ensureSharedSecrets(gitCommonDir: string, composeText: string): Record<string, string> {
  const path = sharedSecretsPath(gitCommonDir);
  const values = existsSync(path) ? parseEnv(readFileSync(path, 'utf-8')) : {};
  const missing = referencedSecrets(composeText).filter((name) => !values[name]);
  if (missing.length > 0) {
    // URL-safe and free of `$`, so it needs no escaping in a URL or in compose.
    for (const name of missing) values[name] = randomBytes(18).toString('base64url');
    mkdirSync(join(gitCommonDir, 'devsec'), { recursive: true, mode: 0o700 });
    const lines = Object.entries(values).map(([name, value]) => `${name}=${value}`);
    writeFileSync(path, `# Development passwords of the shared services (@org/devsec). Not in git.\n${lines.join('\n')}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
  return values;
}
