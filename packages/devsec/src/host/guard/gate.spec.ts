import { profileOf, ROOTLESS_DOCKER } from '../../testing/engine-facts';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { RuleId } from '../../rules/registry';
import { effectiveShared, effectiveWorktree, WORKSPACE, worktreeContext } from '../../testing/effective-models';
import { SandboxError } from '../../sandbox/errors';
import { envFilesAsWritten, GATE_RULES, gateSeedMounts, HostFacts, hostFacts, policyGate, realPath, sharedGate } from './gate';
import { MODEL_GATE_RULES } from '../../rules/registry';
import type { SandboxStack } from '../stack/sandbox-stack';
import type { SharedStack } from '../stack/shared-stack';
import { stubRunner } from '../../testing/stub-runner';

/** The shared network as up-worktree creates it: bridge, internal, no gateway, ours, in use. */
const SHARED_NETWORK_HELD: [RegExp, { stdout: string }] = [/network inspect dev/, { stdout: 'bridge|true|true|true|2\n' }];

const facts: HostFacts = { homeDir: '/home/dev', dockerSocket: '/var/run/docker.sock', dockerGid: 998, realPath: (path) => path };

describe('policyGate', () => {
  const stack: SandboxStack = {
    identity: {
      workspaceRoot: '/w',
      gitCommonDir: '/w/.git',
      branch: 'main',
      gitName: undefined,
      gitEmail: undefined,
      composeProjectName: 'app-w-12345678',
      git: { workspaceRoot: '/w', kind: 'main', dotGitIsDirectory: true, gitDir: '/w/.git', commonDir: '/w/.git', branch: 'main' },
    },
    devcontainerDir: '/w/apps/app/.devcontainer',
    project: 'app',
    network: 'dev',
    compose: {
      name: 'app-w-12345678',
      files: ['/w/apps/app/.devcontainer/docker-compose.yml', '/w/apps/app/.devcontainer/docker-compose.worktree.yml'],
      cwd: '/w/apps/app/.devcontainer',
      prefix: '[app] ',
    },
  };
  const model = (app: object) =>
    JSON.stringify({
      services: {
        'docker-proxy': { networks: { sandbox: {} }, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] },
        app: { user: 'node', ...app },
      },
      networks: {
        sandbox: { name: 'x_sandbox', internal: true, driver_opts: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } },
        shared: { name: 'dev', external: true },
      },
    });

  it('reads the effective model and lets a clean stack through', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ networks: { sandbox: {}, shared: {} } }) }], SHARED_NETWORK_HELD]);
    expect(policyGate(stack, [], run, facts).allowed).toEqual([]);
    expect(run.calls[0]).toBe(
      'docker compose -p app-w-12345678 -f /w/apps/app/.devcontainer/docker-compose.yml -f /w/apps/app/.devcontainer/docker-compose.worktree.yml config --format json',
    );
    // The shared network, as the engine has it: the egress rule judges it.
    expect(run.calls.slice(1)).toEqual([expect.stringMatching(/^docker network inspect dev --format /)]);
  });

  it('refuses a weakened stack, naming the file, the service and the key', () => {
    const run = stubRunner([
      [
        /config --format json/,
        { stdout: model({ privileged: true, volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] }) },
      ],
      SHARED_NETWORK_HELD,
    ]);
    expect(() => policyGate(stack, [], run, facts)).toThrow(SandboxError);
    expect(() => policyGate(stack, [], run, facts)).toThrow(
      /docker-compose\.yml: services\.app\.volumes \(socket-mount\)[\s\S]*services\.app\.privileged \(privileged\)[\s\S]*--unsafe-allow=<rule>/,
    );
  });

  it('lets one rule through when allowed explicitly, and only that one', () => {
    const run = stubRunner([[/config --format json/, { stdout: model({ privileged: true }) }], SHARED_NETWORK_HELD]);
    expect(policyGate(stack, ['privileged'], run, facts).allowed.map((f) => f.rule)).toEqual(['privileged']);
    expect(() => policyGate(stack, ['socket-mount'], run, facts)).toThrow(/privileged/);
    expect(() => policyGate(stack, ['everything'], run, facts)).toThrow(/--unsafe-allow=everything: unknown rule/);
  });

  it('says what failed when compose config fails', () => {
    const run = stubRunner([
      [/config --format json/, { status: 15, stderr: 'services.app Additional property bogus is not allowed' }],
      [/version/, { stdout: '2.26.1' }],
    ]);
    expect(() => policyGate(stack, [], run, facts)).toThrow(/docker compose config failed for .*docker-compose\.yml:\nservices\.app Additional property bogus/);
  });
});

