/**
 * The egress allowlist: which host names (and, listed exactly, IP addresses) the sandbox may
 * reach, on which ports. Parsed once at start; matching is a pure function.
 */
import { ConfigError } from '../common/config';
import { canonicalAddress } from './address';

export class EgressConfigError extends ConfigError {}

/** A host as the proxy compares it: a lower-case DNS name, or a canonical IP address. */
export type Host = { kind: 'name'; name: string } | { kind: 'ip'; address: string };

export interface AllowEntry {
  /** As written in EGRESS_ALLOW, for the log and messages. */
  text: string;
  kind: 'exact' | 'suffix' | 'ip';
  /** The name (lower case), the suffix after `*.`, or the canonical address. */
  value: string;
  /** Ports given with the entry (`host:8443`), else the default ports. */
  ports: readonly number[];
}

export interface Allowlist {
  entries: readonly AllowEntry[];
  /** Exact names and addresses that may resolve to (or be) a non-public address. */
  privateAllowed: ReadonlySet<string>;
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * A lower-case DNS name or undefined. The last label may not be all digits: `127.1` or
 * `2130706433` are IPv4 shorthands that getaddrinfo would turn into addresses.
 */
export function parseHostName(text: string): string | undefined {
  const name = text.toLowerCase();
  if (name.length === 0 || name.length > 253) return undefined;
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label))) return undefined;
  if (/^[0-9]+$/.test(labels[labels.length - 1]) || /^0x[0-9a-f]*$/.test(labels[labels.length - 1])) return undefined;
  return name;
}

/** `name`, `1.2.3.4` or `[v6]` (brackets required for IPv6) → a Host, or undefined. */
export function parseHost(text: string): Host | undefined {
  if (text.startsWith('[') && text.endsWith(']')) {
    const inner = text.slice(1, -1);
    const address = inner.includes('.') || inner.includes(':') ? canonicalAddress(inner) : undefined;
    return address && address.includes(':') ? { kind: 'ip', address } : undefined;
  }
  if (/^[0-9.]+$/.test(text)) {
    const address = canonicalAddress(text);
    return address ? { kind: 'ip', address } : undefined;
  }
  const name = parseHostName(text);
  return name ? { kind: 'name', name } : undefined;
}

export const hostText = (host: Host) => (host.kind === 'name' ? host.name : host.address.includes(':') ? `[${host.address}]` : host.address);

function parsePort(text: string): number | undefined {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  return port >= 1 && port <= 65535 ? port : undefined;
}

/** `443,80` → ports. */
export function parsePorts(spec: string, variable: string): number[] {
  const parts = spec.split(/[\s,]+/).filter(Boolean);
  const ports = parts.map((part) => {
    const port = parsePort(part);
    if (port === undefined) throw new EgressConfigError(`${variable}=${spec}: "${part}" is not a port (1-65535).`);
    return port;
  });
  if (ports.length === 0) throw new EgressConfigError(`${variable} is empty: give ports, e.g. ${variable}=443,80.`);
  return [...new Set(ports)];
}

/** One EGRESS_ALLOW entry: `name`, `*.suffix`, `1.2.3.4`, `[v6]`, each with an optional `:port`. */
export function parseAllowEntry(text: string, defaultPorts: readonly number[]): AllowEntry {
  const problem = (why: string) => new EgressConfigError(`EGRESS_ALLOW: "${text}" ${why}`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text) || /[/@?#]/.test(text)) throw problem('is not a host: give the name only (no scheme, path or user).');
  const match = /^(\[[^\]]*\]|[^:]*)(?::([^:]*))?$/.exec(text);
  if (!match) throw problem('is not host, host:port, [IPv6] or [IPv6]:port (IPv6 addresses go in brackets).');
  let ports = defaultPorts;
  if (match[2] !== undefined) {
    const port = parsePort(match[2]);
    if (port === undefined) throw problem(`has no valid port after ":" (1-65535).`);
    ports = [port];
  }
  const hostPart = match[1];
  if (hostPart.startsWith('*.')) {
    const suffix = parseHostName(hostPart.slice(2));
    if (!suffix) throw problem('is not *.domain with a valid domain name (letters, digits, "-", "_", dots).');
    // A one-label suffix (*.com, *.internal) is a whole top-level domain: too broad to mean anything.
    if (!suffix.includes('.')) throw problem(`is too broad: list the domains under ${suffix} you need (*.example.${suffix}).`);
    return { text, kind: 'suffix', value: suffix, ports };
  }
  if (hostPart.includes('*')) throw problem('has a "*" that is not a leading "*." (wildcards stand for whole labels at the start only).');
  const host = parseHost(hostPart);
  if (!host) {
    throw problem(
      /^[0-9.]+$|^0x/i.test(hostPart) ? 'looks like an IP address but is not one in canonical form (e.g. 192.0.2.1).' : 'is not a valid host name.',
    );
  }
  return host.kind === 'name' ? { text, kind: 'exact', value: host.name, ports } : { text, kind: 'ip', value: host.address, ports };
}

