/**
 * What the override file adds to a sandbox's egress, per worktree and machine: the allowlist
 * gets the host of the repository's https remotes (git fetch inside needs it; push has no
 * credentials anyway), and NO_PROXY the names the dev container reaches directly (its stack's
 * services and container names, the shared services). The remotes are read from the
 * repository's own config, which no sandbox can write, as data: `url = ` lines of
 * `[remote "…"]` sections, nothing else (no includes, no insteadOf).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { checkHosts, egressAllowIn, noProxyList, splitHosts } from '../../sandbox/egress';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import { APP_SERVICE, EGRESS_LABEL, EGRESS_SERVICE, EgressMode, NO_PROXY_ENV_NAMES, SHARED_COMPOSE_FILE } from '../../sandbox/vocabulary';

/** The hosts (with a port when the URL names one) of the repository's http(s) remotes. */
export function remoteHosts(gitCommonDir: string): string[] {
  let text: string;
  try {
    text = readFileSync(join(gitCommonDir, 'config'), 'utf-8');
  } catch {
    return [];
  }
  const hosts: string[] = [];
  let inRemote = false;
  for (const line of text.split('\n')) {
    const section = /^\s*\[\s*([^\]\s]+)/.exec(line);
    if (section) inRemote = section[1].toLowerCase() === 'remote';
    const url = inRemote ? /^\s*url\s*=\s*"?([^"\s]+)"?\s*$/i.exec(line)?.[1] : undefined;
    if (!url) continue;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === 'https:' || parsed.protocol === 'http:') hosts.push(parsed.port ? `${parsed.hostname}:${parsed.port}` : parsed.hostname);
    } catch {
      // not a URL (scp-like ssh syntax): git over SSH has no way out of the sandbox
    }
  }
  // Only what the egress proxy can parse: a remote the user wrote oddly is left out, not trusted.
  return [...new Set(hosts.map((host) => host.toLowerCase()))].filter((host) => {
    try {
      return checkHosts([host], 'remote').length === 1;
    } catch {
      return false;
    }
  });
}

interface StackFiles {
  /** The parsed compose files of the stack (generated, the user's services). */
  models: unknown[];
  /** The shared services file, parsed. */
  shared: unknown;
  composeProject: string;
  gitCommonDir: string;
}

/** What Compose accepts as a service name; anything else (a newline above all) never reaches a file we write. */
const SERVICE_NAME = /^[a-zA-Z0-9._-]+$/;

const serviceNames = (model: unknown) =>
  Object.keys((model as { services?: Record<string, unknown> } | null)?.services ?? {}).map((name) => {
    if (!SERVICE_NAME.test(name))
      throw new SandboxError(
        `Refusing to start: the service name ${visible(JSON.stringify(name))} in the stack's compose files or ${SHARED_COMPOSE_FILE} is not one Compose accepts (letters, digits, '.', '_', '-'): rename it.`,
      );
    return name;
  });

/** The services' environment the override sets for egress, or undefined when the stack has no egress proxy. */
export function egressOverride(files: StackFiles): Record<string, { environment: Record<string, string> }> | undefined {
  const listed = files.models.map(egressAllowIn).find((value) => value !== undefined);
  if (listed === undefined) return undefined;
  const allow = [...new Set([...splitHosts(listed), ...remoteHosts(files.gitCommonDir)])];
  const noProxy = noProxyList(files.composeProject, files.models.flatMap(serviceNames), serviceNames(files.shared)).join(',');
  return {
    [EGRESS_SERVICE]: { environment: { EGRESS_ALLOW: allow.join(' ') } },
    [APP_SERVICE]: { environment: Object.fromEntries(NO_PROXY_ENV_NAMES.map((name) => [name, noProxy])) },
  };
}

/** The stack's compose files, parsed; a file that does not parse is Compose's to report. */
export function parseComposeFiles(paths: string[]): unknown[] {
  return paths.map((path) => {
    try {
      return parse(readFileSync(path, 'utf-8'));
    } catch {
      return undefined;
    }
  });
}

/** The dev container's egress mode, as the last compose file that labels it says. */
export function egressModeOf(models: unknown[]): EgressMode | undefined {
  let mode: EgressMode | undefined;
  for (const model of models) {
    const labels = (model as { services?: Record<string, { labels?: unknown } | null> } | null)?.services?.[APP_SERVICE]?.labels;
    const value = labels && typeof labels === 'object' && !Array.isArray(labels) ? (labels as Record<string, unknown>)[EGRESS_LABEL] : undefined;
    if (value === 'open' || value === 'allowlist') mode = value;
  }
  return mode;
}
