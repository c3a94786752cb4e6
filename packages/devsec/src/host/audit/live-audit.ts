/**
 * `nx run <project>:audit --live`, the host's side: finds the running dev container, gathers
 * what the probe cannot know (which addresses are other worktrees' proxies, which are gateways,
 * which paths must be read-only) and runs the live probe (live-probe/, its parts joined) inside
 * it as another uid than the agent's (PROBE_UID), so that its answer is not the agent's to write;
 * the answer is then checked as data (live-answer.ts).
 * What the observations mean is decided in rules/live-findings.ts.
 */
import { ENGINE_SOCKET_PATHS, HOST_GATEWAY_NAMES } from '../../sandbox/engines';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Observations, ProbeCall, ProbeInput, ProbeTarget } from '../../rules/live-findings';
import { SandboxError } from '../../sandbox/errors';
import { visible } from '../../sandbox/visible';
import {
  APP_SERVICE,
  COMPOSE_FILE,
  COMPOSE_PROJECT_LABEL,
  COMPOSE_SERVICE_LABEL,
  DEVCONTAINER_JSON,
  DOCKERFILE,
  EGRESS_SERVICE,
  ENGINE_PORTS,
  HOME_CREDENTIALS,
  MANAGED_LABEL,
  PROXY_PORT,
  PROXY_SERVICE,
  SHARED_COMPOSE_FILE,
} from '../../sandbox/vocabulary';
import { runCommand, Runner } from '../engine/run';
import type { GitLayout } from '../git/git-layout';
import { GIT_READ_ONLY_INSIDE, gitDirInside, PRIVATE_GIT_DIR_INSIDE, REPOSITORY_OBJECTS_INSIDE } from '../git/git-mounts';
import { egressProbeInput } from './live-egress-input';
import { parseHomeAnswer, parseProbeAnswer, PROBE_UID } from './live-answer';
import type { SandboxStack } from '../stack/sandbox-stack';
import { findOurDevcontainers } from '../git/worktree';
import { parse } from 'yaml';
import type { ComposeModel } from '../../sandbox/compose-model';
import { tenantServices } from '../stack/tenants';

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

/**
 * With --testContainers the proxy serves the agent's own containers, so calls on missing objects
 * would reach the engine (answered 404 by it): the probe tries instead what the write policy must
 * still refuse — hostile creates (privileged, a bind of `/`, the host network, a mount of `/`, the
 * host pid namespace) of an image that does not exist, and calls on a sibling (`sibling`, the
 * stack's own socket proxy, running): exec, start, remove, archive. Harmless if an engine did
 * answer: a create of a missing image makes nothing, an exec created is never started, a running
 * container neither starts again nor goes without force. The calls the policy refuses by path
 * (export, attach, image save, build) stay as they are.
 */
export function testContainersCalls(sibling: string): ProbeCall[] {
  const create = (HostConfig: object) => ({ method: 'POST', path: '/containers/create', body: JSON.stringify({ Image: NO_IMAGE, HostConfig }) });
  const byPath = FORBIDDEN_CALLS.filter((call) => /\/(export|attach\/ws)|^\/images\/get|^\/build|^\/volumes\/create/.test(call.path));
  return [
    create({ Privileged: true }),
    create({ Binds: ['/:/host'] }),
    create({ NetworkMode: 'host' }),
    create({ Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }),
    create({ PidMode: 'host' }),
    { method: 'POST', path: `/containers/${sibling}/exec`, body: JSON.stringify({ Cmd: ['true'] }) },
    { method: 'POST', path: `/containers/${sibling}/start` },
    { method: 'DELETE', path: `/containers/${sibling}` },
    { method: 'GET', path: `/containers/${sibling}/archive?path=/etc/hostname` },
    { method: 'PUT', path: `/containers/${sibling}/archive?path=/tmp`, body: '' },
    ...byPath,
  ];
}

interface Inspected {
  Id: string;
  Name: string;
  Config: { Labels?: Record<string, string>; Env?: string[] };
  NetworkSettings: { Networks?: Record<string, { IPAddress?: string; Gateway?: string; IPv6Gateway?: string }> };
}

function inspect(ids: string[], run: Runner): Inspected[] {
  if (ids.length === 0) return [];
  const result = run('docker', ['inspect', ...ids]);
  return result.status === 0 ? (JSON.parse(result.stdout) as Inspected[]) : [];
}

function runningIds(filters: string[], run: Runner): string[] {
  const result = run('docker', ['ps', '-q', '--no-trunc', ...filters.flatMap((filter) => ['--filter', filter])]);
  return result.status === 0
    ? result.stdout
        .split('\n')
        .map((line) => line.trim())
        .filter(Boolean)
    : [];
}

