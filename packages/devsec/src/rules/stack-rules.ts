/**
 * The rules of a whole stack — a worktree's sandbox or the shared services — over its Compose
 * model: parsed YAML (the static audit) or `docker compose config --format json` (the gate).
 * Every way out of a container that Compose can ask for is a finding here, named by service
 * and key. What each rule means, how severe it is and, for a rule judged service by service, its
 * predicate and messages live in registry.ts, one row per rule; this reads the rows.
 */
import { ComposeModel, ComposeService, namesOf, volumeTarget } from '../sandbox/compose-model';
import { EGRESS_SERVICE, PROXY_PORT, PROXY_SERVICE } from '../sandbox/vocabulary';
import type { StackContext } from './host-paths';
import { finding, Finding, RuleId, RULES } from './registry';
import { isRecord, ServiceView } from './service-view';
import { egressFindings } from './egress-rules';
import { hostPathFindings } from './stack-paths';
import { workspaceMountFindings } from './workspace-mounts';

export type { StackContext, StackKind } from './host-paths';

/** The rules judged service by service, in the table's order, with their predicates. */
const SERVICE_RULES = (Object.keys(RULES) as RuleId[]).flatMap((rule) => {
  const check = RULES[rule].service;
  return check ? [{ rule, check }] : [];
});

/** A service's findings: each row's predicate over it, each hit placed under `services.<name>`. */
function serviceFindings(view: ServiceView, context: StackContext): Finding[] {
  const { name } = view;
  return SERVICE_RULES.flatMap(({ rule, check }) =>
    check(view).map(({ field, place, message, fix }) =>
      finding(rule, {
        file: context.composeFile,
        service: name,
        key: `services.${name}.${field}${typeof place === 'string' ? `.${place}` : ''}`,
        at: ['services', name, ...field.split('.'), ...(place === undefined ? [] : [place])],
        message,
        fix,
      }),
    ),
  );
}

/** A volume mounted at a docker.sock path, whatever its source, where no socket finding names the service's volumes yet. */
function socketTargetFindings(model: ComposeModel, context: StackContext, found: Finding[]): Finding[] {
  return Object.entries(model.services ?? {}).flatMap(([name, service]) => {
    if ((context.kind === 'worktree' && name === PROXY_SERVICE) || found.some((f) => f.rule === 'socket-mount' && f.key === `services.${name}.volumes`))
      return [];
    const index = (service?.volumes ?? []).findIndex((volume) => /(^|\/)docker\.sock$/.test(volumeTarget(volume)));
    if (index === -1) return [];
    return [
      finding('socket-mount', {
        file: context.composeFile,
        service: name,
        key: `services.${name}.volumes`,
        at: ['services', name, 'volumes', index],
        message: `${name} mounts something at ${volumeTarget(service!.volumes![index])}: the Docker socket is a one-line escape to the host.`,
        fix: `Remove the mount; ${name} reaches Docker through the read-only proxy (DOCKER_HOST=tcp://${PROXY_SERVICE}:${PROXY_PORT}).`,
      }),
    ];
  });
}

/** The proxy must sit on private networks only: on the shared one, every worktree's agent reaches it. */
function proxyNetworkFindings(model: ComposeModel, context: StackContext): Finding[] {
  if (context.kind !== 'worktree') return [];
  return [PROXY_SERVICE, EGRESS_SERVICE].flatMap((service) => proxyOnSharedNetwork(model, context, service));
}

/** The socket proxy and the egress proxy answer whoever reaches them: their stack's dev container only. */
function proxyOnSharedNetwork(model: ComposeModel, context: StackContext, proxyService: string): Finding[] {
  const proxy = model.services?.[proxyService];
  if (!proxy) return [];
  return namesOf(proxy.networks as string[] | Record<string, unknown>).flatMap((network) => {
    const definition = model.networks?.[network];
    const external = definition?.external;
    if (!(external === true || (typeof external === 'object' && external !== null))) return [];
    return [
      finding('proxy-on-shared-network', {
        file: context.composeFile,
        service: proxyService,
        key: `services.${proxyService}.networks`,
        message: `${proxyService} is on the shared network "${definition?.name ?? network}", where other worktrees' containers can reach it.`,
        fix: `Keep ${proxyService} on this stack's private network (and the egress proxy on its outside network) only.`,
      }),
    ];
  });
}

