// @ts-check
'use strict';

/**
 * The live audit's eyes: `nx run <project>:audit --live` pipes this file into the running dev
 * container (`docker exec -i <app> node - '<input>'`), where it runs as the container's own user
 * and looks around the way an agent could. It changes nothing (every Docker call it makes names
 * an object that does not exist or carries an invalid body, and a write test removes its file at
 * once) and prints what it saw as one JSON object. Deciding what is a finding is the host's job
 * (rules/live-findings.ts), so this file only observes. Node built-ins only: it runs in any Node image.
 *
 * JavaScript, not TypeScript, on purpose: it runs in the container's own Node without a build
 * step (piped to `node -`), so it is shipped as an asset; `// @ts-check` keeps it typed.
 */

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { URL } = require('node:url');
const dns = require('node:dns');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/**
 * @typedef {{ method: string, path: string, body?: string, upgrade?: boolean }} ProbeCall
 * @typedef {{ host: string, port: number, label: string }} ProbeTarget
 * @typedef {{ socketPath?: string, host?: string, port?: number }} Endpoint
 * @typedef {{ status?: number, apiVersion?: string, body?: string, error?: string }} Answer
 */

/**
 * @typedef {{ direct: ProbeTarget[], refusedName: string, allowedName?: string, lookupName: string }} EgressInput
 * @type {{ calls: ProbeCall[], targets: ProbeTarget[], writable: string[], workspaceRoot: string, credentialPaths: string[], enginePorts: number[], hostMarkers?: string[], timeoutMs?: number, egress?: EgressInput }}
 */
const input = JSON.parse(process.argv[2] || '{}');
const timeoutMs = input.timeoutMs ?? 2000;
const home = os.homedir();

/**
 * One HTTP request, answered or not: status, Api-Version and the first `maxBody` characters of
 * the body (a short excerpt for the report unless asked for all of it).
 * @param {Endpoint} endpoint
 * @param {ProbeCall} call
 * @returns {Promise<Answer>}
 */
function request(endpoint, call, ms = timeoutMs, maxBody = 300) {
  return new Promise((resolve) => {
    const headers = { Host: 'docker', ...(call.body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
    if (call.upgrade)
      Object.assign(headers, { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'ZGV2c2VjLWF1ZGl0LXByb2Jl' });
    const req = http.request({ ...endpoint, method: call.method, path: call.path, headers, agent: false });
    const timer = setTimeout(() => {
      req.destroy();
      resolve({ error: 'timeout' });
    }, ms);
    const done = (/** @type {Answer} */ answer) => {
      clearTimeout(timer);
      resolve(answer);
    };
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      done({ status: res.statusCode, apiVersion: header(res, 'api-version') });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf-8');
      res.on('data', (chunk) => {
        if (body.length < maxBody) body += chunk;
        else res.destroy();
      });
      const finish = () => done({ status: res.statusCode, apiVersion: header(res, 'api-version'), body: body.slice(0, maxBody) });
      res.on('end', finish);
      res.on('close', finish);
    });
    req.on('error', (/** @type {NodeJS.ErrnoException} */ error) => done({ error: error.code ?? error.message }));
    req.end(call.body);
  });
}

