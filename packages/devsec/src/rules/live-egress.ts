/**
 * What `audit --live` saw of the dev container's ways out, and what it means. The probe tries a
 * direct connection to every gateway of its networks, the host's own addresses and a public
 * address (an answer, or a refusal, means a route: only "unreachable" or silence holds), looks up
 * an outside name, and asks the egress proxy for a name that is never listed and for one that is.
 */
import type { ProbeTarget } from './probe-target';

/** What the host hands the probe for egress (absent with --egress=open). */
export interface EgressProbeInput {
  /** Addresses that must not answer a direct connection. */
  direct: ProbeTarget[];
  /** A name no allowlist lists: the egress proxy must answer 403. */
  refusedName: string;
  /** A name of the allowlist (host[:port]): the proxy must let it through (its upstream may still be unreachable). */
  allowedName?: string;
  /** An outside name that must not resolve inside. */
  lookupName: string;
  /** The names (host[:port]) of EGRESS_ALLOW_PRIVATE (--allowPrivateHosts): each is asked for, and reported. */
  privateNames?: string[];
}

export interface ProxyAnswer {
  name: string;
  status?: number;
  error?: string;
  /** The proxy's Proxy-Status header (RFC 9209): why it refused, or what failed upstream. */
  proxyStatus?: string;
}

/** The RFC 9209 error type a Proxy-Status names (`http_request_denied` is the allowlist's refusal). */
export const proxyError = (answer: ProxyAnswer | undefined) => /\berror=([a-z_]+)/.exec(answer?.proxyStatus ?? '')?.[1];

/** What the live probe prints for egress (host/live-probe/egress.js). */
export interface EgressObservations {
  direct: Array<ProbeTarget & { outcome: 'connected' | 'refused' | 'unreachable' | 'silent'; error?: string }>;
  lookup: { name: string; addresses?: string[]; error?: string };
  /** HTTPS_PROXY as the dev container has it. */
  proxy?: string;
  refused?: ProxyAnswer;
  allowed?: ProxyAnswer;
  /** The egress proxy's answer for each private host it may reach (--allowPrivateHosts). */
  privateHosts?: ProxyAnswer[];
}

/** A connection that was answered, even by a refusal, went somewhere: a route. */
export const routed = (entry: EgressObservations['direct'][number]) => entry.outcome === 'connected' || entry.outcome === 'refused';

type Add = (rule: 'live-egress-route' | 'live-egress-dns' | 'live-egress-proxy', key: string, message: string) => void;

export function egressLiveFindings(observations: EgressObservations, add: Add): void {
  for (const entry of observations.direct.filter(routed)) {
    const how = entry.outcome === 'connected' ? 'accepted' : 'refused (so the host answered)';
    add('live-egress-route', 'networks', `a direct connection to ${entry.host}:${entry.port}, ${entry.label}, was ${how}: a way out without the egress proxy.`);
  }
  if (observations.lookup.addresses?.length) {
    add(
      'live-egress-dns',
      'networks',
      `${observations.lookup.name} resolves (${observations.lookup.addresses.join(', ')}): DNS answers names outside the stack.`,
    );
  }
  if (!observations.proxy) {
    add('live-egress-proxy', 'environment.HTTPS_PROXY', 'HTTPS_PROXY is not set: tools have no way out, and nothing filters one.');
    return;
  }
  const { refused, allowed } = observations;
  if (refused && refused.status !== 403) {
    const what = refused.status !== undefined ? `answered ${refused.status}` : `did not answer (${refused.error})`;
    add(
      'live-egress-proxy',
      'environment.HTTPS_PROXY',
      `the egress proxy (${observations.proxy}) ${what} for ${refused.name}, which no list allows: it must refuse with 403.`,
    );
  }
  // Refused by the list itself (not for a private address or a failed lookup, which this machine may cause).
  if (allowed && allowed.status === 403 && proxyError(allowed) === 'http_request_denied') {
    add(
      'live-egress-proxy',
      'environment.HTTPS_PROXY',
      `the egress proxy refused ${allowed.name}, which its list allows: the list it runs with is not the compose file's.`,
    );
  }
}

/** The egress part of the live summary line. */
export function egressSummary(observations: EgressObservations | undefined): string {
  if (!observations) return 'egress open (--egress=open): not probed';
  const direct = observations.direct.filter((entry) => !routed(entry)).length;
  const refused = observations.refused?.status === 403 ? 'refused an unlisted name' : 'did NOT refuse an unlisted name';
  const { allowed: listed } = observations;
  // Past the list, this machine's network decides (a failed lookup, a private address): said as such.
  const answer = listed && [listed.status ?? listed.error, proxyError(listed)].filter(Boolean).join(' ');
  const through = listed && listed.status !== undefined && listed.status < 400;
  const allowed = listed ? `; ${listed.name} ${through ? `let through by the list (${answer})` : `passed the list, then the proxy answered ${answer}`}` : '';
  const dns = observations.lookup.addresses?.length ? `${observations.lookup.name} resolves` : 'no outside name resolves';
  return `${direct} of ${observations.direct.length} direct routes out closed; ${dns}; the egress proxy ${observations.proxy ? refused : 'is not set'}${allowed}${privateSummary(observations.privateHosts)}`;
}

/** Each private host the sandbox may reach (--allowPrivateHosts), with the proxy's answer: the user sees every hole they opened. */
function privateSummary(answers: ProxyAnswer[] | undefined): string {
  if (!answers?.length) return '';
  const each = answers.map((answer) => {
    const status = answer.status ?? answer.error;
    const through = answer.status !== undefined && answer.status < 400;
    return `${answer.name} ${through ? 'reached' : 'NOT reached'} (${[status, proxyError(answer)].filter(Boolean).join(' ')})`;
  });
  return `; private hosts it may reach (--allowPrivateHosts): ${each.join(', ')}`;
}
