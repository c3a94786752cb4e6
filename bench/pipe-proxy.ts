/**
 * The floor of any Node HTTP proxy, for figure 1: a bare pipe to the Docker socket with no
 * policy, no scope and no logging — an HTTP server, a keep-alive client, and pipe(). Bench only.
 */
import * as http from 'node:http';
import { rmSync } from 'node:fs';

const [listen, upstream = '/var/run/docker.sock'] = process.argv.slice(2);
rmSync(listen, { force: true });
const agent = new http.Agent({ keepAlive: true });
http
  .createServer((req, res) => {
    const request = http.request({ socketPath: upstream, agent, method: req.method, path: req.url, headers: req.headers }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    req.pipe(request);
  })
  .listen(listen, () => process.stdout.write('listening\n'));
