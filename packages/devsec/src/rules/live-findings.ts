/**
 * What `audit --live` saw from inside a running dev container, and what it means: the probe
 * (host/live-probe/) observes, these pure functions decide. Every finding points at the file
 * where its fix goes: the Dockerfile for what the image holds, else the stack's compose file.
 */
import { dirname, join } from 'node:path';
import { APP_SERVICE, DOCKERFILE, PROXY_PORT, PROXY_SERVICE } from '../sandbox/vocabulary';
import { EgressObservations, EgressProbeInput, egressLiveFindings, egressSummary } from './live-egress';
import { finding, Finding, RuleId } from './registry';
import type { ProbeTarget } from './probe-target';
import { visible } from '../sandbox/visible';

export interface ProbeCall {
  method: string;
  path: string;
  body?: string;
  upgrade?: boolean;
}

export type { ProbeTarget } from './probe-target';

/** What the host hands the probe. */
export interface ProbeInput {
  calls: ProbeCall[];
  targets: ProbeTarget[];
  writable: string[];
  workspaceRoot: string;
  /** Paths under the home directory that hold credentials. */
  credentialPaths: string[];
  /** Ports where an engine would listen on a host name (hostNames). */
  enginePorts: number[];
  /** Where engines keep their sockets (sandbox/engines.ts; `~` and `$XDG_RUNTIME_DIR` resolved inside). */
  socketPaths: string[];
  /** The names engines give the host inside containers. */
  hostNames: string[];
  /** Files the host placed in its own node_modules and .nx: the probe must not see them. */
  hostMarkers: string[];
  /** The ways out to try (absent with --egress=open). */
  egress?: EgressProbeInput;
}

export interface Answer {
  status?: number;
  apiVersion?: string;
  body?: string;
  error?: string;
}

/**
 * What the live probe (host/live-probe/) prints, checked against host/live-answer.ts's shape
 * before anything reads it. The probe runs as another uid than the agent's: `uid`, `gid`, `user`
 * and `status` are the agent's (the container's first process, as the kernel reports it),
 * `probeUid` the probe's own.
 */
export interface Observations {
  uid: number;
  gid?: number;
  user: string;
  probeUid: number;
  status: { capEff?: string; noNewPrivs?: string };
  privilegeTools: Array<{ name: string; path: string; setuidRoot: boolean }>;
  credentials: { files: string[]; helpers: string[]; env: string[]; sshAgent?: { path: string; exists: boolean } };
  writable: Array<{ path: string; writable: boolean; missing?: boolean; error?: string }>;
  endpoints: Array<{
    name: string;
    docker: boolean;
    ping: Answer;
    calls?: Array<{ method: string; path: string; answer: Answer }>;
    env?: Array<{ container: string; names: string[] }>;
  }>;
  /** Each socket file found; `agentCanOpen` from its owner, group and mode (the probe itself may not be able to). */
  sockets: Array<{ path: string; docker: boolean; agentCanOpen: boolean; error?: string }>;
  network: Array<ProbeTarget & { answer: Answer }>;
  /** The host's marker files the probe could see. */
  hostMarkersSeen: string[];
  /** VS Code's forwarded channels: its server among the processes, and a copied ~/.gitconfig's helpers. */
  vscode: { processes: Array<{ pid: number; command: string }>; gitconfigHelpers: string[] };
  /** Folders the agent may read that the probe's uid could not look into: what is there went unseen. */
  unsearched: string[];
  /** Set by the host when the look at the agent's home, from the agent's own session, answered what the probe does not write. */
  homeRefused?: string;
  /**
   * Set by the host (live-audit.ts, sharedLogins): what each shared service's connection variable
   * logs in as, asked from inside with the dev container's own client. `admin` when it is an
   * administrator, false when it is a tenant.
   */
  sharedLogins?: Array<{ service: string; variable: string; admin: boolean; detail: string }>;
  /** The ways out it tried (absent with --egress=open). */
  egress?: EgressObservations;
}

/** The sockets VS Code's Dev Containers extension puts in /tmp: SSH agent, git askpass, IPC. */
const VSCODE_SOCKET = /vscode|remote-containers/i;

/** A refusal is a 403/405 (ours, or any proxy's) or no answer at all; anything else came from an engine. */
export const refused = (answer: Answer) => answer.error !== undefined || answer.status === 403 || answer.status === 405;

