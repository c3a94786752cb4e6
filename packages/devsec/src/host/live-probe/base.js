// @ts-check
'use strict';
/* exported fs, http, net, URL, dns, os, path, spawnSync, input, timeoutMs, home, request, isDockerPing */

/**
 * The live audit's eyes: `nx run <project>:audit --live` pipes this probe into the running dev
 * container (`docker exec -i <app> node - '<input>'`), where it runs as the container's own user
 * and looks around the way an agent could. It changes nothing (every Docker call it makes names
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
 * @type {{ calls: ProbeCall[], targets: ProbeTarget[], writable: string[], workspaceRoot: string, credentialPaths: string[], enginePorts: number[], socketPaths: string[], hostNames: string[], hostMarkers?: string[], timeoutMs?: number, egress?: EgressInput }}
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
