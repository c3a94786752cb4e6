// Part of the live probe (see base.js): the ways out. Uses base.js's modules and helpers.

/* global net, http, URL, dns, input */
/* exported egress */

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
    // Every private host the list lets through (--allowPrivateHosts), each reported by name.
    privateHosts:
      proxy && spec.privateNames ? await Promise.all(spec.privateNames.map((/** @type {string} */ name) => connectThrough(proxy, name))) : undefined,
  };
}