const DOCKER_HOST = `tcp://${PROXY_SERVICE}:${PROXY_PORT}`;

/** What the observations mean: each a finding in the static audit's format, pointing at the stack's compose file. */
export function liveFindings(observations: Observations, where: { composeFile: string; container: string }): Finding[] {
  const findings: Finding[] = [];
  const add = (rule: RuleId, key: string, message: string, fix?: string) =>
    findings.push(
      finding(rule, {
        file: key === DOCKERFILE ? join(dirname(where.composeFile), DOCKERFILE) : where.composeFile,
        service: APP_SERVICE,
        key,
        message: `Inside ${where.container}: ${message}`,
        fix,
      }),
    );

  if (observations.uid === 0) add('live-root', 'user', 'the dev container runs as root.');
  if (observations.status.capEff && !/^0+$/.test(observations.status.capEff)) {
    add('live-capabilities', 'cap_add', `the process holds capabilities (CapEff ${observations.status.capEff}).`);
  }
  if (observations.status.noNewPrivs === '0') add('live-new-privileges', 'security_opt', 'setuid programs can raise privileges (no-new-privileges is off).');
  for (const tool of observations.privilegeTools) {
    if (!tool.setuidRoot) continue;
    const how =
      observations.status.noNewPrivs === '1'
        ? 'setuid root; today no-new-privileges may stop it, one line of compose would not'
        : 'setuid root, and no-new-privileges is off: it raises privileges as far as its rules allow';
    add('live-sudo', DOCKERFILE, `${tool.path} is installed (${how}).`, `Remove ${tool.name} from the image; install what the agent needs at build time.`);
  }

  const { credentials } = observations;
  if (credentials.sshAgent) {
    add(
      'live-ssh-agent',
      'environment.SSH_AUTH_SOCK',
      `an SSH agent is forwarded (SSH_AUTH_SOCK=${credentials.sshAgent.path}${credentials.sshAgent.exists ? '' : ', not present now'}): the agent can sign in as you.`,
      'Do not forward the SSH agent (VS Code: set "remote.SSH.enableAgentForwarding": false, and unset SSH_AUTH_SOCK).',
    );
  }
  for (const file of credentials.files) {
    const ssh = /\/\.ssh$/.test(file);
    add(ssh ? 'live-ssh-keys' : 'live-credentials', 'volumes', `${file} holds ${ssh ? 'SSH keys or config' : 'credentials'}.`);
  }
  for (const helper of credentials.helpers) {
    add(
      'live-credential-helper',
      'git config',
      `git has a credential helper: ${helper}.`,
      'Remove it (VS Code: set "dev.containers.gitCredentialHelperConfigLocation": "none").',
    );
  }
  for (const name of credentials.env.filter((name) => name !== 'SSH_AUTH_SOCK')) {
    add(
      'live-credential-env',
      `environment.${name}`,
      `${name} is set: a token or a way to ask for one.`,
      `Remove ${name} from the dev container's environment.`,
    );
  }

  for (const login of observations.sharedLogins ?? []) {
    if (login.admin) add('live-shared-admin', 'environment', `${login.variable} (${login.service}) logs in as an administrator: ${login.detail}.`);
  }
  if (observations.homeRefused) {
    add('live-credentials', 'volumes', `the agent's home could not be looked at: its session's answer was refused (${observations.homeRefused}).`);
  }
  for (const entry of observations.writable.filter((entry) => entry.writable)) {
    add(
      'live-writable',
      'volumes',
      `${entry.path} is writable: what is planted there runs on the host later.`,
      'Mount it read-only (up-worktree does, through docker-compose.worktree.yml).',
    );
  }

  for (const { pid, command } of observations.vscode.processes) {
    add(
      'live-vscode-channel',
      'environment',
      `process ${pid} is VS Code's server (${command}): its terminals and extensions carry SSH_AUTH_SOCK, git's askpass and IPC handles, ways from inside to VS Code on the host.`,
    );
  }
  for (const helper of observations.vscode.gitconfigHelpers) {
    add('live-vscode-channel', 'git config', `~/.gitconfig (copied in by VS Code) sets a credential helper: ${helper}.`);
  }
  for (const marker of observations.hostMarkersSeen) {
    add('live-host-folder', 'volumes', `${dirname(marker)} is the host's own folder: what the agent installs or caches there, the host later runs or replays.`);
  }

  for (const endpoint of observations.endpoints) {
    const reached = (endpoint.calls ?? []).filter((call) => !refused(call.answer));
    if (reached.length > 0) {
      const sample = reached
        .slice(0, 4)
        .map((call) => `${call.method} ${call.path} (${call.answer.status})`)
        .join(', ');
      add(
        'live-docker-api',
        'environment.DOCKER_HOST',
        `through ${endpoint.name}, ${reached.length} of ${endpoint.calls!.length} forbidden calls reached an engine: ${sample}.`,
        `Give the dev container Docker only through its proxy (DOCKER_HOST=${DOCKER_HOST}), and mount no socket.`,
      );
    }
    for (const env of endpoint.env ?? []) {
      add(
        'live-env-readable',
        'environment.DOCKER_HOST',
        `through ${endpoint.name}, inspect shows the env values of ${env.container} (${env.names.slice(0, 5).join(', ')}).`,
      );
    }
  }
  const dockerHost = observations.endpoints.find((endpoint) => endpoint.name.startsWith('DOCKER_HOST='));
  if (!dockerHost || !dockerHost.docker) {
    add(
      'live-proxy-down',
      'environment.DOCKER_HOST',
      `${dockerHost ? `${dockerHost.name} does not answer (${dockerHost.ping.error ?? dockerHost.ping.status})` : 'DOCKER_HOST is not set'}: the agent cannot watch its siblings.`,
      `Check the ${PROXY_SERVICE} service (docker compose ps) and DOCKER_HOST=${DOCKER_HOST}.`,
    );
  }
  for (const socket of observations.sockets) {
    if (socket.docker) {
      add('live-docker-socket', 'volumes', `${socket.path} is a Docker socket that answers.`);
    } else if (socket.agentCanOpen && /docker|podman/.test(socket.path)) {
      // The probe runs as another uid: a socket only the agent's uid or groups may open, it could not ask.
      add(
        'live-docker-socket',
        'volumes',
        `${socket.path} is a Docker socket the agent can open (by its uid or groups; the probe, another uid, could not ask it).`,
      );
    } else if (socket.error === 'EACCES' && /docker|podman/.test(socket.path)) {
      add('live-docker-socket', 'volumes', `${socket.path} is a Docker socket; the agent cannot open it now, root or a group change would.`);
    } else if (VSCODE_SOCKET.test(socket.path)) {
      add('live-vscode-channel', 'volumes', `${socket.path} is a socket of VS Code's that reaches the host (SSH agent, git askpass or IPC).`);
    } else {
      add('live-unknown-socket', 'volumes', `${socket.path} is a socket (not Docker): check what answers on it.`);
    }
  }
  for (const target of observations.network) {
    const { answer } = target;
    if (answer.status === 200 && (answer.apiVersion !== undefined || answer.body === 'OK')) {
      const proxy = /proxy/.test(target.label);
      add(
        proxy ? 'live-proxy-reachable' : 'live-engine-reachable',
        'networks',
        `a Docker API answers at ${target.host}:${target.port}, ${target.label}.`,
        proxy
          ? "Keep every proxy on its own stack's private network only (the generator does)."
          : 'Do not expose an engine on TCP; if you must, bind it to a unix socket or to 127.0.0.1 of the host.',
      );
    } else if (answer.status === 400 && /HTTPS server/i.test(answer.body ?? '')) {
      add('live-tls-endpoint', 'networks', `a TLS endpoint answers at ${target.host}:${target.port}, ${target.label} (a Docker engine with TLS?).`);
    }
  }
  if (observations.egress) egressLiveFindings(observations.egress, add);
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
  const unsearched = observations.unsearched.length > 0 ? `; ${observations.unsearched.length} folder(s) of the agent's the probe could not look into` : '';
  // The user's name and the container's came from inside: shown, never sent to the terminal.
  return visible(
    `Live probe in ${container} (as uid ${observations.probeUid}) for ${observations.user} (uid ${observations.uid}): ` +
      `${refusedCalls} of ${calls.length} forbidden Docker calls refused; ` +
      `${observations.sockets.length} socket file(s) found; ` +
      `${silent} of ${observations.network.length} addresses without any HTTP answer (${otherProxies} of them other sandboxes' proxies); ` +
      `${readOnly} of ${present.length} sandbox paths read-only; ${egressSummary(observations.egress)}${unsearched}.`,
  );
}