/**
 * What the probe needs from the host: the addresses where a Docker API must not answer (every
 * devsec proxy but this stack's own on its private network, every other container on the dev
 * container's networks, every gateway) and the paths that must be read-only.
 */
export function gatherProbeInput(stack: SandboxStack, run: Runner = runCommand): { container: Inspected; input: ProbeInput } {
  const project = stack.identity.composeProjectName;
  const [app] = inspect(runningIds([`label=${COMPOSE_PROJECT_LABEL}=${project}`, `label=${COMPOSE_SERVICE_LABEL}=${APP_SERVICE}`], run), run);
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
  const privateToStack = (network: string) => networks.get(network)?.Labels?.[COMPOSE_PROJECT_LABEL] === project;

  const targets: ProbeTarget[] = [];
  const proxies = inspect(runningIds([`label=${MANAGED_LABEL}=true`, `label=${COMPOSE_SERVICE_LABEL}=${PROXY_SERVICE}`], run), run);
  for (const proxy of proxies) {
    const own = proxy.Config.Labels?.[COMPOSE_PROJECT_LABEL] === project;
    for (const [network, settings] of Object.entries(proxy.NetworkSettings.Networks ?? {})) {
      if (!settings.IPAddress || (own && privateToStack(network))) continue;
      const whose = own ? "this stack's proxy" : `another sandbox's proxy (${proxy.Name.replace(/^\//, '')})`;
      targets.push({ host: settings.IPAddress, port: PROXY_PORT, label: `${whose} on network ${network}` });
    }
  }
  const proxyIds = new Set(proxies.map((proxy) => proxy.Id));
  // The write policy on (--testContainers, as the running proxy has it): the calls it must still refuse.
  const ownProxy = proxies.find((proxy) => proxy.Config.Labels?.[COMPOSE_PROJECT_LABEL] === project);
  const writePolicy = ownProxy?.Config.Env?.includes('WRITE_POLICY=1') === true;
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

  const { workspaceRoot } = stack.identity;
  const writable = [
    ...findOurDevcontainers(workspaceRoot).flatMap((dir) => [
      join(workspaceRoot, dir),
      ...[COMPOSE_FILE, DEVCONTAINER_JSON, DOCKERFILE].map((file) => join(workspaceRoot, dir, file)),
    ]),
    join(workspaceRoot, SHARED_COMPOSE_FILE),
    ...gitPathsSeenInside(stack.identity.git),
  ];
  return {
    container: app,
    input: {
      calls: writePolicy && ownProxy ? testContainersCalls(ownProxy.Id) : FORBIDDEN_CALLS,
      targets,
      writable,
      workspaceRoot,
      credentialPaths: [...HOME_CREDENTIALS],
      enginePorts: [...ENGINE_PORTS],
      socketPaths: [...ENGINE_SOCKET_PATHS],
      hostNames: [...HOST_GATEWAY_NAMES],
      hostMarkers: [],
      egress: egressProbeInput(app, ...egressListsOf(project, run)),
    },
  };
}

/** EGRESS_ALLOW and EGRESS_ALLOW_PRIVATE as this stack's running egress proxy has them (the host reads them; the proxy redacts env for the agent). */
function egressListsOf(project: string, run: Runner): [string | undefined, string | undefined] {
  const [proxy] = inspect(runningIds([`label=${COMPOSE_PROJECT_LABEL}=${project}`, `label=${COMPOSE_SERVICE_LABEL}=${EGRESS_SERVICE}`], run), run);
  const value = (name: string) => proxy?.Config.Env?.find((entry) => entry.startsWith(`${name}=`))?.slice(name.length + 1);
  return [value('EGRESS_ALLOW'), value('EGRESS_ALLOW_PRIVATE')];
}

/**
 * What of git the dev container sees and must not write (git-mounts.ts): in its own git dir the
 * host-written config, objects/info (alternates), refs/replace, hooks, info, modules; the
 * repository's object store; for a worktree whose `.git` is a gitfile, that gitfile and the
 * repository itself, mounted read-only at its host path, with its config and hooks.
 */
function gitPathsSeenInside(git: GitLayout): string[] {
  const inside = gitDirInside(git);
  const modules = existsSync(join(git.commonDir, 'modules')) ? ['modules'] : [];
  const present = [...GIT_READ_ONLY_INSIDE, ...modules].map((name) => join(inside, name)).concat(REPOSITORY_OBJECTS_INSIDE);
  if (inside !== PRIVATE_GIT_DIR_INSIDE) return present;
  return [join(git.workspaceRoot, '.git'), git.commonDir, join(git.commonDir, 'config'), join(git.commonDir, 'hooks'), ...present];
}