/** @param {http.IncomingMessage} res @param {string} name */
function header(res, name) {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** @param {Answer} answer */
const isDockerPing = (answer) => answer.status === 200 && (answer.apiVersion !== undefined || answer.body === 'OK');

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

/** Every unix socket an agent could find: the usual places, then a bounded walk of the filesystem. */
function findSockets() {
  const skip = new Set(['/proc', '/sys', '/dev', '/usr', '/lib', '/lib64', '/bin', '/sbin', '/boot', '/etc']);
  // One entry per socket, under the first name found (/var/run is often a link to /run).
  /** @type {Map<string, string>} */
  const found = new Map();
  const add = (/** @type {string} */ file) => {
    let real = file;
    try {
      real = fs.realpathSync(file);
    } catch {
      // keep the name as found
    }
    if (!found.has(real)) found.set(real, file);
  };
  const known = [
    '/var/run/docker.sock',
    '/run/docker.sock',
    '/run/podman/podman.sock',
    `${home}/.docker/run/docker.sock`,
    `/run/user/${process.getuid?.()}/docker.sock`,
  ];
  for (const candidate of known) {
    try {
      if (fs.statSync(candidate).isSocket()) add(candidate);
    } catch {
      // not there
    }
  }
  let budget = 50_000;
  /** @param {string} dir @param {number} depth */
  const walk = (dir, depth) => {
    if (depth > 6 || budget <= 0) return;
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
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
  return [...found.values()].sort();
}

/** sudo and its kin, where they are and whether they work without a password. */
function privilegeTools() {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/usr/sbin', '/bin', '/sbin', '/usr/local/bin']);
  const tools = [];
  for (const name of ['sudo', 'doas', 'pkexec']) {
    const where = [...new Set(dirs)].map((dir) => path.join(dir, name)).find((file) => fs.existsSync(file));
    if (!where) continue;
    const stat = fs.statSync(where);
    const setuidRoot = (stat.mode & 0o4000) !== 0 && stat.uid === 0;
    const works = name === 'sudo' ? spawnSync(where, ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0 : false;
    tools.push({ name, path: where, setuidRoot, works });
  }
  return tools;
}

function processStatus() {
  const status = fs.readFileSync('/proc/self/status', 'utf-8');
  const field = (/** @type {string} */ name) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(status)?.[1];
  return { capEff: field('CapEff'), noNewPrivs: field('NoNewPrivs') };
}

function credentials() {
  const files = input.credentialPaths
    .map((name) => path.join(home, name))
    .filter((file) => {
      try {
        const stat = fs.statSync(file);
        return stat.isFile() ? stat.size > 0 : fs.readdirSync(file).length > 0;
      } catch {
        return false;
      }
    });
  const git = spawnSync('git', ['config', '--show-origin', '--get-regexp', '^credential\\.'], { cwd: input.workspaceRoot, encoding: 'utf-8', timeout: 5000 });
  const helpers = String(git.stdout ?? '')
    .split('\n')
    .filter((line) => /\bcredential\.(.+\.)?helper\s/.test(line))
    .map((line) => line.trim());
  const env = Object.keys(process.env).filter((name) =>
    /^(SSH_AUTH_SOCK|GIT_ASKPASS|SSH_ASKPASS|VSCODE_GIT_ASKPASS_MAIN|GH_TOKEN|GITHUB_TOKEN|GITLAB_TOKEN|NPM_TOKEN|NODE_AUTH_TOKEN|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|GOOGLE_APPLICATION_CREDENTIALS|DOCKER_AUTH_CONFIG)$/.test(
      name,
    ),
  );
  const sshAgent = process.env.SSH_AUTH_SOCK ? { path: process.env.SSH_AUTH_SOCK, exists: fs.existsSync(process.env.SSH_AUTH_SOCK) } : undefined;
  return { files, helpers, env, sshAgent };
}

/**
 * What VS Code's Dev Containers extension forwards to the host, as an agent would find it: the
 * environment of this user's other processes (VS Code's server and its terminals), and a copied
 * ~/.gitconfig whose credential helper asks VS Code on the host. (Its sockets are in `sockets`.)
 */
function vscodeChannels() {
  const CHANNEL =
    /^(SSH_AUTH_SOCK|VSCODE_IPC_HOOK_CLI|VSCODE_GIT_IPC_HANDLE|VSCODE_GIT_ASKPASS_MAIN|GIT_ASKPASS|REMOTE_CONTAINERS_IPC|REMOTE_CONTAINERS_SOCKETS|BROWSER)=(.*)$/;
  /** @type {Array<{ pid: number, names: string[] }>} */
  const processes = [];
  for (const pid of fs.readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry) && Number(entry) !== process.pid)) {
    let environ;
    try {
      environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf-8');
    } catch {
      continue; // another user's process, or gone
    }
    const names = environ
      .split('\0')
      .map((entry) => CHANNEL.exec(entry))
      .filter((match) => match && match[2] !== '')
      .map((match) => /** @type {RegExpExecArray} */ (match)[1]);
    if (names.length > 0) processes.push({ pid: Number(pid), names: [...new Set(names)] });
  }
  /** @type {string[]} */
  const gitconfigHelpers = [];
  try {
    const text = fs.readFileSync(path.join(home, '.gitconfig'), 'utf-8');
    for (const line of text.split('\n')) if (/^\s*helper\s*=/.test(line)) gitconfigHelpers.push(line.trim());
  } catch {
    // no ~/.gitconfig
  }
  return { processes, gitconfigHelpers };
}

/** Can this user change the path? A directory gets a real file (removed at once); a file gets access(W_OK). */
function writability() {
  return input.writable.map((target) => {
    try {
      if (fs.statSync(target).isDirectory()) {
        const probe = path.join(target, `.devsec-audit-${process.pid}`);
        fs.writeFileSync(probe, '', { flag: 'wx' });
        fs.unlinkSync(probe);
      } else {
        fs.accessSync(target, fs.constants.W_OK);
      }
      return { path: target, writable: true };
    } catch (error) {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code;
      return { path: target, writable: false, missing: code === 'ENOENT', error: code };
    }
  });
}

/** Other Docker APIs on the network: another worktree's proxy, an engine on a gateway. */
async function network() {
  const targets = [...input.targets];
  const hostInternal = await dns.promises.lookup('host.docker.internal').catch(() => undefined);
  if (hostInternal) for (const port of input.enginePorts) targets.push({ host: hostInternal.address, port, label: 'host.docker.internal' });
  return Promise.all(
    targets.map(async (target) => ({ ...target, answer: await request({ host: target.host, port: target.port }, { method: 'GET', path: '/_ping' }, 1500) })),
  );
}

/**
 * A direct TCP connection: connected or refused means a route (something answered); unreachable
 * or silent means none.
 * @param {ProbeTarget} target
 * @returns {Promise<ProbeTarget & { outcome: string, error?: string }>}
 */
function connectDirect(target) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: target.host, port: target.port });
    const done = (/** @type {string} */ outcome, /** @type {string=} */ error) => {
      socket.destroy();
      resolve({ ...target, outcome, ...(error ? { error } : {}) });
    };
    socket.setTimeout(1500, () => done('silent', 'timeout'));
    socket.once('connect', () => done('connected'));
    socket.once('error', (error) => {
      const code = /** @type {NodeJS.ErrnoException} */ (error).code ?? String(error);
      done(code === 'ECONNREFUSED' || code === 'ECONNRESET' ? 'refused' : 'unreachable', code);
    });
  });
}

