/**
 * What the proxy removes from inspect answers, and why (THREATS.md repeats this list):
 * - Config.Env values (containers and images): the usual home of passwords and tokens.
 *   Names stay (`NAME=<redacted>`) so the agent can still see which variables are set.
 * - ContainerConfig.Env values (images built by the classic builder): same reason.
 * - GraphDriver.Data: host paths of every layer's directories (UpperDir, MergedDir, …);
 *   no debugging value, and a map of the host's filesystem.
 */

export const REDACTED = '<redacted>';

/** An engine answer parsed from JSON: its shape is the engine's, checked field by field here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EngineJson = any;

export function redactEnv(env: unknown): unknown {
  if (!Array.isArray(env)) return env;
  return env.map((entry: unknown) => {
    if (typeof entry !== 'string') return REDACTED;
    const equals = entry.indexOf('=');
    return equals === -1 ? entry : `${entry.slice(0, equals)}=${REDACTED}`;
  });
}

function redactGraphDriver(graphDriver: EngineJson): EngineJson {
  if (!graphDriver || typeof graphDriver !== 'object' || !graphDriver.Data || typeof graphDriver.Data !== 'object') {
    return graphDriver;
  }
  const data: { [key: string]: string } = {};
  for (const key of Object.keys(graphDriver.Data)) data[key] = REDACTED;
  return { ...graphDriver, Data: data };
}

/** Works on container and image inspect objects alike. */
export function redactInspect(inspected: EngineJson): EngineJson {
  if (!inspected || typeof inspected !== 'object' || Array.isArray(inspected)) return inspected;
  const result = { ...inspected };
  for (const key of ['Config', 'ContainerConfig']) {
    if (result[key] && typeof result[key] === 'object') result[key] = { ...result[key], Env: redactEnv(result[key].Env) };
  }
  if ('GraphDriver' in result) result.GraphDriver = redactGraphDriver(result.GraphDriver);
  return result;
}

const isObject = (value: unknown): value is { [key: string]: EngineJson } => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * A network's inspect lists every attached container; keep only those in scope. `Services`
 * (swarm, with `verbose`) lists tasks' containers, never a stack's: dropped.
 */
export function filterNetworkContainers(network: EngineJson, containerIdsInScope: Set<string>): EngineJson {
  if (!isObject(network)) return network;
  const result = { ...network };
  delete result.Services;
  if (network.Containers === undefined || network.Containers === null) return result;
  if (!isObject(network.Containers)) return { ...result, Containers: {} };
  const containers: { [id: string]: unknown } = {};
  for (const [id, entry] of Object.entries(network.Containers)) {
    if (containerIdsInScope.has(id)) containers[id] = entry;
  }
  return { ...result, Containers: containers };
}

/** Whether any network of a list names containers (API versions before 1.28 list them all). */
export function networkListNamesContainers(networks: EngineJson[]): boolean {
  return networks.some((network) => isObject(network) && isObject(network.Containers) && Object.keys(network.Containers).length > 0);
}