/** One weakening of the generated stack's effective model per gate rule, as Compose prints it. */
const WEAKEN: Partial<Record<RuleId, (m: any) => void>> = {
  'socket-mount': (m) => m.services.app.volumes.push({ type: 'bind', source: '/run/containerd/containerd.sock', target: '/c.sock' }),
  'system-path-mount': (m) => m.services.app.volumes.push({ type: 'bind', source: '/etc', target: '/host-etc', bind: { create_host_path: true } }),
  'host-path-mount': (m) => (m.volumes.node_modules = { name: 'n', driver: 'local', driver_opts: { type: 'none', o: 'bind', device: '/srv/cache' } }),
  'workspace-mount': (m) => (m.services.web.volumes = [{ type: 'bind', source: `${WORKSPACE}/apps/web/fixtures`, target: '/fixtures', read_only: true }]),
  'git-hooks-writable': (m) => delete m.services.app.volumes.find((v: { target: string }) => v.target === `${WORKSPACE}/.git/hooks`).read_only,
  'node-modules-shared': (m) => (m.services.app.volumes = m.services.app.volumes.filter((v: { source: string }) => v.source !== 'node_modules')),
  'build-outside-workspace': (m) => (m.services.app.build.additional_contexts = { keys: '/home/dev/src/other' }),
  'ssh-mount': (m) => (m.services.app.build.ssh = ['default']),
  'credential-mount': (m) => (m.configs = { c1: { name: 'x_c1', file: '/home/dev/.aws/credentials' } }),
  privileged: (m) => (m.services.web.privileged = true),
  'host-namespace': (m) => (m.services.app.pid = 'host'),
  'joined-namespace': (m) => (m.services.app.ipc = 'container:abc'),
  runtime: (m) => (m.services.app.runtime = 'runc'),
  'dangerous-capability': (m) => (m.services.app.cap_add = ['CHOWN']),
  unconfined: (m) => m.services.app.security_opt.push('seccomp=unconfined'),
  'host-device': (m) => (m.services.app.devices = [{ source: '/dev/sda', target: '/dev/sda', permissions: 'rwm' }]),
  'cgroup-parent': (m) => (m.services.app.cgroup_parent = '/foo'),
  'volumes-from': (m) => (m.services.web.volumes_from = ['container:abc']),
  sysctl: (m) => (m.services.app.sysctls['kernel.shmmax'] = '1'),
  'runs-as-root': (m) => (m.services.app.user = 'root'),
  'proxy-on-shared-network': (m) => (m.services['docker-proxy'].networks.shared = null),
  'proxy-write-policy': (m) => (m.services['docker-proxy'].environment = { ...m.services['docker-proxy'].environment, WRITE_POLICY: '1' }),
  'published-on-all-interfaces': (m) => (m.services.app.ports = [{ mode: 'ingress', target: 3000, published: '3000', protocol: 'tcp' }]),
  'egress-unfiltered': (m) => (m.services.app.networks.egress = null),
};

describe('the gate on the effective model of a generated worktree stack', () => {
  const stack = {
    identity: { workspaceRoot: WORKSPACE, gitCommonDir: `${WORKSPACE}/.git`, composeProjectName: 'app-shop-12345678' },
    devcontainerDir: `${WORKSPACE}/apps/app/.devcontainer`,
    project: 'app',
    compose: { name: 'app-shop-12345678', files: [`${WORKSPACE}/apps/app/.devcontainer/docker-compose.yml`], prefix: '' },
  } as SandboxStack;
  const answering = (model: unknown) => stubRunner([[/config --format json/, { stdout: JSON.stringify(model) }], SHARED_NETWORK_HELD]);
  // The stack's state directory, where its private git dir is.
  const withState: HostFacts = { ...facts, stateDir: worktreeContext().stateDir };

  it('lets it through', () => {
    expect(policyGate(stack, [], answering(effectiveWorktree()), withState).allowed).toEqual([]);
  });

  it("refuses a planted service that binds the repository's git dir, naming the service, the source and the fix, even with workspace-mount allowed", () => {
    const model = effectiveWorktree();
    // What the red team planted: `- ${DEVSEC_GIT_COMMON_DIR}:/repo`, as Compose resolves it.
    model.services.web.volumes = [{ type: 'bind', source: `${WORKSPACE}/.git`, target: '/repo', bind: { create_host_path: true } }];
    const run = answering(model);
    expect(() => policyGate(stack, [], run, withState)).toThrow(
      new RegExp(
        `services\\.web\\.volumes \\(workspace-mount\\): web mounts ${WORKSPACE}/\\.git: git's own files[^\\n]*Fix: Remove the mount from web[\\s\\S]*` +
          `services\\.web\\.volumes \\(git-hooks-writable\\): web mounts ${WORKSPACE}/\\.git writable: [^\\n]*core\\.fsmonitor[^\\n]*Fix: Mount it read-only`,
      ),
    );
    expect(() => policyGate(stack, ['workspace-mount'], run, withState)).toThrow(/\(git-hooks-writable\)/);
  });

  it('has a weakening for every gate rule judged on the model', () => {
    expect(Object.keys(WEAKEN).sort()).toEqual([...MODEL_GATE_RULES].sort());
  });

  it.each(MODEL_GATE_RULES.map((rule) => [rule]))('refuses %s, and lets it through with --unsafe-allow of that rule only', (rule) => {
    const model = effectiveWorktree();
    WEAKEN[rule]!(model);
    const run = answering(model);
    expect(() => policyGate(stack, [], run, withState)).toThrow(new RegExp(`^Refusing to start[\\s\\S]*docker-compose\\.yml: \\S+ \\(${rule}\\): `));
    expect(policyGate(stack, [rule], run, withState).allowed.map((f) => f.rule)).toEqual([rule]);
  });
});

