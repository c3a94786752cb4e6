// Part of the live probe (see base.js): Docker APIs — through DOCKER_HOST, every socket file, the network. Uses base.js's modules and helpers.

/* global fs, path, dns, agent, home, agentMay, input, timeoutMs, request, isDockerPing */
/* exported probeDockerEndpoint, dockerHostEndpoint, findSockets, unsearched, network */

/**
 * A Docker endpoint: does it answer, and what does it do with each forbidden call, with and
 * without a version prefix?
 * @param {string} name
 * @param {Endpoint} endpoint
 */
async function probeDockerEndpoint(name, endpoint) {
  const ping = await request(endpoint, { method: 'GET', path: '/_ping' });
  if (!isDockerPing(ping)) return { name, docker: false, ping };
  const version = ping.apiVersion ? `/v${ping.apiVersion}` : '/v1.41';
  const calls = [];
  for (const call of input.calls) {
    for (const prefix of ['', version]) {
      const sent = { ...call, path: prefix + call.path };
      calls.push({ method: sent.method, path: sent.path, answer: await request(endpoint, sent) });
    }
  }
  return { name, docker: true, ping, calls, env: await readableEnv(endpoint) };
}

/**
 * Which containers' env values an inspect shows in clear (names only: the report must not
 * carry the secrets it found).
 * @param {Endpoint} endpoint
 */
async function readableEnv(endpoint) {
  /** @type {Array<{ container: string, names: string[] }>} */
  const found = [];
  const ids = await fullJson(endpoint, '/containers/json');
  for (const { Id } of Array.isArray(ids) ? ids.slice(0, 20) : []) {
    const inspected = await fullJson(endpoint, `/containers/${Id}/json`);
    const env = inspected?.Config?.Env;
    if (!Array.isArray(env)) continue;
    const names = env
      .map((entry) => String(entry).split('='))
      .filter(
        ([name, ...value]) =>
          value.length > 0 &&
          value.join('=') !== '' &&
          value.join('=') !== '<redacted>' &&
          !/^(PATH|HOME|HOSTNAME|TERM|LANG|NODE_VERSION|YARN_VERSION)$/.test(name),
      )
      .map(([name]) => name);
    if (names.length > 0) found.push({ container: String(inspected.Name ?? Id).replace(/^\//, ''), names });
  }
  return found;
}

/** A whole JSON answer, or undefined. @param {Endpoint} endpoint @param {string} target @returns {Promise<any>} */
async function fullJson(endpoint, target) {
  const answer = await request(endpoint, { method: 'GET', path: target }, timeoutMs, Infinity);
  try {
    return JSON.parse(answer.body ?? '');
  } catch {
    return undefined;
  }
}

/** @returns {Endpoint | undefined} */
function dockerHostEndpoint() {
  const value = process.env.DOCKER_HOST;
  if (!value) return undefined;
  const tcp = /^tcp:\/\/([^:/]+|\[[^\]]+\]):(\d+)/.exec(value);
  if (tcp) return { host: tcp[1].replace(/^\[|\]$/g, ''), port: Number(tcp[2]) };
  const unix = /^unix:\/\/(\/.+)$/.exec(value);
  return unix ? { socketPath: unix[1] } : undefined;
}

/**
 * Folders the walk could not look into (the probe's uid is not the agent's: a folder only the
 * agent may read hides what is in it from the probe). The host says how many.
 * @type {string[]}
 */
const unsearched = [];

/** A folder the probe may not look into: noted when the agent may (read and search it), for what it hides there is unseen. @param {string} dir */
function hiddenFromProbe(dir) {
  try {
    if (agentMay(fs.statSync(dir), 5)) unsearched.push(dir);
  } catch {
    // not even its parents are the probe's to search: the nearest one that is was noted
  }
}

/**
 * Every unix socket an agent could find: the usual places (the agent's home and runtime dir),
 * then a bounded walk of the filesystem. Each with whether the agent may connect to it (write on
 * the socket file: its owner, group and mode, as data): the probe's own connection tries only
 * what the probe's uid may open.
 * @returns {Array<{ path: string, agentCanOpen: boolean }>}
 */
function findSockets() {
  const skip = new Set(['/proc', '/sys', '/dev', '/usr', '/lib', '/lib64', '/bin', '/sbin', '/boot', '/etc']);
  // One entry per socket, under the first name found (/var/run is often a link to /run).
  /** @type {Map<string, string>} */
  const found = new Map();
  /** @type {Map<string, boolean>} */
  const agentCanOpen = new Map();
  const add = (/** @type {string} */ file) => {
    try {
      agentCanOpen.set(file, agentMay(fs.statSync(file), 2));
    } catch {
      agentCanOpen.set(file, false);
    }
    let real = file;
    try {
      real = fs.realpathSync(file);
    } catch {
      // keep the name as found
    }
    if (!found.has(real)) found.set(real, file);
  };
  const runtimeDir = process.env.XDG_RUNTIME_DIR || `/run/user/${agent.uid}`;
  const known = input.socketPaths.map((file) => file.replace(/^~(?=\/)/, home).replace(/^\$XDG_RUNTIME_DIR(?=\/)/, runtimeDir));
  for (const candidate of known) {
    try {
      if (fs.statSync(candidate).isSocket()) add(candidate);
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code === 'EACCES') hiddenFromProbe(path.dirname(candidate));
    }
  }
  let budget = 50_000;
  /** @param {string} dir @param {number} depth */
  const walk = (dir, depth) => {
    if (depth > 6 || budget <= 0) return;
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      if (/** @type {NodeJS.ErrnoException} */ (error).code === 'EACCES') hiddenFromProbe(dir);
      return;
    }
    for (const entry of entries) {
      if (--budget <= 0) return;
      const full = path.join(dir, entry.name);
      if (entry.isSocket()) add(full);
      else if (entry.isDirectory() && !skip.has(full) && entry.name !== 'node_modules' && entry.name !== '.git') walk(full, depth + 1);
    }
  };
  walk('/', 0);
  return [...found.values()].sort().map((file) => ({ path: file, agentCanOpen: agentCanOpen.get(file) === true }));
}

/** Other Docker APIs on the network: another worktree's proxy, an engine on a gateway. */
async function network() {
  const targets = [...input.targets];
  // All at once, without holding the thread pool: getaddrinfo takes 10 s to fail on an internal
  // network and blocks one of libuv's four threads meanwhile (four names starved the probe's own
  // lookups). So /etc/hosts first (host-gateway entries), then the engine's DNS through c-ares.
  const resolver = new dns.promises.Resolver({ timeout: 2000, tries: 1 });
  const hosts = (() => {
    try {
      return fs.readFileSync('/etc/hosts', 'utf-8').split('\n');
    } catch {
      return [];
    }
  })();
  const lookup = async (/** @type {string} */ name) => {
    for (const line of hosts) {
      const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
      if (address && names.includes(name)) return { address };
    }
    return resolver.resolve4(name).then(
      (found) => (found[0] ? { address: found[0] } : undefined),
      () => undefined,
    );
  };
  const addresses = await Promise.all(input.hostNames.map(lookup));
  input.hostNames.forEach((name, index) => {
    const address = /** @type {{ address: string } | undefined} */ (addresses[index]);
    if (address) for (const port of input.enginePorts) targets.push({ host: address.address, port, label: name });
  });
  return Promise.all(
    targets.map(async (target) => ({ ...target, answer: await request({ host: target.host, port: target.port }, { method: 'GET', path: '/_ping' }, 1500) })),
  );
}