/**
 * Folders the sandbox must not share with the host (its node_modules and .nx are volumes of the
 * stack): the host puts a marker file in its own copy, and the probe says whether it sees it.
 */
export function placeHostMarkers(workspaceRoot: string): { markers: string[]; remove: () => void } {
  const name = `.devsec-audit-${randomBytes(6).toString('hex')}`;
  const markers = ['node_modules', '.nx']
    .map((folder) => join(workspaceRoot, folder, name))
    .filter((marker) => {
      try {
        writeFileSync(marker, '', { flag: 'wx' });
        return true;
      } catch {
        return false;
      }
    });
  return { markers, remove: () => markers.forEach((marker) => rmSync(marker, { force: true })) };
}

/** The live probe's parts (host/live-probe/), in the order they make one script. */
export const PROBE_PARTS = ['base.js', 'docker.js', 'inside.js', 'egress.js', 'main.js'] as const;

/** The live probe as the container's Node runs it: its parts, joined. */
export const probeScript = () => PROBE_PARTS.map((part) => readFileSync(join(__dirname, 'live-probe', part), 'utf-8')).join('\n');

/**
 * Runs the live probe inside the dev container as PROBE_UID:PROBE_UID, not as the agent: a
 * process of the agent's uid could open the probe's stdout through /proc/<pid>/fd/1 (or trace
 * it) and write the answer itself; another uid's it cannot, and a non-root exec holds no
 * effective capabilities. From / (the workspace is the agent's). Its answer is refused unless it
 * is exactly what the probe writes (live-answer.ts).
 */
export function runLiveProbe(container: string, input: ProbeInput, run: Runner = runCommand): Observations {
  const script = probeScript();
  const user = `${PROBE_UID}:${PROBE_UID}`;
  const result = run('docker', ['exec', '-i', '-u', user, '-w', '/', container, 'node', '-', JSON.stringify(input)], { input: script });
  if (result.status !== 0) {
    const reason = (result.stderr || result.stdout).trim().split('\n').slice(-3).join(' ');
    const hint = /executable file not found|no such file/i.test(reason) ? ' The live audit runs Node inside the dev container: keep a Node base image.' : '';
    throw new SandboxError(`The live probe could not run in ${container}: ${visible(reason)}.${hint}`);
  }
  const observations = parseProbeAnswer(result.stdout);
  return withHome(observations, container, input, run);
}

/**
 * The agent's home (credential files, git's helpers, a copied ~/.gitconfig), looked at from the
 * agent's own session: a home of mode 0700 (the Node images') hides them from the probe's uid. The
 * agent could write this answer, as it can hide its own files anyway: so it only ever adds
 * findings, and an answer that is not what the probe writes is itself a finding.
 */
function withHome(observations: Observations, container: string, input: ProbeInput, run: Runner): Observations {
  const result = run('docker', ['exec', '-i', '-u', String(observations.uid), '-w', '/', container, 'node', '-', JSON.stringify({ ...input, only: 'home' })], {
    input: probeScript(),
  });
  try {
    if (result.status !== 0) throw new SandboxError(`it ended with status ${result.status}`);
    const home = parseHomeAnswer(result.stdout);
    const union = (a: string[], b: string[]) => [...new Set([...a, ...b])];
    return {
      ...observations,
      credentials: {
        ...observations.credentials,
        files: union(observations.credentials.files, home.files),
        helpers: union(observations.credentials.helpers, home.helpers),
      },
      vscode: { ...observations.vscode, gitconfigHelpers: union(observations.vscode.gitconfigHelpers, home.gitconfigHelpers) },
    };
  } catch (error) {
    if (!(error instanceof SandboxError)) throw error;
    return { ...observations, homeRefused: error.message };
  }
}

