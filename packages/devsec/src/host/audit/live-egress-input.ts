/**
 * What the live probe tries of the dev container's ways out (rules/live-egress.ts): a direct
 * connection to every gateway of its networks and to every address of this host (port 9: a
 * refusal proves a route as well as an answer does), and to a public address; a name no list
 * allows and one the stack's egress proxy lists. Nothing with --egress=open.
 */
import { networkInterfaces } from 'node:os';
import type { EgressProbeInput } from '../../rules/live-egress';
import type { ProbeTarget } from '../../rules/live-findings';
import { splitHosts } from '../../sandbox/egress';
import { EGRESS_LABEL } from '../../sandbox/vocabulary';

/** A port nothing should listen on: a refusal still proves the address answered. */
const DISCARD_PORT = 9;
/** Public addresses (Cloudflare's and Google's resolvers): answered, they prove a route out. */
const PUBLIC_ADDRESSES = ['1.1.1.1', '8.8.8.8'];
/** Reserved for names that never exist (RFC 2606): no allowlist lists it. */
export const NEVER_LISTED = 'devsec-audit.invalid';
export const OUTSIDE_NAME = 'example.com';

export interface AppContainer {
  Config: { Labels?: Record<string, string> };
  NetworkSettings: { Networks?: Record<string, { Gateway?: string; IPv6Gateway?: string }> };
}

/** The host's own addresses, loopback aside (they are the container's own inside). */
function hostAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry && !entry.internal)
    .map((entry) => entry!.address);
}

/** A name of the list the probe can ask for: exact (no `*.`), not an address. */
function listedName(allow: string | undefined): string | undefined {
  return splitHosts(allow ?? '').find((entry) => !entry.startsWith('*.') && !/^[\d.]+(:\d+)?$/.test(entry) && !entry.startsWith('['));
}

/** The EGRESS_ALLOW entries (host[:port]) of each EGRESS_ALLOW_PRIVATE name: what the probe asks the proxy for. */
export function privateNames(allow: string | undefined, allowPrivate: string | undefined): string[] {
  const names = new Set(splitHosts(allowPrivate ?? ''));
  return splitHosts(allow ?? '').filter((entry) => names.has(entry.replace(/:[0-9]+$/, '')));
}

export function egressProbeInput(app: AppContainer, egressAllow: string | undefined, egressAllowPrivate?: string): EgressProbeInput | undefined {
  if (app.Config.Labels?.[EGRESS_LABEL] === 'open') return undefined;
  const direct: ProbeTarget[] = [];
  for (const [network, settings] of Object.entries(app.NetworkSettings.Networks ?? {})) {
    for (const gateway of [settings.Gateway, settings.IPv6Gateway].filter(Boolean) as string[]) {
      direct.push({ host: gateway, port: DISCARD_PORT, label: `the gateway of network ${network}` });
    }
  }
  for (const address of hostAddresses()) direct.push({ host: address, port: DISCARD_PORT, label: 'an address of this host' });
  for (const address of PUBLIC_ADDRESSES) direct.push({ host: address, port: 443, label: 'a public address' });
  const seen = new Set<string>();
  return {
    direct: direct.filter((target) => !seen.has(target.host) && seen.add(target.host)),
    refusedName: NEVER_LISTED,
    allowedName: listedName(egressAllow),
    lookupName: OUTSIDE_NAME,
    ...(egressAllowPrivate ? { privateNames: privateNames(egressAllow, egressAllowPrivate) } : {}),
  };
}
