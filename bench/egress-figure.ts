/**
 * Figure 7: a large download through the egress proxy, as the dev container makes it (on an
 * internal network, HTTPS_PROXY set), against the same download made directly from a container on
 * an ordinary bridge network. Both clients time themselves inside, so `docker exec` is not in the
 * figure. The origin is a container too (no registry is reachable here): a Node server that sends
 * the same bytes to both.
 */
import { docker, dockerOk, rows, RUN } from './common';
import { median, ratioRow } from './measure';
import { BASE_IMAGE, Helper, memoryOf, PROXY_IMAGE, RunFlags, startContainer, waitFor } from './stack-helpers';
import { mb } from './memory-figure';

const SIZE_MB = 256;
const PAIRS = 7;
const ORIGIN = `devsec-bench-origin-${RUN}`;
const ORIGIN_PORT = 8080;
const EGRESS_PORT = 3128;
const PACED_MIB_S = 100;

/**
 * Sends SIZE_MB MiB from one buffer to every GET, with its length: as fast as it can on /blob,
 * and at PACED_MIB_S on /paced (a fast link: npm's registry and GitHub seldom give more).
 */
const ORIGIN_SCRIPT = `
const size = ${SIZE_MB} * 1048576, chunk = Buffer.alloc(1 << 20, 120);
require('node:http').createServer((request, response) => {
  response.writeHead(200, { 'content-length': size });
  const paced = request.url === '/paced', started = Date.now();
  let left = size;
  const more = () => {
    while (left > 0) {
      const due = started + ((size - left) / 1048576) * (1000 / ${PACED_MIB_S});
      if (paced && Date.now() < due) return setTimeout(more, due - Date.now());
      left -= chunk.length;
      if (!response.write(chunk)) return response.once('drain', more);
    }
    response.end();
  };
  more();
}).listen(${ORIGIN_PORT});`;

/**
 * Downloads once and prints "<ms> <bytes>". argv: direct | tunnel | plain. A tunnel is what HTTPS
 * does through HTTPS_PROXY (CONNECT, then bytes); plain is http:// through HTTP_PROXY.
 */
const CLIENT_SCRIPT = `
const http = require('node:http'), net = require('node:net');
const [mode, path, origin, port, proxy] = process.argv.slice(1);
const started = performance.now();
const done = (response) => { let bytes = 0; response.on('data', (b) => (bytes += b.length)); response.on('end', () => console.log((performance.now() - started).toFixed(1), bytes)); };
const [proxyHost, proxyPort] = (proxy || ':').split(':');
if (mode === 'direct') http.get({ host: origin, port, path }, done);
else if (mode === 'plain') http.get({ host: proxyHost, port: proxyPort, path: 'http://' + origin + ':' + port + path, headers: { host: origin + ':' + port } }, done);
else http.request({ host: proxyHost, port: proxyPort, method: 'CONNECT', path: origin + ':' + port }).on('connect', (answer, socket) => {
  if (answer.statusCode !== 200) { console.error('CONNECT', answer.statusCode); process.exit(1); }
  http.get({ createConnection: () => socket, host: origin, port, path }, done);
}).end();`;

interface Download {
  ms: number;
  bytes: number;
}

type Mode = 'direct' | 'tunnel' | 'plain';

function download(client: string, mode: Mode, path: '/blob' | '/paced'): Download {
  const args = mode === 'direct' ? [] : [`egress:${EGRESS_PORT}`];
  const out = dockerOk(['exec', client, 'node', '-e', CLIENT_SCRIPT, mode, path, ORIGIN, String(ORIGIN_PORT), ...args]).trim();
  const [time, bytes] = out.split(' ').map(Number);
  if (bytes !== SIZE_MB * 1048576) throw new Error(`bench: ${mode} download got ${bytes} bytes, not ${SIZE_MB} MiB`);
  return { ms: time, bytes };
}

