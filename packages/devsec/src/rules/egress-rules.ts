/**
 * The dev container's ways out. Its networks must all be internal (no route out) and leave the
 * host without an address on their bridge (no gateway that is the host): then the egress proxy,
 * on one outside network of its own, is its only way out. `--egress=open` (the app's egress
 * label) asks for a route out: reported, not refused. An external network is judged from what
 * the engine says of it (the gate); the static audit cannot know it and says nothing.
 */
import { ComposeModel, namesOf } from '../sandbox/compose-model';
import { APP_SERVICE, EGRESS_LABEL, NO_GATEWAY_OPTION } from '../sandbox/vocabulary';
import type { NetworkFacts, StackContext } from './host-paths';
import { finding, Finding } from './registry';

const isExternal = (external: unknown) => external === true || (typeof external === 'object' && external !== null);

/** A network of the model as the engine will have it, or undefined when that cannot be told here. */
function factsOf(model: ComposeModel, network: string, context: StackContext): (NetworkFacts & { name: string; external: boolean }) | undefined {
  const definition = model.networks?.[network] ?? {};
  const name = definition.name ?? network;
  if (isExternal(definition.external)) {
    const facts = context.externalNetworks?.[name];
    return facts && { ...facts, noGateway: facts.noGateway && !context.ignoresNoGateway, name, external: true };
  }
  const noGateway = String(definition.driver_opts?.[NO_GATEWAY_OPTION]) === 'true' && !context.ignoresNoGateway;
  return { internal: definition.internal === true, noGateway, name, external: false };
}

function labelOf(labels: unknown, key: string): string | undefined {
  if (Array.isArray(labels))
    return labels
      .map(String)
      .find((entry) => entry.startsWith(`${key}=`))
      ?.slice(key.length + 1);
  return labels && typeof labels === 'object' ? (labels as Record<string, string | undefined>)[key] : undefined;
}

export function egressFindings(model: ComposeModel, context: StackContext): Finding[] {
  const app = model.services?.[APP_SERVICE];
  if (context.kind !== 'worktree' || !app || app.network_mode !== undefined) return [];
  const open = labelOf(app.labels, EGRESS_LABEL) === 'open';
  const where = { file: context.composeFile, service: APP_SERVICE, key: `services.${APP_SERVICE}.networks` };
  const recreate = (name: string) =>
    `Stop every sandbox on "${name}" (down-worktree in each worktree) and the shared services (down-shared); the next up-worktree creates it internal, without a gateway.`;
  return namesOf(app.networks).flatMap((network) => {
    const facts = factsOf(model, network, context);
    if (!facts) return [];
    if (!facts.internal) {
      return open
        ? [finding('egress-open', { ...where, message: `${APP_SERVICE} reaches any host through network "${facts.name}" (--egress=open).` })]
        : [
            finding('egress-unfiltered', {
              ...where,
              message: `${APP_SERVICE} is on network "${facts.name}", which has a route out: the agent reaches any host without the egress proxy.`,
              ...(facts.external ? { fix: recreate(facts.name) } : {}),
            }),
          ];
    }
    if (facts.noGateway) return [];
    return [
      finding('egress-unfiltered', {
        ...where,
        message: context.ignoresNoGateway
          ? `${APP_SERVICE} is on network "${facts.name}", whose gateway address is the host's: ${context.ignoresNoGateway} ignores ${NO_GATEWAY_OPTION}, so a host service listening on every address answers the agent there.`
          : `${APP_SERVICE} is on network "${facts.name}", whose gateway address is the host's: a host service listening on every address answers the agent there.`,
        fix: context.ignoresNoGateway
          ? `Use an engine whose networks honour it (rootful or rootless Docker, Docker Desktop), or start with --unsafe-allow=egress-unfiltered after closing the gateway yourself (a firewall rule).`
          : facts.external
            ? recreate(facts.name)
            : `Set driver_opts ${NO_GATEWAY_OPTION}: "true" on network ${network} (as generated).`,
      }),
    ];
  });
}
