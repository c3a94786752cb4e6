import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { FORBIDDEN_CALLS, gatherProbeInput, PROBE_PARTS, probeScript, runLiveProbe, testContainersCalls } from './live-audit';
import type { ProbeInput } from '../../rules/live-findings';
import type { Runner } from '../engine/run';
import type { SandboxStack } from '../stack/sandbox-stack';
import { NOTHING_OBSERVED } from '../../testing/observations';

describe('gatherProbeInput', () => {
  const stack: SandboxStack = {
    identity: {
      workspaceRoot: '/nonexistent-ws',
      gitCommonDir: '/nonexistent-ws/.git',
      branch: 'main',
      gitName: undefined,
      gitEmail: undefined,
      composeProjectName: 'app-ws-1',
      git: {
        workspaceRoot: '/nonexistent-ws',
        kind: 'main',
        dotGitIsDirectory: true,
        gitDir: '/nonexistent-ws/.git',
        commonDir: '/nonexistent-ws/.git',
        branch: 'main',
      },
    },
    devcontainerDir: '/nonexistent-ws/apps/app/.devcontainer',
    project: 'app',
    network: 'dev',
    compose: { name: 'app-ws-1', files: [], prefix: '[app] ' },
  };
  const container = (id: string, name: string, project: string, networks: Record<string, { IPAddress?: string; Gateway?: string }>) => ({
    Id: id,
    Name: `/${name}`,
    Config: { Labels: { 'com.docker.compose.project': project } },
    NetworkSettings: { Networks: networks },
  });
  const app = container('app', 'app-ws-1-app-1', 'app-ws-1', {
    'app-ws-1_sandbox': { IPAddress: '172.30.0.3', Gateway: '172.30.0.1' },
    dev: { IPAddress: '172.18.0.5', Gateway: '172.18.0.1' },
  });
  const ownProxy = container('p1', 'app-ws-1-docker-proxy-1', 'app-ws-1', {
    'app-ws-1_sandbox': { IPAddress: '172.30.0.2' },
    dev: { IPAddress: '172.18.0.9' },
  });
  const otherProxy = container('p2', 'app-ws-2-docker-proxy-1', 'app-ws-2', { 'app-ws-2_sandbox': { IPAddress: '172.31.0.2' } });
  const stub =
    (running: boolean): Runner =>
    (command, args) => {
      const ok = (stdout: string) => ({ status: 0, stdout, stderr: '' });
      if (args[0] === 'ps') return ok(!running ? '' : args.includes('label=com.docker.compose.service=app') ? 'app\n' : 'p1\np2\n');
      if (args[0] === 'inspect') return ok(JSON.stringify(args.slice(1).map((id) => ({ app, p1: ownProxy, p2: otherProxy })[id])));
      if (args[0] === 'network') {
        const networks: Record<string, object> = {
          'app-ws-1_sandbox': { Name: 'app-ws-1_sandbox', Labels: { 'com.docker.compose.project': 'app-ws-1' }, Containers: {} },
          dev: {
            Name: 'dev',
            Labels: { 'org.devsec.managed': 'true' },
            Containers: {
              app: { Name: 'app-ws-1-app-1', IPv4Address: '172.18.0.5/16' },
              p1: { Name: 'p', IPv4Address: '172.18.0.9/16' },
              pg: { Name: 'ws-shared-postgres-1', IPv4Address: '172.18.0.2/16' },
            },
          },
        };
        return ok(JSON.stringify(args.slice(2).map((name) => networks[name])));
      }
      throw new Error(`unexpected ${command} ${args.join(' ')}`);
    };

  it("targets every proxy address but the stack's own private one, the other containers of its networks and the gateways", () => {
    const { container: found, input } = gatherProbeInput(stack, stub(true));
    expect(found.Name).toBe('/app-ws-1-app-1');
    expect(input.targets.map((target) => `${target.host}:${target.port} ${target.label}`)).toEqual([
      "172.18.0.9:2375 this stack's proxy on network dev",
      "172.31.0.2:2375 another sandbox's proxy (app-ws-2-docker-proxy-1) on network app-ws-2_sandbox",
      '172.18.0.2:2375 ws-shared-postgres-1 on network dev',
      '172.18.0.2:2376 ws-shared-postgres-1 on network dev',
      '172.30.0.1:2375 the gateway of network app-ws-1_sandbox',
      '172.30.0.1:2376 the gateway of network app-ws-1_sandbox',
      '172.18.0.1:2375 the gateway of network dev',
      '172.18.0.1:2376 the gateway of network dev',
    ]);
    expect(input.calls).toBe(FORBIDDEN_CALLS);
    // A main worktree's .git inside is the sandbox's own git dir: its config, alternates, refs/replace, hooks and info read-only, and the repository's objects.
    expect(input.writable).toEqual([
      '/nonexistent-ws/docker-compose.shared.yml',
      ...['config', 'objects/info', 'refs/replace', 'hooks', 'info'].map((name) => `/nonexistent-ws/.git/${name}`),
      '/devsec/repository-objects',
    ]);
  });

  it("with the write policy on (--testContainers), tries hostile creates and calls on a sibling (the stack's proxy) instead", () => {
    const writing = { ...ownProxy, Config: { ...ownProxy.Config, Env: ['WRITE_POLICY=1'] } };
    const run: Runner = (command, args) =>
      args[0] === 'inspect' && args.includes('p1') ? { status: 0, stdout: JSON.stringify([writing, otherProxy]), stderr: '' } : stub(true)(command, args);
    const { input } = gatherProbeInput(stack, run);
    expect(input.calls).toEqual(testContainersCalls('p1'));
    const bodies = input.calls.map((call) => call.body ?? '');
    for (const hostile of ['"Privileged":true', '"Binds":["/:/host"]', '"NetworkMode":"host"', '"Source":"/"', '"PidMode":"host"']) {
      expect([hostile, bodies.some((body) => body.includes(hostile))]).toEqual([hostile, true]);
    }
    expect(input.calls.filter((call) => call.path.startsWith('/containers/p1/')).map((call) => `${call.method} ${call.path}`)).toEqual([
      'POST /containers/p1/exec',
      'POST /containers/p1/start',
      'GET /containers/p1/archive?path=/etc/hostname',
      'PUT /containers/p1/archive?path=/tmp',
    ]);
  });

  it('refuses when the stack is not running, and says how to start it', () => {
    expect(() => gatherProbeInput(stack, stub(false))).toThrow(/not running \(compose project app-ws-1\)\. Start it with nx run app:up-worktree/);
  });
});