/** The proxy's write-policy variables as the stack's spec renders them, or none at all. */
const WRITE_POLICY_VARIABLES = [
  'WRITE_POLICY',
  'WRITE_OWNER',
  'CHILDREN_NETWORK',
  'CHILD_MEMORY',
  'CHILD_PIDS',
  'CHILD_CPUS',
  'CHILD_RUNTIME',
  'MAX_CHILDREN',
  'ALLOW_REGISTRIES',
];

/**
 * The proxy's write policy only from --testContainers: the stored spec says so, the owner is this
 * compose project and the children network its own. Anything else (a hand-added WRITE_POLICY, an
 * owner naming another stack, whose children the agent could then stop) is refused.
 */
function writePolicyFindings(model: ComposeModel, context: StackContext): Finding[] {
  if (context.kind !== 'worktree') return [];
  const proxy = model.services?.[PROXY_SERVICE];
  if (!proxy) return [];
  const raw = proxy.environment;
  const env: Record<string, unknown> = Array.isArray(raw)
    ? Object.fromEntries(raw.map((entry) => [String(entry).split('=')[0], String(entry).slice(String(entry).indexOf('=') + 1)]))
    : isRecord(raw)
      ? raw
      : {};
  const set = WRITE_POLICY_VARIABLES.filter((name) => env[name] !== undefined && env[name] !== null);
  if (set.length === 0) return [];
  const spec = (model as Record<string, unknown>)['x-devsec'];
  const options = isRecord(spec) && isRecord(spec.options) ? spec.options : {};
  const testContainers = isRecord(options.testContainers) ? options.testContainers : undefined;
  // The gate's model is interpolated and named; the static audit reads the file as written.
  const project = typeof model.name === 'string' ? model.name : '${COMPOSE_PROJECT_NAME}';
  const expected: Record<string, string> = testContainers
    ? {
        WRITE_POLICY: '1',
        WRITE_OWNER: project,
        CHILDREN_NETWORK: `${project}_children`,
        ALLOW_REGISTRIES: Array.isArray(testContainers.allowRegistries) ? testContainers.allowRegistries.join(',') : '',
        // up-worktree's override: the children on the dev container's runtime (gVisor), never another.
        ...(context.runtime ? { CHILD_RUNTIME: context.runtime } : {}),
      }
    : {};
  const wrong = set.filter((name) => String(env[name]) !== expected[name]);
  if (wrong.length === 0) return [];
  const why = testContainers
    ? `${wrong.map((name) => `${name}=${String(env[name])}`).join(', ')} differ from what --testContainers renders for this stack`
    : `${set.join(', ')} turn on or configure its write policy, which the stack's spec (--testContainers) does not ask for`;
  return [
    finding('proxy-write-policy', {
      file: context.composeFile,
      service: PROXY_SERVICE,
      key: `services.${PROXY_SERVICE}.environment`,
      message: `${PROXY_SERVICE}: ${why}.`,
      fix: 'Run the generator with --testContainers (or without it), and leave the rendered variables as they are.',
    }),
  ];
}

/**
 * Every rule over a stack's model. `context.kind` says which stack: a worktree's (where the
 * proxy may mount the Docker socket, app must not run as root, and the localhost forwarder may
 * join app's network) or the shared services' (no exceptions; root inside is fine there).
 */
export function checkStack(model: ComposeModel, context: StackContext): Finding[] {
  const services = Object.entries(model.services ?? {}).filter((entry): entry is [string, ComposeService] => isRecord(entry[1]));
  // Paths first: a service's mounts, then its other keys, in the order a reviewer reads a service.
  const findings = [
    ...hostPathFindings(model, context),
    ...workspaceMountFindings(model, context),
    ...services.flatMap(([name, service]) =>
      serviceFindings(
        { name, service, build: isRecord(service.build) ? service.build : {}, model, worktree: context.kind === 'worktree', dockerGid: context.dockerGid },
        context,
      ),
    ),
  ];
  return [
    ...findings,
    ...socketTargetFindings(model, context, findings),
    ...proxyNetworkFindings(model, context),
    ...writePolicyFindings(model, context),
    ...egressFindings(model, context),
  ];
}