/** Figure 7: the egress proxy in its container with the compose file's settings, between two networks. */
export async function benchEgress(egressFlags: RunFlags): Promise<void> {
  const outside = `devsec-bench-outside-${RUN}`;
  const inside = `devsec-bench-inside-${RUN}`;
  const helpers: Helper[] = [];
  try {
    dockerOk(['network', 'create', outside]);
    // As the generated sandbox network: internal, no address on the bridge.
    dockerOk(['network', 'create', '--internal', '--opt', 'com.docker.network.bridge.inhibit_ipv4=true', inside]);
    helpers.push(startContainer('origin', ['--network', outside, '--network-alias', ORIGIN], BASE_IMAGE, 'node', ['-e', ORIGIN_SCRIPT]));
    const egress = startContainer(
      'egress',
      [
        ...egressFlags,
        '--network',
        inside,
        '--network-alias',
        'egress',
        ...[
          'EGRESS=1',
          `EGRESS_LISTEN=tcp://0.0.0.0:${EGRESS_PORT}`,
          `EGRESS_ALLOW=${ORIGIN}:${ORIGIN_PORT}`,
          // The origin is a container, so its address is private: allowed by name, for the bench only.
          `EGRESS_ALLOW_PRIVATE=${ORIGIN}`,
          'LOG_LEVEL=warn',
        ].flatMap((e) => ['-e', e]),
      ],
      PROXY_IMAGE,
    );
    helpers.push(egress);
    dockerOk(['network', 'connect', outside, egress.name]);
    const sleeper = ['-e', 'setInterval(() => {}, 1 << 30)'];
    const insideClient = startContainer('in-client', ['--network', inside, '--user', 'node'], BASE_IMAGE, 'node', sleeper);
    const outsideClient = startContainer('out-client', ['--network', outside, '--user', 'node'], BASE_IMAGE, 'node', sleeper);
    helpers.push(insideClient, outsideClient);
    await waitFor(egress.name, () => docker(['logs', egress.name]).stdout.includes('"msg":"listening"'));
    await waitFor(
      ORIGIN,
      () => docker(['exec', outsideClient.name, 'node', '-e', CLIENT_SCRIPT, 'direct', '/blob', ORIGIN, String(ORIGIN_PORT)]).status === 0,
      30_000,
    );
    // The inside client has no other way: a direct try must fail, or the figure compares nothing.
    if (docker(['exec', insideClient.name, 'node', '-e', CLIENT_SCRIPT, 'direct', '/blob', ORIGIN, String(ORIGIN_PORT)]).status === 0) {
      throw new Error('bench: the inside client reached the origin directly');
    }
    // A stack's third Node helper: its idle memory, settled, before any download.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const idle = memoryOf(egress.name);
    const clients: Record<Mode, string> = { tunnel: insideClient.name, plain: insideClient.name, direct: outsideClient.name };
    const measure = (path: '/blob' | '/paced', modes: Mode[]) => {
      const series = Object.fromEntries(modes.map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
      for (const mode of modes) download(clients[mode], mode, path); // warm-up
      for (let round = 0; round < PAIRS; round++) {
        for (let k = 0; k < modes.length; k++) {
          const mode = modes[(round + k) % modes.length];
          series[mode].push(download(clients[mode], mode, path).ms);
          peak = Math.max(peak, memoryOf(egress.name).rss);
        }
      }
      return series;
    };
    let peak = 0;
    const paced = measure('/paced', ['tunnel', 'direct']);
    const fast = measure('/blob', ['tunnel', 'plain', 'direct']);
    const rate = (times: number[]) => `${((SIZE_MB / median(times)) * 1000).toFixed(0)} MiB/s`;
    /** ratioRow, with each side's rate beside its time and a note after the spreads. */
    const row = (label: string, a: number[], b: number[], target: string, note = '') => {
      const [, timeA, timeB, ratio, , spreads] = ratioRow(label, a, b, target);
      return [label, `${timeA} (${rate(a)})`, `${timeB} (${rate(b)})`, ratio, target, `${spreads}${note}`];
    };
    rows.push(
      row(
        `7. A ${SIZE_MB} MiB download from an origin sending at ${PACED_MIB_S} MiB/s, through the egress proxy (CONNECT, as HTTPS goes) from the internal network / direct from a bridge network (${PAIRS} rounds)`,
        paced.tunnel,
        paced.direct,
        '≤ 1.10',
      ),
    );
    rows.push(row("7′. the same download as fast as the origin sends: the egress proxy's ceiling, CONNECT / direct", fast.tunnel, fast.direct, '–'));
    rows.push(
      row(
        '7″. the same, plain HTTP through the egress proxy (rebuilt request, streamed body) / direct',
        fast.plain,
        fast.direct,
        '–',
        `; the egress proxy's RSS: ${mb(idle.rss)} MB idle (anon ${mb(idle.anon)}), ${mb(peak)} MB at most after a download`,
      ),
    );
  } finally {
    for (const helper of helpers) helper.stop();
    docker(['network', 'rm', inside, outside]);
  }
}
