/**
 * Egress for companies on the real engine, tried from inside as the agent would. The test starts
 * three servers on this machine, on the gateway address of a Docker network of its own (a
 * private address): a package mirror (plain HTTP), a TLS server (a Git remote and a page) signed
 * by a CA the test makes with openssl, and a company HTTP proxy that records what it is asked.
 * The egress proxy knows the private names by extra_hosts (its resolver: the address it checks
 * is the one it connects to). Pass: a private host listed in --allowHosts and --allowPrivateHosts
 * is reached, one listed only in --allowHosts is refused; what goes out by the company proxy is
 * only what the list lets through, with the credentials that never appear inside; the CA of
 * --caCerts is trusted by node and git inside; a CA planted in the workspace file from inside
 * refuses the next start.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createServer as createHttpServer, IncomingMessage, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithDocker, docker, dockerOk } from '../../../../tools/testing/docker';
import { captureOutput, COMPOSE_FILE, createSandboxStack, SandboxStackFixture } from '../../../../tools/testing/sandbox-stack';
import audit from './audit/executor';

jest.setTimeout(300_000);

const run = Math.random().toString(36).slice(2, 8);
const prefix = `devsec-ce-${run}`;
const MIRROR = 'mirror.corp.test';
const INTERNAL = 'internal.corp.test';
const TLS_HOST = 'tls.corp.test';
const VIA_UPSTREAM = 'listed.upstream.test';
const UNLISTED = 'unlisted.upstream.test';
const CA_FILE = 'certs/corp-ca.pem';
const PASSWORD = `s3cret-${run}`;
const SHA = '0123456789abcdef0123456789abcdef01234567';

/** A pkt-line of Git's smart HTTP protocol. */
const pkt = (line: string) => (line.length + 4).toString(16).padStart(4, '0') + line;

