/**
 * What the dev container may reach outside: the hosts of its egress proxy's allowlist. The list
 * sits in the generated compose file (the egress proxy's EGRESS_ALLOW, one host per line), where
 * the user may add hosts by hand: the managed-file fingerprint leaves that value out, and a re-run
 * reads it back, so additions are kept. The defaults (npm, the agent's API) are always there.
 */
import { GeneratorError } from './errors';
import { Agent, AGENTS, DEFAULT_EGRESS_HOSTS, EGRESS_SERVICE, NO_PROXY_ALWAYS } from './vocabulary';

/** EGRESS_ALLOW's place in the compose model, which the managed-file fingerprint leaves to the user. */
export const EGRESS_ALLOW_PATH = ['services', EGRESS_SERVICE, 'environment', 'EGRESS_ALLOW'] as const;

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const PORT = '(?::(?:[1-9][0-9]{0,4}))?';
/** `name`, `*.domain`, `192.0.2.1` or `[2001:db8::1]`, each with an optional `:port`: the egress proxy's grammar. */
const HOST_ENTRY = new RegExp(`^(?:(?:\\*\\.)?${LABEL}(?:\\.${LABEL})*|\\d{1,3}(?:\\.\\d{1,3}){3}|\\[[0-9a-f:.]+\\])${PORT}$`);

/** Entries of a list written with commas, spaces or newlines. */
export function splitHosts(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean);
}

/** Checks each entry; `where` names the option or the file in the error. */
export function checkHosts(entries: string[], where: string): string[] {
  const bad = entries.find((entry) => !HOST_ENTRY.test(entry) || entry.length > 260);
  if (bad !== undefined) {
    throw new GeneratorError(
      `${where}: "${bad.slice(0, 80)}" is not a host the egress proxy can allow. ` +
        'Use a name (registry.npmjs.org), *.domain for its subdomains, or an address, each with an optional :port.',
    );
  }
  return [...new Set(entries)];
}

/** What every sandbox of this agent may reach, before --allowHosts. */
export function defaultEgressHosts(agent: Agent): string[] {
  return [...DEFAULT_EGRESS_HOSTS, ...(AGENTS[agent]?.apiHosts ?? [])];
}

/** The whole allowlist: the defaults, then the user's hosts. */
export function egressAllowList(agent: Agent, allowHosts: readonly string[]): string[] {
  return [...new Set([...defaultEgressHosts(agent), ...allowHosts])];
}

/** The user's part of an allowlist read back from a compose file (everything beyond the defaults). */
export function userHosts(agent: Agent, list: readonly string[]): string[] {
  const defaults = new Set(defaultEgressHosts(agent));
  return list.filter((entry) => !defaults.has(entry));
}

/** EGRESS_ALLOW as a compose model holds it, or undefined. */
export function egressAllowIn(model: unknown): string | undefined {
  let node: unknown = model;
  for (const key of EGRESS_ALLOW_PATH) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return typeof node === 'string' ? node : undefined;
}

/** The model without EGRESS_ALLOW: what the managed-file fingerprint is taken over. */
export function withoutEgressAllow(model: unknown): unknown {
  const env = (model as { services?: Record<string, { environment?: Record<string, unknown> }> } | null)?.services?.[EGRESS_SERVICE]?.environment;
  if (!env || typeof env !== 'object' || Array.isArray(env) || !('EGRESS_ALLOW' in env)) return model;
  const services = (model as { services: Record<string, object> }).services;
  const { EGRESS_ALLOW: _allow, ...rest } = env;
  return { ...(model as object), services: { ...services, [EGRESS_SERVICE]: { ...services[EGRESS_SERVICE], environment: rest } } };
}

/** NO_PROXY for a stack: loopback, its own services and container names, the shared services' names. */
export function noProxyList(composeProject: string, stackServices: readonly string[], sharedServices: readonly string[]): string[] {
  const own = stackServices.filter((name) => name !== EGRESS_SERVICE);
  return [...new Set([...NO_PROXY_ALWAYS, ...own, ...own.map((name) => `${composeProject}-${name}-1`), ...sharedServices])];
}