describe('FORBIDDEN_CALLS', () => {
  it('only name objects that do not exist, or carry bodies an engine rejects, so a leak changes nothing', () => {
    for (const call of FORBIDDEN_CALLS) {
      const harmless = /devsec-audit-no-such|not a valid name/.test(`${call.path} ${call.body ?? ''}`);
      expect([call.method, call.path, harmless]).toEqual([call.method, call.path, true]);
    }
  });
});

describe('testContainersCalls', () => {
  it('creates only an image that does not exist, and touches the sibling only in ways a running container shrugs off', () => {
    for (const call of testContainersCalls('sib')) {
      const harmless =
        (call.path === '/containers/create' && JSON.parse(call.body!).Image === 'devsec-audit-no-such-image:0') ||
        /devsec-audit-no-such|not a valid name/.test(`${call.path} ${call.body ?? ''}`) ||
        [
          'POST /containers/sib/exec',
          'POST /containers/sib/start',
          'DELETE /containers/sib',
          'GET /containers/sib/archive?path=/etc/hostname',
          'PUT /containers/sib/archive?path=/tmp',
        ].includes(`${call.method} ${call.path}`);
      expect([call.method, call.path, harmless]).toEqual([call.method, call.path, true]);
    }
  });
});

describe('the live probe', () => {
  it('is every part of live-probe/, joined into one script that parses', () => {
    expect(readdirSync(join(__dirname, 'live-probe')).sort()).toEqual([...PROBE_PARTS].sort());
    expect(() => new Script(probeScript(), { filename: 'live-probe' })).not.toThrow();
    // One strict script: the first part opens it, the last one runs it.
    expect(probeScript()).toMatch(/^\/\/ @ts-check\n'use strict';/);
    expect(probeScript().trimEnd()).toMatch(/^main\(\)\.catch\([\s\S]*\}\);$/m);
  });
});

describe('runLiveProbe', () => {
  const input = {
    calls: [],
    targets: [],
    writable: [],
    workspaceRoot: '/ws',
    credentialPaths: [],
    enginePorts: [],
    socketPaths: [],
    hostNames: [],
    hostMarkers: [],
  } as ProbeInput;
  const runs: string[][] = [];
  const stub =
    (home: string): Runner =>
    (_command, args) => {
      runs.push(args.slice(0, 6));
      return { status: 0, stdout: args.includes('65534:65534') ? `${JSON.stringify(NOTHING_OBSERVED)}\n` : home, stderr: '' };
    };

  it("runs the probe as 65534 from /, then the home part as the agent's uid, whose answer only adds", () => {
    runs.length = 0;
    const seen = runLiveProbe('app-1', input, stub(`${JSON.stringify({ files: ['/home/node/.aws'], helpers: [], gitconfigHelpers: ['helper = x'] })}\n`));
    expect(runs).toEqual([
      ['exec', '-i', '-u', '65534:65534', '-w', '/'],
      ['exec', '-i', '-u', '1000', '-w', '/'],
    ]);
    expect([seen.credentials.files, seen.vscode.gitconfigHelpers, seen.homeRefused]).toEqual([['/home/node/.aws'], ['helper = x'], undefined]);
  });

  it('refuses a home answer the agent wrote to, as a finding of its own', () => {
    const home = `${JSON.stringify({ files: [], helpers: [], gitconfigHelpers: [] })}\n`;
    const seen = runLiveProbe('app-1', input, stub(home + home));
    expect(seen.homeRefused).toMatch(/not what the probe writes: it is 2 lines/);
    expect(seen.credentials.files).toEqual([]);
  });
});
