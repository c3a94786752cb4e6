// @ts-check
'use strict';

/**
 * Forward mode (FORWARD=...): plain TCP forwarding for the localhost-proxy sidecar, so that a
 * stack needs no second image. It shares the dev container's network namespace and listens on
 * its loopback addresses: `localhost:3000` inside reaches the target service.
 */

const net = require('node:net');
const { pipeline } = require('node:stream');

class ForwardConfigError extends Error {}

/**
 * @typedef {{ listenPort: number, host: string, port: number }} ForwardRule
 */

/**
 * `3000:web:3000,3001:web:3001` → rules. Hosts are names or IPv4 addresses.
 * @param {string} spec
 * @returns {ForwardRule[]}
 */
function parseForward(spec) {
  const rules = spec
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^([0-9]{1,5}):([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]{1,5})$/.exec(part);
      const listenPort = match ? Number(match[1]) : NaN;
      const port = match ? Number(match[3]) : NaN;
      if (!match || listenPort < 1 || listenPort > 65535 || port < 1 || port > 65535) {
        throw new ForwardConfigError(`FORWARD=${spec}: "${part}" is not LISTEN_PORT:HOST:PORT (e.g. FORWARD=3000:web:3000).`);
      }
      return { listenPort, host: match[2], port };
    });
  if (rules.length === 0) throw new ForwardConfigError('FORWARD is empty: give LISTEN_PORT:HOST:PORT (e.g. FORWARD=3000:web:3000).');
  return rules;
}

/**
 * @param {string | undefined} spec
 * @returns {string[]}
 */
function parseBind(spec) {
  const addresses = (spec ?? '127.0.0.1,::1').split(',').map((part) => part.trim()).filter(Boolean);
  for (const address of addresses) {
    if (net.isIP(address) === 0) throw new ForwardConfigError(`FORWARD_BIND=${spec}: "${address}" is not an IP address.`);
  }
  return addresses;
}

/**
 * Starts one listener per rule and address. Resolves when all listen.
 * @param {ForwardRule[]} rules
 * @param {string[]} addresses
 * @param {(entry: object) => void} log
 * @returns {Promise<net.Server[]>}
 */
async function startForwarding(rules, addresses, log) {
  const servers = [];
  for (const rule of rules) {
    for (const address of addresses) {
      const server = net.createServer((client) => {
        const upstream = net.connect(rule.port, rule.host);
        const done = (/** @type {Error | null | undefined} */ error) => {
          if (error) log({ msg: 'forward failed', listen: `${address}:${rule.listenPort}`, target: `${rule.host}:${rule.port}`, error: error.message });
          client.destroy();
          upstream.destroy();
        };
        pipeline(client, upstream, done);
        pipeline(upstream, client, done);
      });
      await new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(rule.listenPort, address, () => resolve(undefined));
      });
      servers.push(server);
      log({ msg: 'forwarding', listen: `${address.includes(':') ? `[${address}]` : address}:${rule.listenPort}`, target: `${rule.host}:${rule.port}` });
    }
  }
  return servers;
}

module.exports = { ForwardConfigError, parseBind, parseForward, startForwarding };