/** psql and redis-cli as the dev container has them, its variable from its own environment; the answer is one word. */
const SHARED_LOGIN_CHECKS = {
  postgres: (variable: string) =>
    `command -v psql >/dev/null || { echo no-client; exit 0; }; psql "$${variable}" -X -tA -c "select case when rolsuper or rolcreaterole or rolcreatedb or rolreplication or rolbypassrls ` +
    `or pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') or pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') ` +
    `or pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') then 'admin' else 'tenant' end from pg_roles where rolname = current_user" 2>&1`,
  // The client takes no URL: node (the dev container's) reads it with its URL parser and runs mysql, the password in MYSQL_PWD.
  // Global privileges beyond USAGE, or a grant option anywhere, make an administrator (a tenant sees only its own rows).
  mysql: (variable: string) =>
    `command -v mysql >/dev/null && command -v node >/dev/null || { echo no-client; exit 0; }; node -e '` +
    `const u = new URL(process.env[process.argv[1]]); const r = require("child_process").spawnSync("mysql", ["-h", u.hostname, "-P", u.port || "3306", ` +
    `"-u", decodeURIComponent(u.username), "-N", "-B", "-e", "SELECT IF((SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE <> \\"USAGE\\") ` +
    `+ (SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES WHERE IS_GRANTABLE = \\"YES\\") > 0, \\"admin\\", \\"tenant\\")"], ` +
    `{ env: { ...process.env, MYSQL_PWD: decodeURIComponent(u.password) }, encoding: "utf-8" }); process.stdout.write(r.stdout || r.stderr || "")' ${variable} 2>&1`,
  // mongosh asks connectionStatus: any role but readWrite/dbAdmin on the URL's own database makes an administrator. Only a mongosh
  // of the image's PATH (Debian has no package for it): one in the workspace is the agent's to write, and could answer "tenant".
  mongodb: (variable: string) =>
    `command -v mongosh >/dev/null || { echo no-client; exit 0; }; ` +
    `mongosh "$${variable}" --quiet --norc --eval 'const own = db.getName(); const roles = db.runCommand({ connectionStatus: 1 }).authInfo.authenticatedUserRoles; ` +
    `print(roles.length > 0 && roles.every((r) => r.db === own && (r.role === "readWrite" || r.role === "dbAdmin")) ? "tenant" : "admin")' 2>&1 | tail -1`,
  redis: (variable: string) =>
    `command -v redis-cli >/dev/null || { echo no-client; exit 0; }; redis-cli -u "$${variable}" --no-auth-warning CONFIG GET dir 2>&1 | head -1`,
};

/**
 * What each wired shared service's connection variable logs in as, asked from inside the dev
 * container (as PROBE_UID, with the container's environment and its own clients): a Postgres
 * role with any administrator's attribute or server-file role, a MySQL user with a global
 * privilege or a grant option, a MongoDB user with any role but readWrite and dbAdmin on its own
 * database, or a Redis user that may run CONFIG, is an administrator.
 * The answers are data: only the exact words are read, anything else is "not checked".
 */
export function sharedLogins(stack: SandboxStack, container: string, run: Runner = runCommand): NonNullable<Observations['sharedLogins']> {
  const sharedFile = join(stack.identity.workspaceRoot, SHARED_COMPOSE_FILE);
  if (!existsSync(sharedFile)) return [];
  let model: ComposeModel | null;
  try {
    model = parse(readFileSync(sharedFile, 'utf-8')) as ComposeModel | null;
  } catch {
    return [];
  }
  const services = tenantServices(model, stack.project);
  const logins: NonNullable<Observations['sharedLogins']> = [];
  for (const service of services) {
    const script = SHARED_LOGIN_CHECKS[service.kind](service.variable);
    const result = run('docker', ['exec', '-u', `${PROBE_UID}:${PROBE_UID}`, '-w', '/', container, 'sh', '-c', script]);
    const answer = result.stdout.trim();
    if (service.kind === 'postgres' && (answer === 'admin' || answer === 'tenant')) {
      logins.push({
        service: service.service,
        variable: service.variable,
        admin: answer === 'admin',
        detail: 'its role has an administrator’s attribute or role',
      });
    } else if (service.kind === 'mysql' && (answer === 'admin' || answer === 'tenant')) {
      logins.push({
        service: service.service,
        variable: service.variable,
        admin: answer === 'admin',
        detail: 'its user has a global privilege (FILE, SUPER, PROCESS, …) or a grant option',
      });
    } else if (service.kind === 'mongodb' && (answer === 'admin' || answer === 'tenant')) {
      logins.push({
        service: service.service,
        variable: service.variable,
        admin: answer === 'admin',
        detail: 'its user has a role beyond readWrite and dbAdmin on its own database (root, userAdmin, a role on another database, …)',
      });
    } else if (service.kind === 'redis' && answer !== 'no-client' && answer !== '') {
      // CONFIG is an administrator's command: a tenant gets NOPERM (or NOAUTH without a user), an administrator the setting's name.
      const refused = /^(NOPERM|NOAUTH|WRONGPASS|ERR|Could not connect)/.test(answer) || /no permissions/i.test(answer);
      logins.push({ service: service.service, variable: service.variable, admin: !refused, detail: 'its user may run CONFIG' });
    }
  }
  return logins;
}
