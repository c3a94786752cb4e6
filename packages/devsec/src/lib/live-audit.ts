/**
 * `nx run <project>:audit --live`: with the stack up, looks from inside the dev container the
 * way an agent could (live-probe.js, run there as the container's user) and turns what it saw
 * into findings in the static audit's format. The host gathers what the probe cannot know
 * (which addresses are other worktrees' proxies, which are gateways, which paths must be
 * read-only); the probe observes; `liveFindings` decides, and is pure for tests.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AuditFinding } from './audit';
import { COMPOSE_FILE, DEVCONTAINER_JSON, DOCKERFILE, MANAGED_LABEL, PROXY_PORT } from './constants';
import { runCommand, Runner } from './run';
import { SandboxError, SandboxStack } from './sandbox-stack';
import { findOurDevcontainers, SHARED_COMPOSE_FILE } from './worktree';

export interface ProbeCall {
  method: string;
  path: string;
  body?: string;
  upgrade?: boolean;
}

export interface ProbeTarget {
  host: string;
  port: number;
  label: string;
}

export interface ProbeInput {
  calls: ProbeCall[];
  targets: ProbeTarget[];
  writable: string[];
  workspaceRoot: string;
}

interface Answer {
  status?: number;
  apiVersion?: string;
  body?: string;
  error?: string;
}

/** What live-probe.js prints. */
export interface Observations {
  uid?: number;
  gid?: number;
  user: string;
  status: { capEff?: string; noNewPrivs?: string };
  privilegeTools: Array<{ name: string; path: string; setuidRoot: boolean; works: boolean }>;
  credentials: { files: string[]; helpers: string[]; env: string[]; sshAgent?: { path: string; exists: boolean } };
  writable: Array<{ path: string; writable: boolean; missing?: boolean; error?: string }>;
  endpoints: Array<{
    name: string;
    docker: boolean;
    ping: Answer;
    calls?: Array<{ method: string; path: string; answer: Answer }>;
    env?: Array<{ container: string; names: string[] }>;
  }>;
  sockets: Array<{ path: string; docker: boolean; error?: string }>;
  network: Array<ProbeTarget & { answer: Answer }>;
}

const NO_CONTAINER = 'devsec-audit-no-such-container';
const NO_IMAGE = 'devsec-audit-no-such-image:0';

/**
 * Forbidden, and harmless if an engine does answer: each names an object that does not exist
 * or carries an invalid body. They cover the ways out that the proxy exists to close: create,
 * exec, start, delete, file reads (archive, export, image save), stdin over a websocket, build,
 * volume and network changes.
 */
export const FORBIDDEN_CALLS: ProbeCall[] = [
  { method: 'POST', path: '/containers/create', body: JSON.stringify({ Image: NO_IMAGE }) },
  { method: 'POST', path: `/containers/${NO_CONTAINER}/exec`, body: JSON.stringify({ Cmd: ['true'] }) },
  { method: 'POST', path: `/exec/devsec-audit-no-such-exec/start`, body: '{}' },
  { method: 'POST', path: `/containers/${NO_CONTAINER}/start` },
  { method: 'DELETE', path: `/containers/${NO_CONTAINER}` },
  { method: 'GET', path: `/containers/${NO_CONTAINER}/archive?path=/etc/hostname` },
  { method: 'GET', path: `/containers/${NO_CONTAINER}/export` },
  { method: 'GET', path: `/containers/${NO_CONTAINER}/attach/ws?stream=1&stdin=1`, upgrade: true },
  { method: 'GET', path: `/images/get?names=${NO_IMAGE}` },
  { method: 'POST', path: '/build?dockerfile=devsec-audit-no-such-dockerfile', body: '' },
  { method: 'POST', path: '/volumes/create', body: JSON.stringify({ Name: 'devsec audit: not a valid name' }) },
  { method: 'POST', path: '/networks/devsec-audit-no-such-network/connect', body: JSON.stringify({ Container: NO_CONTAINER }) },
];

/** Where an engine listens on TCP: plain, and TLS. */
const ENGINE_PORTS = [2375, 2376];

/** A refusal is a 403/405 (ours, or any proxy's) or no answer at all; anything else came from an engine. */
const refused = (answer: Answer) => answer.error !== undefined || answer.status === 403 || answer.status === 405;