describe("clone mode's seed mounts (in no compose model)", () => {
  const stack = (sources: string[]) =>
    ({
      compose: { files: ['/w/apps/app/.devcontainer/docker-compose.yml'] },
      workspace: 'clone',
      packageManager: { seedMounts: sources.map((source) => ({ source, target: '/devsec/.yarn-global/cache', readOnly: true })) },
    }) as unknown as SandboxStack;
  const facts: HostFacts = { homeDir: '/home/u', realPath: (path) => path };
  const said: string[] = [];
  const say = { info: () => undefined, warn: (line: string) => said.push(line), error: () => undefined };

  it('lets the package caches through', () => {
    expect(() => gateSeedMounts(stack(['/home/u/.yarn/berry/cache', '/home/u/.local/share/pnpm/store/v10']), [], say, facts)).not.toThrow();
  });

  it.each([
    ['/home/u/.aws/sso/cache', 'credential-mount'],
    ['/home/u/.ssh', 'ssh-mount'],
    ['/home/u', 'system-path-mount'],
    ['/etc/ssl/private', 'system-path-mount'],
    ['/var/run/docker.sock', 'socket-mount'],
  ])('refuses %s (%s), naming it, unless that rule is allowed by name', (source, rule) => {
    expect(() => gateSeedMounts(stack(['/home/u/.yarn/berry/cache', source]), [], say, facts)).toThrow(
      new RegExp(`${source.replace(/[./]/g, '\\$&')} \\(${rule}\\)`),
    );
    said.length = 0;
    gateSeedMounts(stack([source]), [rule], say, facts);
    expect(said.join('\n')).toContain(`UNSAFE: ${rule} allowed by --unsafe-allow`);
  });

  it('follows a symlink to where the engine would bind', () => {
    const root = mkdtempSync(join(tmpdir(), 'devsec-seed-gate-'));
    try {
      mkdirSync(join(root, 'home', '.aws', 'sso', 'cache'), { recursive: true });
      symlinkSync(join(root, 'home', '.aws', 'sso'), join(root, 'innocent'));
      expect(() => gateSeedMounts(stack([join(root, 'innocent', 'cache')]), [], say, { homeDir: join(root, 'home'), realPath })).toThrow(/credential-mount/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('sharedGate', () => {
  const stack: SharedStack = { compose: { name: 'shop-shared', files: [`${WORKSPACE}/docker-compose.shared.yml`], prefix: '[shared] ' }, network: 'dev' };
  const answering = (model: unknown) => stubRunner([[/config --format json/, { stdout: JSON.stringify(model) }], SHARED_NETWORK_HELD]);

  it('lets the generated shared services through', () => {
    expect(sharedGate(stack, WORKSPACE, [], answering(effectiveShared()), facts).allowed).toEqual([]);
  });

  it('refuses a host bind, a port on every interface, and the Docker socket (no proxy exception there)', () => {
    const model = effectiveShared();
    model.services.postgres.volumes.push({ type: 'bind', source: '/etc', target: '/etc2' });
    delete model.services.postgres.ports[0].host_ip;
    model.services['docker-proxy'] = { image: 'x:1', volumes: [{ type: 'bind', source: '/var/run/docker.sock', target: '/var/run/docker.sock' }] };
    const message = (() => {
      try {
        sharedGate(stack, WORKSPACE, [], answering(model), facts);
      } catch (error) {
        return (error as Error).message;
      }
      return '';
    })();
    expect(message).toMatch(/docker-compose\.shared\.yml: services\.postgres\.volumes \(system-path-mount\): postgres mounts \/etc/);
    expect(message).toMatch(/services\.postgres\.ports \(published-on-all-interfaces\)/);
    expect(message).toMatch(/services\.docker-proxy\.volumes \(socket-mount\)/);
  });
});

describe('env files, which the effective model folds into environment', () => {
  let dir: string;
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };
  beforeEach(() => {
    dir = realPath(mkdtempSync(join(tmpdir(), 'devsec-envfiles-')));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('are read from the files as written, resolved as Compose resolves them', () => {
    write(
      'dc/docker-compose.yml',
      'include:\n  - ../inc/inc.yml\nservices:\n  app:\n    image: x:1\n    env_file: ${SECRETS:-a.env}\n  e:\n    extends: { file: ../base/base.yml, service: base }\n',
    );
    write('dc/over.yml', 'services:\n  app:\n    env_file:\n      - path: b.env\n        required: false\n');
    write('dc/.env', 'SECRETS="~/secrets.env"\n');
    write('base/base.yml', 'services:\n  base:\n    image: x:1\n    env_file: [c.env]\n');
    write('inc/inc.yml', 'services:\n  i:\n    image: x:1\n    env_file: d.env\n');
    const compose = { name: 'p', files: [join(dir, 'dc/docker-compose.yml'), join(dir, 'dc/over.yml')], prefix: '', env: { HOME: '/home/dev' } };
    expect(envFilesAsWritten(compose)).toEqual({
      app: ['/home/dev/secrets.env', join(dir, 'dc/b.env')],
      e: [join(dir, 'base/c.env')],
      i: [join(dir, 'inc/d.env')],
    });
    // The shell's environment wins over .env, as in Compose.
    expect(envFilesAsWritten({ ...compose, env: { SECRETS: '/home/dev/.env' } }).app).toEqual(['/home/dev/.env', join(dir, 'dc/b.env')]);
  });

  it('outside the workspace are refused, named by service and key', () => {
    write('ws/apps/app/.devcontainer/docker-compose.yml', 'services:\n  app:\n    env_file: ${HOME}/.env\n');
    const stack = {
      identity: { workspaceRoot: join(dir, 'ws'), gitCommonDir: join(dir, 'ws/.git'), composeProjectName: 'app-ws-1' },
      devcontainerDir: join(dir, 'ws/apps/app/.devcontainer'),
      project: 'app',
      compose: { name: 'app-ws-1', files: [join(dir, 'ws/apps/app/.devcontainer/docker-compose.yml')], prefix: '', env: { HOME: '/home/dev' } },
    } as unknown as SandboxStack;
    const run = stubRunner([
      [/config --format json/, { stdout: JSON.stringify({ services: { app: { user: 'node', environment: { TOKEN: 'from the env file' } } } }) }],
    ]);
    expect(() => policyGate(stack, [], run, facts)).toThrow(
      /docker-compose\.yml: services\.app\.env_file \(host-path-mount\): app reads env_file \(Compose reads it on the host\) \/home\/dev\/\.env: outside the workspace/,
    );
  });
});

describe('host facts', () => {
  it("take the engine's socket and group from what the engine showed its containers, never from this filesystem", () => {
    const engine = profileOf(ROOTLESS_DOCKER);
    expect(hostFacts({ DOCKER_HOST: 'unix:///var/run/docker.sock', HOME: '/home/dev' }, engine)).toMatchObject({
      dockerSocket: '/run/user/1990/docker.sock',
      dockerGid: 105,
      homeDir: '/home/dev',
    });
    // Without an engine (the shared stack), nothing is guessed from the host.
    expect(hostFacts({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock', HOME: '/home/dev' })).toMatchObject({ dockerSocket: undefined, dockerGid: undefined });
  });

  it('resolve symlinks as far as the path exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'devsec-gate-'));
    try {
      mkdirSync(join(dir, 'real'));
      symlinkSync(join(dir, 'real'), join(dir, 'link'));
      expect(realPath(join(dir, 'link', 'not-yet', 'x'))).toBe(join(realPath(dir), 'real', 'not-yet', 'x'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--unsafe-allow', () => {
  it("offers exactly the gate's rules in the executor schema", () => {
    const schema = require('../../executors/up-worktree/schema.json');
    expect(schema.properties.unsafeAllow.items.enum).toEqual([...GATE_RULES]);
  });
});