describeWithDocker('egress for companies: private hosts, an upstream proxy, a CA of your own', () => {
  let stack: SandboxStackFixture;
  let certs: string;
  let gateway: string;
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  const mirrorSaw: string[] = [];
  const upstreamSaw: { line: string; auth?: string }[] = [];
  let mirrorPort: number;
  let tlsPort: number;
  let upstreamPort: number;
  /** From inside, as the agent; asynchronous, so that the servers of this process answer meanwhile. */
  const inside = (script: string) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) =>
      execFile('docker', ['exec', '-u', 'node', '-w', stack.dir, stack.app, 'bash', '-c', script], { timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr }),
      ),
    );
  const listen = (server: Server) =>
    new Promise<number>((resolve) => {
      servers.push(server);
      server.on('connection', (socket: Socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
      });
      server.listen(0, gateway, () => resolve((server.address() as AddressInfo).port));
    });
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: certs, stdio: 'pipe' });

  beforeAll(async () => {
    // A network of this machine: its gateway is a private address of the host, where the "company" servers listen.
    dockerOk(['network', 'create', `${prefix}-corp`]);
    gateway = dockerOk(['network', 'inspect', `${prefix}-corp`, '--format', '{{range .IPAM.Config}}{{.Gateway}}{{end}}']).trim();

    // The company's CA, a server certificate for tls.corp.test signed by it, and another CA (the agent's).
    certs = mkdtempSync(join(tmpdir(), `${prefix}-certs-`));
    for (const name of ['corp', 'agent']) {
      openssl(
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-days', '2',
        '-subj', `/CN=${prefix} ${name} CA`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign',
      ); // prettier-ignore
    }
    openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', `/CN=${TLS_HOST}`);
    writeFileSync(join(certs, 'server.ext'), `subjectAltName=DNS:${TLS_HOST}\nbasicConstraints=CA:FALSE\n`);
    openssl(
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'corp-ca.pem',
      '-CAkey',
      'corp-ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    );

    mirrorPort = await listen(
      createHttpServer((request, response) => {
        mirrorSaw.push(`${request.headers.host} ${request.url}`);
        response.end(`mirror ${request.url}`);
      }),
    );
    tlsPort = await listen(
      createHttpsServer({ key: readFileSync(join(certs, 'server.key')), cert: readFileSync(join(certs, 'server.pem')) }, (request, response) => {
        if (request.url?.startsWith('/corp/repo.git/info/refs')) {
          response.writeHead(200, { 'Content-Type': 'application/x-git-upload-pack-advertisement', 'Cache-Control': 'no-cache' });
          return void response.end(
            pkt('# service=git-upload-pack\n') + '0000' + pkt(`${SHA} HEAD\0symref=HEAD:refs/heads/main\n`) + pkt(`${SHA} refs/heads/main\n`) + '0000',
          );
        }
        response.end(`tls ${request.url}`);
      }) as unknown as Server,
    );
    // The company proxy: records every request line and its Proxy-Authorization, answers plain requests itself, refuses tunnels.
    const upstream = createHttpServer((request: IncomingMessage, response) => {
      upstreamSaw.push({ line: `${request.method} ${request.url}`, auth: request.headers['proxy-authorization'] });
      response.end(`company proxy: ${request.method} ${request.url}`);
    });
    upstream.on('connect', (request: IncomingMessage, socket: Socket) => {
      upstreamSaw.push({ line: `CONNECT ${request.url}`, auth: request.headers['proxy-authorization'] });
      socket.end('HTTP/1.1 403 Forbidden by the company\r\nContent-Length: 0\r\n\r\n');
    });
    upstreamPort = await listen(upstream);

    stack = await createSandboxStack('ce', {
      run,
      generator: {
        allowHosts: [`${MIRROR}:${mirrorPort}`, `${INTERNAL}:${mirrorPort}`, `${TLS_HOST}:${tlsPort}`, VIA_UPSTREAM],
        allowPrivateHosts: [MIRROR, TLS_HOST],
        caCerts: CA_FILE,
      },
      prepare: (dir) => {
        mkdirSync(join(dir, 'certs'));
        writeFileSync(join(dir, CA_FILE), readFileSync(join(certs, 'corp-ca.pem')));
        // The egress proxy's resolver: the private names at the gateway; the upstream-bound name at a public address nobody dials.
        writeFileSync(
          join(dir, 'apps/app/.devcontainer/docker-compose.services.yml'),
          `services:\n  egress-proxy:\n    extra_hosts:\n${[MIRROR, INTERNAL, TLS_HOST].map((name) => `      - "${name}:${gateway}"\n`).join('')}      - "${VIA_UPSTREAM}:93.184.216.34"\n`,
        );
        writeFileSync(
          join(dir, 'tls-check.cjs'),
          `const http = require('http'), tls = require('tls');
const proxy = new URL(process.env.HTTPS_PROXY);
const [host, port] = process.argv.slice(2);
http.request({ host: proxy.hostname, port: proxy.port, method: 'CONNECT', path: host + ':' + port, headers: { Host: host + ':' + port } })
  .on('connect', (answer, socket) => {
    if (answer.statusCode !== 200) return console.log('CONNECT', answer.statusCode);
    const secure = tls.connect({ socket, servername: host }, () => secure.write('GET /hello HTTP/1.1\\r\\nHost: ' + host + '\\r\\nConnection: close\\r\\n\\r\\n'));
    let text = '';
    secure.on('data', (chunk) => (text += chunk));
    secure.on('end', () => console.log(text.split('\\r\\n\\r\\n')[1]));
    secure.on('error', (error) => console.log('failed', error.code));
  })
  .end();
`,
        );
      },
    });
    // The host user's shell: NO_PROXY for the company's own names; the proxy given with its credentials.
    process.env.NO_PROXY = '.corp.test';
    const started = await stack.up({ upstreamProxy: `http://alice:${PASSWORD}@${gateway}:${upstreamPort}` });
    if (!started.success) throw new Error(`up-worktree failed:\n${started.said}`);
    expect(started.said).toMatch(new RegExp(`Trusting inside the sandbox the CA certificates of ${CA_FILE}:\\n {2}CN=${prefix} corp CA`));
    expect(started.said).toContain(`The egress proxy leaves through http://${gateway}:${upstreamPort} (--upstreamProxy), except for .corp.test`);
    expect(started.said).not.toContain(PASSWORD);
  });

  afterAll(async () => {
    delete process.env.NO_PROXY;
    for (const socket of sockets) socket.destroy();
    for (const server of servers) server.close();
    await stack?.stop();
    docker(['network', 'rm', `${prefix}-corp`]);
    if (certs) rmSync(certs, { recursive: true, force: true });
  });

  it('reaches a private host listed in both options, and refuses one listed only in --allowHosts before any byte reaches it', async () => {
    expect((await inside(`curl -sS http://${MIRROR}:${mirrorPort}/pkg.tgz`)).stdout).toBe('mirror /pkg.tgz');
    const refused = await inside(`curl -sS -w '\\n%{http_code}' http://${INTERNAL}:${mirrorPort}/secret`);
    expect(refused.stdout).toMatch(
      new RegExp(`${INTERNAL.replace(/\./g, '\\.')} resolves to ${gateway.replace(/\./g, '\\.')}, which is not a public address[^]*\\n403$`),
    );
    const tunnel = await inside(`curl -sS -p -o /dev/null -w '%{http_connect}' http://${INTERNAL}:${mirrorPort}/secret`);
    expect(tunnel.stdout).toBe('403');
    expect(mirrorSaw).toEqual([`${MIRROR}:${mirrorPort} /pkg.tgz`]);
    // NO_PROXY of the host's shell: the company's own names go direct, never by the company proxy.
    expect(upstreamSaw.filter((seen) => /corp\.test/.test(seen.line))).toEqual([]);
  });

  it('sends what the list lets through by the company proxy, with its credentials, and never what it refuses', async () => {
    const auth = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`;
    expect((await inside(`curl -sS http://${VIA_UPSTREAM}/x`)).stdout).toBe(`company proxy: GET http://${VIA_UPSTREAM}/x`);
    // The company proxy refuses the tunnel itself (it only records it): curl fails, the CONNECT was sent on.
    expect((await inside(`curl -sS -o /dev/null https://${VIA_UPSTREAM}/`)).status).not.toBe(0);
    for (const url of [`http://${UNLISTED}/leak`, `https://${UNLISTED}/leak`]) {
      expect((await inside(`curl -sS -o /dev/null -w '%{http_code} %{http_connect}' ${url}`)).stdout).toMatch(/403/);
    }
    expect(upstreamSaw).toEqual([
      { line: `GET http://${VIA_UPSTREAM}/x`, auth },
      { line: `CONNECT ${VIA_UPSTREAM}:443`, auth },
    ]);
  });

  it('keeps the credentials on the host side: not in the dev container, not in docker inspect from inside, not in any workspace file', async () => {
    expect((await inside('env')).stdout).not.toContain(PASSWORD);
    const egress = await inside(`docker inspect ${stack.project}-egress-proxy-1`);
    expect(egress.status).toBe(0);
    expect(egress.stdout).not.toContain(PASSWORD);
    const files = (folder: string): string[] =>
      readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
        entry.name === 'node_modules' || entry.name === '.git' ? [] : entry.isDirectory() ? files(join(folder, entry.name)) : [join(folder, entry.name)],
      );
    expect(files(stack.dir).filter((file) => readFileSync(file).includes(PASSWORD))).toEqual([]);
  });

  it('trusts the CA of --caCerts inside: node fetch and git ls-remote reach the TLS server it signed; the system store alone does not', async () => {
    // Node's own TLS (what npm and pnpm use), through a CONNECT tunnel of the egress proxy, with the roots NODE_EXTRA_CA_CERTS adds.
    const fetched = await inside(`node ${join(stack.dir, 'tls-check.cjs')} ${TLS_HOST} ${tlsPort}`);
    expect(fetched.stdout.trim()).toBe('tls /hello');
    const remote = await inside(`git ls-remote https://${TLS_HOST}:${tlsPort}/corp/repo.git`);
    expect(remote.stdout).toContain(`${SHA}\trefs/heads/main`);
    // The same request with only the image's own store: the trust is --caCerts's, not an accident.
    expect((await inside(`curl -sS -o /dev/null --cacert /etc/ssl/certs/ca-certificates.crt https://${TLS_HOST}:${tlsPort}/hello`)).status).toBe(60);
    expect((await inside(`curl -sS https://${TLS_HOST}:${tlsPort}/hello`)).stdout).toBe('tls /hello');
  });

  it('audit --live names each private host it may reach', async () => {
    const { printed } = await captureOutput(() => audit({ composeFile: COMPOSE_FILE, live: true }, stack.context('audit')));
    const escape = (text: string) => text.replace(/\./g, '\\.');
    expect(printed).toMatch(
      new RegExp(
        `private hosts it may reach \\(--allowPrivateHosts\\): ${escape(MIRROR)}:${mirrorPort} reached \\(200\\), ${escape(TLS_HOST)}:${tlsPort} reached \\(200\\)`,
      ),
    );
  });

  it('refuses the next start when a CA is planted in the workspace file from inside, naming it; the user’s --caCerts accepts it', async () => {
    const planted = readFileSync(join(certs, 'agent-ca.pem'), 'utf-8');
    expect(docker(['exec', '-i', '-u', 'node', stack.app, 'sh', '-c', `cat >> ${join(stack.dir, CA_FILE)}`], { input: planted }).status).toBe(0);
    const refused = await stack.up();
    expect(refused.success).toBe(false);
    expect(refused.said).toMatch(new RegExp(`${CA_FILE} \\(--caCerts\\) changed since the last start trusted it:\\n {2}\\+ [^\\n]*\\(SHA-256 `));
    expect(readFileSync(join(stack.stateHome, 'devsec/worktrees', stack.project, 'ca-extra.pem'), 'utf-8')).not.toContain(planted.split('\n')[1]);
    // A private key is never taken, even when the user names the file.
    writeFileSync(join(certs, 'with-key.pem'), readFileSync(join(certs, 'corp-ca.pem'), 'utf-8') + readFileSync(join(certs, 'server.key'), 'utf-8'));
    const withKey = await stack.up({ caCerts: join(certs, 'with-key.pem') });
    expect(withKey.success).toBe(false);
    expect(withKey.said).toContain(`${join(certs, 'with-key.pem')} contains a PRIVATE KEY block`);
  });
});