interface Inspected {
  Id: string;
  Name: string;
  Config: { Labels?: Record<string, string> };
  NetworkSettings: { Networks?: Record<string, { IPAddress?: string; Gateway?: string }> };
}

function inspect(ids: string[], run: Runner): Inspected[] {
  if (ids.length === 0) return [];
  const result = run('docker', ['inspect', ...ids]);
  return result.status === 0 ? (JSON.parse(result.stdout) as Inspected[]) : [];
}

function runningIds(filters: string[], run: Runner): string[] {
  const result = run('docker', ['ps', '-q', '--no-trunc', ...filters.flatMap((filter) => ['--filter', filter])]);
  return result.status === 0 ? result.stdout.split('\n').map((line) => line.trim()).filter(Boolean) : [];
}

/**
 * What the probe needs from the host: the addresses where a Docker API must not answer (every
 * devsec proxy but this stack's own on its private network, every other container on the dev
 * container's networks, every gateway) and the paths that must be read-only.
 */
export function gatherProbeInput(stack: SandboxStack, run: Runner = runCommand): { container: Inspected; input: ProbeInput } {
  const project = stack.identity.composeProjectName;
  const [app] = inspect(runningIds([`label=com.docker.compose.project=${project}`, 'label=com.docker.compose.service=app'], run), run);
  if (!app) {
    throw new SandboxError(
      `The sandbox of ${stack.project} in this worktree is not running (compose project ${project}). ` +
        `Start it with nx run ${stack.project}:up-worktree, then run audit --live again (without --live, audit reads the files only).`,
    );
  }
  const appNetworks = app.NetworkSettings.Networks ?? {};
  // One inspect for every network of the dev container: its labels and who is attached.
  const networks = new Map<string, { Labels?: Record<string, string> | null; Containers?: Record<string, { Name: string; IPv4Address?: string }> | null }>();
  const names = Object.keys(appNetworks);
  const inspected = names.length > 0 ? run('docker', ['network', 'inspect', ...names]) : undefined;
  if (inspected?.status === 0) for (const network of JSON.parse(inspected.stdout)) networks.set(network.Name, network);
  // Networks of this stack alone: compose made them for this project (the shared one is external).
  const privateToStack = (network: string) => networks.get(network)?.Labels?.['com.docker.compose.project'] === project;

  const targets: ProbeTarget[] = [];
  const proxies = inspect(runningIds([`label=${MANAGED_LABEL}=true`, 'label=com.docker.compose.service=docker-proxy'], run), run);
  for (const proxy of proxies) {
    const own = proxy.Config.Labels?.['com.docker.compose.project'] === project;
    for (const [network, settings] of Object.entries(proxy.NetworkSettings.Networks ?? {})) {
      if (!settings.IPAddress || (own && privateToStack(network))) continue;
      const whose = own ? "this stack's proxy" : `another sandbox's proxy (${proxy.Name.replace(/^\//, '')})`;
      targets.push({ host: settings.IPAddress, port: PROXY_PORT, label: `${whose} on network ${network}` });
    }
  }
  const proxyIds = new Set(proxies.map((proxy) => proxy.Id));
  for (const network of names) {
    for (const [id, container] of Object.entries(networks.get(network)?.Containers ?? {})) {
      const address = container.IPv4Address?.split('/')[0];
      if (id === app.Id || proxyIds.has(id) || !address) continue;
      for (const port of ENGINE_PORTS) targets.push({ host: address, port, label: `${container.Name} on network ${network}` });
    }
  }
  for (const [network, settings] of Object.entries(appNetworks)) {
    if (settings.Gateway) for (const port of ENGINE_PORTS) targets.push({ host: settings.Gateway, port, label: `the gateway of network ${network}` });
  }

  const { workspaceRoot, gitCommonDir } = stack.identity;
  const writable = [
    ...findOurDevcontainers(workspaceRoot).flatMap((dir) => [join(workspaceRoot, dir), ...[COMPOSE_FILE, DEVCONTAINER_JSON, DOCKERFILE].map((file) => join(workspaceRoot, dir, file))]),
    join(workspaceRoot, SHARED_COMPOSE_FILE),
    join(gitCommonDir, 'hooks'),
    join(gitCommonDir, 'config'),
  ];
  return { container: app, input: { calls: FORBIDDEN_CALLS, targets, writable, workspaceRoot } };
}

