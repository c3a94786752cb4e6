/**
 * What the proxy removes from engine answers, and why (THREATS.md, "What the proxy redacts",
 * has the whole table, with what is kept and why). Values are replaced, names kept, so the
 * agent can still see what is set:
 * - Config.Env, ContainerConfig.Env (containers, images): the usual home of passwords and tokens.
 * - ContainerConfig.Cmd build arguments (`|2 TOKEN=… /bin/sh -c …`, classic-builder images).
 * - GraphDriver.Data: host paths of every layer; no debugging value, a map of the host.
 * - HostConfig.LogConfig.Config: log drivers' options carry tokens and authenticated URLs.
 * - HostConfig.Mounts[].VolumeOptions.DriverConfig.Options, and a volume's Options and Status:
 *   volume drivers' options carry credentials (`o=…,password=…`).
 * - /info: credentials in the engine's proxy URLs; swarm's log driver and external CA options.
 * - Events: the command line of `exec_create: …` and `exec_start: …`.
 * Scope filtering of network answers (which containers they list) is here too.
 */

export const REDACTED = '<redacted>';

/** An engine answer parsed from JSON: its shape is the engine's, checked field by field here. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EngineJson = any;

const isObject = (value: unknown): value is { [key: string]: EngineJson } => value !== null && typeof value === 'object' && !Array.isArray(value);

export function redactEnv(env: unknown): unknown {
  if (!Array.isArray(env)) return env;
  return env.map((entry: unknown) => {
    if (typeof entry !== 'string') return REDACTED;
    const equals = entry.indexOf('=');
    return equals === -1 ? entry : `${entry.slice(0, equals)}=${REDACTED}`;
  });
}

/** `{ key: anything }` → `{ key: '<redacted>' }`; anything else as it is. */
export function redactValues(map: unknown): unknown {
  if (!isObject(map)) return map;
  const result: { [key: string]: string } = {};
  for (const key of Object.keys(map)) result[key] = REDACTED;
  return result;
}

/** Applies `change` to `object[key]` when `object` is an object holding an object there. */
function within(object: EngineJson, key: string, change: (inner: EngineJson) => EngineJson): EngineJson {
  return isObject(object) && isObject(object[key]) ? { ...object, [key]: change(object[key]) } : object;
}

/** Classic-builder RUN steps record their build arguments first: `["|2", "A=1", "B=2", "/bin/sh", …]`. */
export function redactBuildArgs(cmd: unknown): unknown {
  if (!Array.isArray(cmd) || typeof cmd[0] !== 'string' || !/^\|[0-9]+$/.test(cmd[0])) return cmd;
  const count = Number(cmd[0].slice(1));
  return cmd.map((part, index) => (index >= 1 && index <= count ? (redactEnv([part]) as unknown[])[0] : part));
}

function redactHostConfig(hostConfig: EngineJson): EngineJson {
  let result = within(hostConfig, 'LogConfig', (logConfig) => ({ ...logConfig, Config: redactValues(logConfig.Config) }));
  if (isObject(result) && Array.isArray(result.Mounts)) {
    const mounts = result.Mounts.map((mount: EngineJson) =>
      within(mount, 'VolumeOptions', (options) => within(options, 'DriverConfig', (driver) => ({ ...driver, Options: redactValues(driver.Options) }))),
    );
    result = { ...result, Mounts: mounts };
  }
  return result;
}

/** Works on container and image inspect objects alike, in every API version's shape. */
export function redactInspect(inspected: EngineJson): EngineJson {
  if (!isObject(inspected)) return inspected;
  let result = within(inspected, 'Config', (config) => ({ ...config, Env: redactEnv(config.Env) }));
  result = within(result, 'ContainerConfig', (config) => ({ ...config, Env: redactEnv(config.Env), Cmd: redactBuildArgs(config.Cmd) }));
  result = within(result, 'GraphDriver', (graphDriver) => ({ ...graphDriver, Data: redactValues(graphDriver.Data) }));
  return within(result, 'HostConfig', redactHostConfig);
}

/** A volume, as inspect and the list show it. */
export function redactVolume(volume: EngineJson): EngineJson {
  if (!isObject(volume)) return volume;
  const result: EngineJson = { ...volume, Options: redactValues(volume.Options) };
  if ('Status' in volume) result.Status = redactValues(volume.Status);
  return result;
}

export function redactVolumeList(answer: EngineJson): EngineJson {
  return isObject(answer) && Array.isArray(answer.Volumes) ? { ...answer, Volumes: answer.Volumes.map(redactVolume) } : answer;
}

/** `http://user:secret@proxy:3128` → `http://<redacted>@proxy:3128` (dockerd masks these too, in recent versions). */
export function redactUserinfo(url: unknown): unknown {
  if (typeof url !== 'string' || !url.includes('@')) return url;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0] ?? '';
  return `${scheme}${REDACTED}${url.slice(url.lastIndexOf('@'))}`;
}

export function redactInfo(info: EngineJson): EngineJson {
  if (!isObject(info)) return info;
  const result = { ...info };
  for (const key of ['HttpProxy', 'HttpsProxy', 'NoProxy']) if (key in result) result[key] = redactUserinfo(result[key]);
  const redactSpec = (spec: EngineJson) => {
    let out = within(spec, 'TaskDefaults', (defaults) => within(defaults, 'LogDriver', (driver) => ({ ...driver, Options: redactValues(driver.Options) })));
    out = within(out, 'CAConfig', (ca) => {
      const next = { ...ca };
      if (Array.isArray(ca.ExternalCAs))
        next.ExternalCAs = ca.ExternalCAs.map((external: EngineJson) =>
          isObject(external) ? { ...external, Options: redactValues(external.Options) } : external,
        );
      if (ca.SigningCAKey) next.SigningCAKey = REDACTED;
      return next;
    });
    return out;
  };
  return within(result, 'Swarm', (swarm) => within(swarm, 'Cluster', (cluster) => within(cluster, 'Spec', redactSpec)));
}

const EXEC_ACTION = /^(exec_create|exec_start): /;

/** `exec_create: sh -c 'echo secret'` → `exec_create: <redacted>`, in `Action` and the legacy `status`. */
export function redactEvent(event: EngineJson): EngineJson {
  if (!isObject(event)) return event;
  const hides = (action: unknown) => typeof action === 'string' && EXEC_ACTION.test(action);
  if (!hides(event.Action) && !hides(event.status)) return event;
  const result = { ...event };
  for (const key of ['Action', 'status']) if (hides(result[key])) result[key] = `${(EXEC_ACTION.exec(result[key]) as RegExpExecArray)[1]}: ${REDACTED}`;
  return result;
}

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