/**
 * An HTTP CONNECT through the egress proxy: its status line, or why there was none.
 * @param {string} proxy
 * @param {string} name host[:port]
 */
function connectThrough(proxy, name) {
  return new Promise((resolve) => {
    let url;
    try {
      url = new URL(proxy);
    } catch {
      return resolve({ name, error: `HTTPS_PROXY is not a URL` });
    }
    const target = /:\d+$/.test(name) ? name : `${name}:443`;
    const request = http.request({ host: url.hostname, port: Number(url.port) || 80, method: 'CONNECT', path: target, headers: { Host: target } });
    const done = (/** @type {{ status?: number, error?: string, proxyStatus?: string }} */ answer) => {
      request.destroy();
      resolve({ name, ...answer });
    };
    /** @param {import('node:http').IncomingMessage} response */
    const answered = (response) => ({ status: response.statusCode, proxyStatus: String(response.headers['proxy-status'] ?? '').slice(0, 300) || undefined });
    request.setTimeout(12000, () => done({ error: 'timeout' }));
    request.once('connect', (response, socket) => {
      socket.destroy();
      done(answered(response));
    });
    request.once('response', (response) => done(answered(response)));
    request.once('error', (error) => done({ error: /** @type {NodeJS.ErrnoException} */ (error).code ?? String(error) }));
    request.end();
  });
}

/** The ways out: direct connections, an outside name, the egress proxy for an unlisted and a listed name. */
async function egress() {
  const spec = input.egress;
  if (!spec) return undefined;
  const proxy = process.env.HTTPS_PROXY || process.env.https_proxy || undefined;
  // An internal network's resolver may wait long for an outside name: no answer in 3 s is no answer.
  const lookup = await Promise.race([
    dns.promises
      .lookup(spec.lookupName, { all: true })
      .then((found) => ({ name: spec.lookupName, addresses: found.map((entry) => entry.address) }))
      .catch((error) => ({ name: spec.lookupName, error: error.code ?? String(error) })),
    new Promise((resolve) => setTimeout(() => resolve({ name: spec.lookupName, error: 'timeout' }), 3000).unref()),
  ]);
  return {
    direct: await Promise.all(spec.direct.map(connectDirect)),
    lookup,
    proxy,
    refused: proxy ? await connectThrough(proxy, spec.refusedName) : undefined,
    allowed: proxy && spec.allowedName ? await connectThrough(proxy, spec.allowedName) : undefined,
  };
}

async function main() {
  const endpoints = [];
  const dockerHost = dockerHostEndpoint();
  if (dockerHost) endpoints.push(await probeDockerEndpoint(`DOCKER_HOST=${process.env.DOCKER_HOST}`, dockerHost));
  const sockets = [];
  for (const socketPath of findSockets()) {
    const probed = await probeDockerEndpoint(socketPath, { socketPath });
    sockets.push({ path: socketPath, docker: probed.docker, error: probed.ping.error });
    if (probed.docker) endpoints.push(probed);
  }
  const observations = {
    uid: process.getuid?.(),
    gid: process.getgid?.(),
    user: os.userInfo().username,
    status: processStatus(),
    privilegeTools: privilegeTools(),
    credentials: credentials(),
    writable: writability(),
    // The host placed these in its own node_modules and .nx; seeing one means the folder is the host's.
    hostMarkersSeen: (input.hostMarkers ?? []).filter((marker) => fs.existsSync(marker)),
    vscode: vscodeChannels(),
    endpoints,
    sockets,
    network: await network(),
    egress: await egress(),
  };
  // Exit once written: a lookup still waiting on a silent resolver must not hold the audit.
  process.stdout.write(`${JSON.stringify(observations)}\n`, () => process.exit(0));
}

main().catch((error) => {
  process.stderr.write(`devsec live probe failed: ${error && error.stack ? error.stack : error}\n`);
  process.exit(1);
});
