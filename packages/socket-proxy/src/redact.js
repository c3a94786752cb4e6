// @ts-check
'use strict';

/**
 * What the proxy removes from inspect answers, and why (THREATS.md repeats this list):
 * - Config.Env values (containers and images): the usual home of passwords and tokens.
 *   Names stay (`NAME=<redacted>`) so the agent can still see which variables are set.
 * - ContainerConfig.Env values (images built by the classic builder): same reason.
 * - GraphDriver.Data: host paths of every layer's directories (UpperDir, MergedDir, …);
 *   no debugging value, and a map of the host's filesystem.
 */

const REDACTED = '<redacted>';

/** @param {unknown} env */
function redactEnv(env) {
  if (!Array.isArray(env)) return env;
  return env.map((entry) => {
    if (typeof entry !== 'string') return REDACTED;
    const equals = entry.indexOf('=');
    return equals === -1 ? entry : `${entry.slice(0, equals)}=${REDACTED}`;
  });
}

/** @param {any} graphDriver */
function redactGraphDriver(graphDriver) {
  if (!graphDriver || typeof graphDriver !== 'object' || !graphDriver.Data || typeof graphDriver.Data !== 'object') {
    return graphDriver;
  }
  /** @type {{ [key: string]: string }} */
  const data = {};
  for (const key of Object.keys(graphDriver.Data)) data[key] = REDACTED;
  return { ...graphDriver, Data: data };
}

/**
 * Works on container and image inspect objects alike.
 * @param {any} inspected
 */
function redactInspect(inspected) {
  if (!inspected || typeof inspected !== 'object' || Array.isArray(inspected)) return inspected;
  const result = { ...inspected };
  for (const key of ['Config', 'ContainerConfig']) {
    if (result[key] && typeof result[key] === 'object') result[key] = { ...result[key], Env: redactEnv(result[key].Env) };
  }
  if ('GraphDriver' in result) result.GraphDriver = redactGraphDriver(result.GraphDriver);
  return result;
}

/**
 * A network's inspect lists every attached container; keep only those in scope.
 * @param {any} network
 * @param {Set<string>} containerIdsInScope
 */
function filterNetworkContainers(network, containerIdsInScope) {
  if (!network || typeof network !== 'object' || !network.Containers || typeof network.Containers !== 'object') return network;
  /** @type {{ [id: string]: unknown }} */
  const containers = {};
  for (const [id, entry] of Object.entries(network.Containers)) {
    if (containerIdsInScope.has(id)) containers[id] = entry;
  }
  return { ...network, Containers: containers };
}

module.exports = { REDACTED, filterNetworkContainers, redactEnv, redactInspect };
