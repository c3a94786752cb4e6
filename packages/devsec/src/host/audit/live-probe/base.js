// @ts-check
'use strict';
/* exported fs, http, net, URL, dns, path, spawnSync, input, timeoutMs, agent, home, agentMay, readOnlyMount, request, isDockerPing */

/**
 * The live audit's eyes: `nx run <project>:audit --live` pipes this probe into the running dev
 * container (`docker exec -i -u 65534:65534 -w / <app> node - '<input>'`) and looks around at
 * what the agent can do. It runs as another uid than the agent's on purpose: a process of the
 * agent's uid could open this one's stdout (/proc/<pid>/fd/1) and write the verdict itself, or
 * signal and trace it. So nothing here is learned by "trying as myself": who the agent is comes
 * from the kernel (/proc/1/status: the container's first process runs as the container's user,
 * as every `docker exec` without -u, VS Code's and `devsec agent`'s sessions do), and what it
 * may do is reasoned from ownership and modes (agentMay) and from the mount table
 * (readOnlyMount), read as data. It changes nothing (every Docker call it makes names
 * an object that does not exist or carries an invalid body, and a write test removes its file at
 * once) and prints what it saw as one JSON object. Deciding what is a finding is the host's job
 * (rules/live-findings.ts), so this file only observes. Node built-ins only: it runs in any Node image.
 *
 * JavaScript, not TypeScript, on purpose: it runs in the container's own Node without a build
 * step (piped to `node -`), so it is shipped as assets. One script in five files, concatenated in
 * the order of PROBE_PARTS (host/live-audit.ts): this one (the Node modules, the input, HTTP),
 * docker.js (Docker APIs and sockets), inside.js (the user, credentials, VS Code, writability),
 * egress.js (the ways out) and main.js. Only this first part is `// @ts-check`ed on its own.
 */

const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const { URL } = require('node:url');
const dns = require('node:dns');
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
 * @type {{ only?: 'home', calls: ProbeCall[], targets: ProbeTarget[], writable: string[], workspaceRoot: string, credentialPaths: string[], enginePorts: number[], socketPaths: string[], hostNames: string[], hostMarkers?: string[], timeoutMs?: number, egress?: EgressInput }}
 */
const input = JSON.parse(process.argv[2] || '{}');
const timeoutMs = input.timeoutMs ?? 2000;

/**
 * The agent's credentials, as the kernel reports them for the container's first process (its
 * effective uid and gid, supplementary groups, effective capabilities, no_new_privs). The agent
 * cannot change them: changing a process's uid or groups takes privileges it would be reported
 * for. Its name and home come from /etc/passwd (root's file; shown as data on the host).
 * @returns {{ uid?: number, gid?: number, groups: number[], capEff?: string, noNewPrivs?: string, user: string, home?: string }}
 */
function agentIdentity() {
  let status = '';
  try {
    status = fs.readFileSync('/proc/1/status', 'utf-8');
  } catch {
    // no /proc: nothing known, and the host refuses an answer without a uid
  }
  const field = (/** @type {string} */ name) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/) ?? [];
  const number = (/** @type {string | undefined} */ value) => (value !== undefined && /^[0-9]+$/.test(value) ? Number(value) : undefined);
  // Uid: real, effective, saved, filesystem: the effective one decides what it may do.
  const uid = number(field('Uid')[1]);
  const gid = number(field('Gid')[1]);
  const groups = field('Groups')
    .map(number)
    .filter((group) => group !== undefined);
  let user = String(uid);
  /** @type {string | undefined} */
  let home;
  try {
    for (const line of fs.readFileSync('/etc/passwd', 'utf-8').split('\n')) {
      const entry = line.split(':');
      if (entry.length >= 6 && number(entry[2]) === uid) {
        [user, home] = [entry[0], entry[5]];
        break;
      }
    }
  } catch {
    // no passwd: the uid is the name, and no home is looked at
  }
  return { uid, gid, groups: /** @type {number[]} */ (groups), capEff: field('CapEff')[0], noNewPrivs: field('NoNewPrivs')[0], user, home };
}

const agent = agentIdentity();
/** The agent's home (its credentials, its ~/.gitconfig), or a path that holds nothing. */
const home = agent.home ?? '/nonexistent';

/**
 * May the agent read (4), write (2) or search (1) this file, as the kernel's permission check
 * would decide from its owner, group and mode? Root may anything (live-root reports it). An
 * owner may always chmod its file, so an owner's write holds whatever the mode says now. ACLs
 * are not read (none of the sandbox's files carry one).
 * @param {fs.Stats} stat
 * @param {number} bit
 */
function agentMay(stat, bit) {
  if (agent.uid === 0) return true;
  if (stat.uid === agent.uid) return bit === 2 || ((stat.mode >> 6) & bit) === bit;
  if (stat.gid === agent.gid || agent.groups.includes(stat.gid)) return ((stat.mode >> 3) & bit) === bit;
  return (stat.mode & bit) === bit;
}

/** The mount table (/proc/self/mountinfo: this container's mount namespace, the agent's too), read once. */
const mounts = (() => {
  try {
    const unescape = (/** @type {string} */ field) => field.replace(/\\([0-7]{3})/g, (_, octal) => String.fromCharCode(parseInt(octal, 8)));
    return fs
      .readFileSync('/proc/self/mountinfo', 'utf-8')
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const fields = line.split(' ');
        const dash = fields.indexOf('-');
        const options = [...fields[5].split(','), ...(dash > 0 ? (fields[dash + 3] ?? '').split(',') : [])];
        return { point: unescape(fields[4]), readOnly: options.includes('ro') };
      });
  } catch {
    return [];
  }
})();

/**
 * Is this path on a read-only mount? The mount is the one with the longest mount point above its
 * real path, the last one listed when several share it (the one on top).
 * @param {string} target
 */
function readOnlyMount(target) {
  let real = target;
  try {
    real = fs.realpathSync(target);
  } catch {
    // as named
  }
  let found;
  for (const mount of mounts) {
    const above = mount.point === '/' || real === mount.point || real.startsWith(`${mount.point}/`);
    if (above && (!found || mount.point.length >= found.point.length)) found = mount;
  }
  return found?.readOnly === true;
}

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