/** Runs live-probe.js inside the dev container, as the container's own user. */
export function runLiveProbe(container: string, input: ProbeInput, run: Runner = runCommand): Observations {
  const script = readFileSync(join(__dirname, 'live-probe.js'), 'utf-8');
  const result = run('docker', ['exec', '-i', container, 'node', '-', JSON.stringify(input)], { input: script });
  if (result.status !== 0) {
    const reason = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ');
    const hint = /executable file not found|no such file/i.test(reason) ? ' The live audit runs Node inside the dev container: keep a Node base image.' : '';
    throw new SandboxError(`The live probe could not run in ${container}: ${reason}.${hint}`);
  }
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? '{}') as Observations;
}

/** What the observations mean: each a finding in the static audit's format, pointing at the stack's compose file. */
export function liveFindings(observations: Observations, where: { composeFile: string; container: string }): AuditFinding[] {
  const findings: AuditFinding[] = [];
  // A finding points at the file where its fix goes: the Dockerfile for what the image holds, else the compose file.
  const add = (rule: string, severity: AuditFinding['severity'], key: string, message: string, fix: string) =>
    findings.push({
      rule,
      severity,
      file: key === DOCKERFILE ? join(dirname(where.composeFile), DOCKERFILE) : where.composeFile,
      service: 'app',
      key,
      message: `Inside ${where.container}: ${message}`,
      fix,
    });

  if (observations.uid === 0) add('live-root', 'high', 'user', 'the dev container runs as root.', 'Use user: node (the generator does).');
  if (observations.status.capEff && !/^0+$/.test(observations.status.capEff)) {
    add('live-capabilities', 'high', 'cap_add', `the process holds capabilities (CapEff ${observations.status.capEff}).`, 'Run as a non-root user and add no capabilities.');
  }
  if (observations.status.noNewPrivs === '0') {
    add('live-new-privileges', 'medium', 'security_opt', 'setuid programs can raise privileges (no-new-privileges is off).', 'Add security_opt: [no-new-privileges:true] (the generator does).');
  }
  for (const tool of observations.privilegeTools) {
    if (!tool.setuidRoot && !tool.works) continue;
    const how = tool.works ? 'and works without a password' : 'setuid root; today no-new-privileges may stop it, one line of compose would not';
    add('live-sudo', 'high', DOCKERFILE, `${tool.path} is installed (${how}).`, `Remove ${tool.name} from the image; install what the agent needs at build time.`);
  }

  const { credentials } = observations;
  if (credentials.sshAgent) {
    add('live-ssh-agent', 'high', 'environment.SSH_AUTH_SOCK', `an SSH agent is forwarded (SSH_AUTH_SOCK=${credentials.sshAgent.path}${credentials.sshAgent.exists ? '' : ', not present now'}): the agent can sign in as you.`, 'Do not forward the SSH agent (VS Code: set "remote.SSH.enableAgentForwarding": false, and unset SSH_AUTH_SOCK).');
  }
  for (const file of credentials.files) {
    const ssh = /\/\.ssh$/.test(file);
    add(ssh ? 'live-ssh-keys' : 'live-credentials', 'high', 'volumes', `${file} holds ${ssh ? 'SSH keys or config' : 'credentials'}.`, 'Remove the mount: the sandbox holds no credentials of yours.');
  }
  for (const helper of credentials.helpers) {
    add('live-credential-helper', 'high', 'git config', `git has a credential helper: ${helper}.`, 'Remove it (VS Code: set "dev.containers.gitCredentialHelperConfigLocation": "none").');
  }
  for (const name of credentials.env.filter((name) => name !== 'SSH_AUTH_SOCK')) {
    add('live-credential-env', 'high', `environment.${name}`, `${name} is set: a token or a way to ask for one.`, `Remove ${name} from the dev container's environment.`);
  }

  for (const entry of observations.writable.filter((entry) => entry.writable)) {
    add('live-writable', 'high', 'volumes', `${entry.path} is writable: what is planted there runs on the host later.`, 'Mount it read-only (up-worktree does, through docker-compose.worktree.yml).');
  }

  for (const endpoint of observations.endpoints) {
    const reached = (endpoint.calls ?? []).filter((call) => !refused(call.answer));
    if (reached.length > 0) {
      const sample = reached.slice(0, 4).map((call) => `${call.method} ${call.path} (${call.answer.status})`).join(', ');
      add('live-docker-api', 'high', 'environment.DOCKER_HOST', `through ${endpoint.name}, ${reached.length} of ${endpoint.calls!.length} forbidden calls reached an engine: ${sample}.`, 'Give the dev container Docker only through its proxy (DOCKER_HOST=tcp://docker-proxy:2375), and mount no socket.');
    }
    for (const env of endpoint.env ?? []) {
      add('live-env-readable', 'high', 'environment.DOCKER_HOST', `through ${endpoint.name}, inspect shows the env values of ${env.container} (${env.names.slice(0, 5).join(', ')}).`, "Use the devsec proxy, which redacts env values.");
    }
  }
  const dockerHost = observations.endpoints.find((endpoint) => endpoint.name.startsWith('DOCKER_HOST='));
  if (!dockerHost || !dockerHost.docker) {
    add('live-proxy-down', 'medium', 'environment.DOCKER_HOST', `${dockerHost ? `${dockerHost.name} does not answer (${dockerHost.ping.error ?? dockerHost.ping.status})` : 'DOCKER_HOST is not set'}: the agent cannot watch its siblings.`, 'Check the docker-proxy service (docker compose ps) and DOCKER_HOST=tcp://docker-proxy:2375.');
  }
  for (const socket of observations.sockets) {
    if (socket.docker) {
      add('live-docker-socket', 'high', 'volumes', `${socket.path} is a Docker socket that answers.`, 'Remove the socket mount: only the proxy sees the socket.');
    } else if (socket.error === 'EACCES' && /docker|podman/.test(socket.path)) {
      add('live-docker-socket', 'high', 'volumes', `${socket.path} is a Docker socket; this user cannot open it now, root or a group change would.`, 'Remove the socket mount: only the proxy sees the socket.');
    } else {
      add('live-unknown-socket', 'medium', 'volumes', `${socket.path} is a socket (not Docker): check what answers on it.`, 'Remove the mount if the agent does not need it.');
    }
  }
  for (const target of observations.network) {
    const { answer } = target;
    if (answer.status === 200 && (answer.apiVersion !== undefined || answer.body === 'OK')) {
      const proxy = /proxy/.test(target.label);
      add(proxy ? 'live-proxy-reachable' : 'live-engine-reachable', 'high', 'networks', `a Docker API answers at ${target.host}:${target.port}, ${target.label}.`, proxy ? 'Keep every proxy on its own stack\'s private network only (the generator does).' : 'Do not expose an engine on TCP; if you must, bind it to a unix socket or to 127.0.0.1 of the host.');
    } else if (answer.status === 400 && /HTTPS server/i.test(answer.body ?? '')) {
      add('live-engine-reachable', 'medium', 'networks', `a TLS endpoint answers at ${target.host}:${target.port}, ${target.label} (a Docker engine with TLS?).`, 'Make sure the engine asks for client certificates, or do not listen on that address.');
    }
  }
  return findings;
}

/** One line of what the probe looked at, so that "no findings" visibly means "looked, and held". */
export function liveSummary(observations: Observations, container: string): string {
  const calls = observations.endpoints.flatMap((endpoint) => endpoint.calls ?? []);
  const refusedCalls = calls.filter((call) => refused(call.answer)).length;
  const otherProxies = observations.network.filter((target) => /another sandbox's proxy/.test(target.label)).length;
  const silent = observations.network.filter((target) => target.answer.status === undefined).length;
  const present = observations.writable.filter((entry) => !entry.missing);
  const readOnly = present.filter((entry) => !entry.writable).length;
  return (
    `Live probe in ${container} as ${observations.user} (uid ${observations.uid}): ` +
    `${refusedCalls} of ${calls.length} forbidden Docker calls refused; ` +
    `${observations.sockets.length} socket file(s) found; ` +
    `${silent} of ${observations.network.length} addresses without any HTTP answer (${otherProxies} of them other sandboxes' proxies); ` +
    `${readOnly} of ${present.length} sandbox paths read-only.`
  );
}