/**
 * EGRESS_ALLOW (entries separated by commas or white space), EGRESS_ALLOW_PRIVATE (exact names or
 * addresses that are also in EGRESS_ALLOW), and the default ports. Every problem is reported.
 */
export function parseAllowlist(allow: string, allowPrivate: string, defaultPorts: readonly number[]): Allowlist {
  const problems: string[] = [];
  const entries: AllowEntry[] = [];
  for (const text of allow.split(/[\s,]+/).filter(Boolean)) {
    try {
      entries.push(parseAllowEntry(text, defaultPorts));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  const privateAllowed = new Set<string>();
  for (const text of allowPrivate.split(/[\s,]+/).filter(Boolean)) {
    const host = text.startsWith('*') ? undefined : parseHost(text);
    const key = host && (host.kind === 'name' ? host.name : host.address);
    if (!key) {
      problems.push(`EGRESS_ALLOW_PRIVATE: "${text}" is not an exact host name or IP address (no wildcards, no ports).`);
    } else if (!entries.some((entry) => entry.kind !== 'suffix' && entry.value === key)) {
      problems.push(`EGRESS_ALLOW_PRIVATE: "${text}" is not listed exactly in EGRESS_ALLOW; add it there too (a wildcard does not count).`);
    } else {
      privateAllowed.add(key);
    }
  }
  if (problems.length > 0) throw new EgressConfigError(problems.join('\n  - '));
  return { entries, privateAllowed };
}

export type HostDecision =
  { allowed: true; rule: string; privateAllowed: boolean } | { allowed: false; rule: 'not-allowed' | 'port' | 'ip-literal'; message: string };

/** How to allow a host, in every refusal that a list change would fix. */
export const howToAllow = (what: string) =>
  `To allow it, regenerate the dev container with --allowHosts=${what} (nx g @org/devsec:secure-devcontainer), ` +
  `or add ${what} to EGRESS_ALLOW of the egress proxy in the compose file, then restart the stack.`;

/** May the sandbox reach host:port? Exact names and listed addresses first, then suffixes. */
export function matchHost(allowlist: Allowlist, host: Host, port: number): HostDecision {
  const shown = hostText(host);
  const key = host.kind === 'name' ? host.name : host.address;
  const candidates = allowlist.entries.filter((entry) =>
    host.kind === 'ip'
      ? entry.kind === 'ip' && entry.value === key
      : (entry.kind === 'exact' && entry.value === key) || (entry.kind === 'suffix' && key.endsWith(`.${entry.value}`)),
  );
  const onPort = candidates.find((entry) => entry.ports.includes(port));
  if (onPort) return { allowed: true, rule: onPort.text, privateAllowed: onPort.kind !== 'suffix' && allowlist.privateAllowed.has(key) };
  if (candidates.length > 0) {
    const ports = [...new Set(candidates.flatMap((entry) => entry.ports))];
    return {
      allowed: false,
      rule: 'port',
      message: `${shown} is allowed on port${ports.length > 1 ? 's' : ''} ${ports.join(', ')} only, not ${port}. ${howToAllow(`${shown}:${port}`)}`,
    };
  }
  if (host.kind === 'ip') {
    return {
      allowed: false,
      rule: 'ip-literal',
      message: `${shown} is an IP address; the sandbox reaches hosts by name, and an address only when it is listed exactly. ${howToAllow(shown)}`,
    };
  }
  return { allowed: false, rule: 'not-allowed', message: `${shown} is not on this sandbox's egress allowlist. ${howToAllow(shown)}` };
}
