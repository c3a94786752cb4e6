import { ENGINE_SOCKET_PATHS } from '../sandbox/engines';
import { RULES } from './registry';
import { checkStack, StackContext } from './stack-rules';
import { effectiveShared, effectiveWorktree, sharedContext, WORKSPACE, worktreeContext } from '../testing/effective-models';

type Model = any;
const bind = (source: string, target = '/mnt/x') => ({ type: 'bind', source, target, bind: { create_host_path: true } });
const mount = (service: string, source: string) => (m: Model) => (m.services[service].volumes ??= []).push(bind(source));
const set = (service: string, key: string, value: unknown) => (m: Model) => (m.services[service][key] = value);
const build = (service: string, key: string, value: unknown) => (m: Model) => ((m.services[service].build ??= {})[key] = value);

/** Exactly one finding, of this rule at this key, in the stack's file; a message that names the service and a fix. */
function expectOnly(findings: ReturnType<typeof checkStack>, rule: string, key: string, context: StackContext) {
  expect(findings.map((f) => [f.rule, f.key])).toEqual([[rule, key]]);
  const [found] = findings;
  expect(found.file).toBe(context.composeFile);
  expect(found.severity).toBe(RULES[found.rule].severity);
  expect(found.fix.length).toBeGreaterThan(5);
  if (found.service) expect(found.message).toContain(found.service);
}

describe('checkStack on the effective model of a generated worktree stack', () => {
  it('passes it: workspace, git dir and .devcontainer binds, the socket on the proxy only, our sysctl, the forwarder in app’s network', () => {
    expect(checkStack(effectiveWorktree(), worktreeContext())).toEqual([]);
  });

  it("lets through the package manager's release and store that @org/devsec mounts read-only (those exact paths), and nothing beside them", () => {
    const store = '/home/dev/.local/share/pnpm/store/v10';
    const model = effectiveWorktree();
    mount('app', store)(model);
    expect(checkStack(model, { ...worktreeContext(), readOnlySources: [store] })).toEqual([]);
    expect(checkStack(model, worktreeContext()).map((f) => f.rule)).toEqual(['host-path-mount']);
    mount('app', '/home/dev/.local/share/pnpm')(model);
    expect(checkStack(model, { ...worktreeContext(), readOnlySources: [store] }).map((f) => f.rule)).toEqual(['host-path-mount']);
    // Named read-only by us is no pass for credentials: those rules come first.
    const keys = effectiveWorktree();
    mount('app', '/home/dev/.aws')(keys);
    expect(checkStack(keys, { ...worktreeContext(), readOnlySources: ['/home/dev/.aws'] }).map((f) => f.rule)).toEqual(['credential-mount']);
  });

  it.each<[string, (m: Model) => void, string]>([
    // Binds: every way out named by its path.
    ['system-path-mount', mount('app', '/etc'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/var'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/proc/1/root'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/sys'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/dev'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/usr'), 'services.app.volumes'],
    ['host-path-mount', mount('app', '/usr/local/bin'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/root'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/home/dev'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/home/other'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/home'), 'services.app.volumes'],
    ['system-path-mount', mount('app', '/tmp'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/run/containerd/containerd.sock'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/var/run/docker.sock'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/run/podman/podman.sock'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/var/run/crio/crio.sock'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/run/user/1000'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/run/user/1000/podman/podman.sock'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/home/dev/.docker/run/docker.sock'), 'services.app.volumes'],
    ['socket-mount', mount('app', '/var/lib/docker'), 'services.app.volumes'],
    ['ssh-mount', mount('app', '/home/dev/.ssh'), 'services.app.volumes'],
    ['credential-mount', mount('app', '/home/dev/.aws'), 'services.app.volumes'],
    ['host-path-mount', mount('app', '/home/dev/src/other-project'), 'services.app.volumes'],
    ['host-path-mount', mount('app', '/home/dev/.local/state/devsec/shared/shop'), 'services.app.volumes'],
    ['host-path-mount', mount('web', '/srv/data/fixtures'), 'services.web.volumes'],
    ['system-path-mount', mount('docker-proxy', '/etc'), 'services.docker-proxy.volumes'],
    ['socket-mount', mount('docker-proxy', '/run/containerd/containerd.sock'), 'services.docker-proxy.volumes'],
    ['socket-mount', mount('web', '/var/run/docker.sock'), 'services.web.volumes'],
    // Named volumes that are binds or devices, secrets, configs and env files.
    [
      'system-path-mount',
      (m) => (m.volumes.node_modules = { name: 'x', driver: 'local', driver_opts: { type: 'none', o: 'bind', device: '/etc' } }),
      'volumes.node_modules.driver_opts.device',
    ],
    [
      'host-path-mount',
      (m) => (m.volumes.node_modules = { name: 'x', driver_opts: { type: 'none', o: 'bind', device: './cache' } }),
      'volumes.node_modules.driver_opts.device',
    ],
    [
      'system-path-mount',
      (m) => (m.volumes.node_modules = { name: 'x', driver_opts: { type: 'ext4', device: '/dev/sda1' } }),
      'volumes.node_modules.driver_opts.device',
    ],
    ['system-path-mount', (m) => (m.secrets = { s1: { name: 'x_s1', file: '/etc/shadow' } }), 'secrets.s1.file'],
    ['credential-mount', (m) => (m.configs = { c1: { name: 'x_c1', file: '/home/dev/.aws/credentials' } }), 'configs.c1.file'],
    ['host-path-mount', set('app', 'env_file', [{ path: '/home/dev/.env', required: true }]), 'services.app.env_file'],
    // Builds: what they read ends up in an image the stack runs.
    ['ssh-mount', build('app', 'context', '/home/dev/.ssh'), 'services.app.build.context'],
    ['build-outside-workspace', build('web', 'context', '/home/dev/src/other-project'), 'services.web.build.context'],
    ['build-outside-workspace', build('app', 'dockerfile', '/opt/images/Dockerfile'), 'services.app.build.dockerfile'],
    ['system-path-mount', build('app', 'additional_contexts', { etc: '/etc' }), 'services.app.build.additional_contexts.etc'],
    ['build-outside-workspace', build('app', 'cache_to', ['type=local,dest=/var/cache/build']), 'services.app.build.cache_to'],
    ['ssh-mount', build('app', 'ssh', ['default']), 'services.app.build.ssh'],
    ['privileged', build('app', 'privileged', true), 'services.app.build.privileged'],
    ['host-namespace', build('app', 'network', 'host'), 'services.app.build.network'],
    // The dev container's user, devices, confinement and capabilities.
    ['runs-as-root', set('app', 'user', 'root'), 'services.app.user'],
    ['runs-as-root', set('app', 'user', '0'), 'services.app.user'],
    ['runs-as-root', set('app', 'user', '0:0'), 'services.app.user'],
    ['runs-as-root', set('app', 'user', '00'), 'services.app.user'],
    ['runs-as-root', (m) => delete m.services.app.user, 'services.app.user'],
    ['runs-as-root', (m) => Object.assign(m.services['docker-proxy'], { user: '0:0', cap_drop: [] }), 'services.docker-proxy.user'],
    ['runs-as-root', (m) => Object.assign(m.services['docker-proxy'], { user: '0', security_opt: [] }), 'services.docker-proxy.user'],
    ['host-device', set('app', 'devices', [{ source: '/dev/sda', target: '/dev/sda', permissions: 'rwm' }]), 'services.app.devices'],
    ['host-device', set('web', 'device_cgroup_rules', ['c 1:3 mr']), 'services.web.device_cgroup_rules'],
    ['host-device', set('web', 'gpus', [{ count: -1 }]), 'services.web.gpus'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'seccomp:unconfined']), 'services.app.security_opt'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'seccomp=unconfined']), 'services.app.security_opt'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'apparmor:unconfined']), 'services.app.security_opt'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'apparmor=unconfined']), 'services.app.security_opt'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'label:disable']), 'services.app.security_opt'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'label=disable']), 'services.app.security_opt'],
    ['unconfined', set('app', 'security_opt', ['no-new-privileges:true', 'systempaths=unconfined']), 'services.app.security_opt'],
    ['unconfined', set('web', 'security_opt', ['seccomp:./profile.json']), 'services.web.security_opt'],
    ['unconfined', set('web', 'security_opt', ['no-new-privileges:false']), 'services.web.security_opt'],
    ['dangerous-capability', set('app', 'cap_add', ['CHOWN']), 'services.app.cap_add'],
    ['dangerous-capability', set('web', 'cap_add', ['SYS_ADMIN']), 'services.web.cap_add'],
    ['privileged', set('web', 'privileged', true), 'services.web.privileged'],
    // Namespaces: the host's, or another container's.
    ['host-namespace', set('app', 'pid', 'host'), 'services.app.pid'],
    ['host-namespace', set('app', 'ipc', 'host'), 'services.app.ipc'],
    ['host-namespace', set('app', 'uts', 'host'), 'services.app.uts'],
    ['host-namespace', set('app', 'userns_mode', 'host'), 'services.app.userns_mode'],
    ['host-namespace', set('app', 'cgroup', 'host'), 'services.app.cgroup'],
    ['host-namespace', (m) => (delete m.services.web.networks, (m.services.web.network_mode = 'host')), 'services.web.network_mode'],
    [
      'host-namespace',
      (m) => ((m.networks.hostnet = { name: 'host', ipam: {}, external: true }), (m.services.web.networks = { hostnet: null })),
      'services.web.networks',
    ],
    ['joined-namespace', (m) => (delete m.services.web.networks, (m.services.web.network_mode = 'container:abc')), 'services.web.network_mode'],
    ['joined-namespace', (m) => (delete m.services.web.networks, (m.services.web.network_mode = 'service:app')), 'services.web.network_mode'],
    ['joined-namespace', set('web', 'pid', 'container:abc'), 'services.web.pid'],
    ['joined-namespace', set('web', 'pid', 'service:app'), 'services.web.pid'],
    ['joined-namespace', set('app', 'ipc', 'container:abc'), 'services.app.ipc'],
    ['cgroup-parent', set('app', 'cgroup_parent', '/system.slice'), 'services.app.cgroup_parent'],
    ['volumes-from', set('web', 'volumes_from', ['container:abc']), 'services.web.volumes_from'],
    ['sysctl', (m) => (m.services.app.sysctls['net.core.somaxconn'] = '1024'), 'services.app.sysctls.net.core.somaxconn'],
    ['sysctl', set('web', 'sysctls', { 'net.ipv6.conf.lo.disable_ipv6': '0' }), 'services.web.sysctls.net.ipv6.conf.lo.disable_ipv6'],
    // The engine's group, its API, the proxy's network, published ports, SSH agent.
    ['socket-mount', set('app', 'group_add', ['998']), 'services.app.group_add'],
    ['socket-mount', set('app', 'group_add', ['docker']), 'services.app.group_add'],
    ['socket-mount', set('web', 'use_api_socket', true), 'services.web.use_api_socket'],
    ['proxy-on-shared-network', (m) => (m.services['docker-proxy'].networks.shared = null), 'services.docker-proxy.networks'],
    ['published-on-all-interfaces', set('web', 'ports', [{ mode: 'ingress', target: 3000, published: '3000', protocol: 'tcp' }]), 'services.web.ports'],
    [
      'published-on-all-interfaces',
      set('web', 'ports', [{ mode: 'ingress', host_ip: '0.0.0.0', target: 3000, published: '3000', protocol: 'tcp' }]),
      'services.web.ports',
    ],
    [
      'published-on-all-interfaces',
      set('app', 'ports', [{ mode: 'ingress', host_ip: '::', target: 9000, published: '9000', protocol: 'tcp' }]),
      'services.app.ports',
    ],
    ['published-on-all-interfaces', set('web', 'ports', [{ mode: 'ingress', target: 8080, protocol: 'tcp' }]), 'services.web.ports'],
    ['ssh-mount', (m) => (m.services.app.environment = { SSH_AUTH_SOCK: '/ssh-agent' }), 'services.app.environment.SSH_AUTH_SOCK'],
  ])('%s: one change (%#), one finding at its key', (rule, weaken, key) => {
    const model = effectiveWorktree();
    weaken(model);
    expectOnly(checkStack(model, worktreeContext()), rule, key, worktreeContext());
  });

  it.each<[string, (m: Model) => void]>([
    ['a bind inside the workspace to the dev container', mount('app', `${WORKSPACE}/apps/web/fixtures`)],
    ['the git common dir read-only to the dev container, elsewhere too', (m) => m.services.app.volumes.push({ ...bind(`${WORKSPACE}/.git`), read_only: true })],
    [
      'a folder of the workspace pinned read-only onto itself',
      (m) => m.services.app.volumes.push({ ...bind(`${WORKSPACE}/tools`, `${WORKSPACE}/tools`), read_only: true }),
    ],
    ["the stack's own state directory", mount('app', '/home/dev/.local/state/devsec/stacks/app-shop-12345678/history')],
    ['an env file in the workspace', set('app', 'env_file', [{ path: `${WORKSPACE}/apps/app/.env.local`, required: false }])],
    [
      'a named volume without driver options, a tmpfs',
      (m) =>
        (m.services.web.volumes = [
          { type: 'volume', source: 'node_modules', target: '/n', volume: {} },
          { type: 'tmpfs', target: '/t' },
        ]),
    ],
    ['no-new-privileges and the default seccomp profile', set('web', 'security_opt', ['no-new-privileges:true', 'seccomp=default'])],
    [
      'ports on loopback only',
      set('web', 'ports', [
        { host_ip: '127.0.0.1', target: 3000, published: '3000' },
        { host_ip: '::1', target: 3001 },
      ]),
    ],
    [
      'a remote build context and an image context',
      (m) => (m.services.web.build = { context: 'https://github.com/org/repo.git#main', additional_contexts: { base: 'docker-image://node:24' } }),
    ],
    ['group_add of another group on app', set('app', 'group_add', ['audio'])],
  ])('allows %s', (_name, change) => {
    const model = effectiveWorktree();
    change(model);
    expect(checkStack(model, worktreeContext())).toEqual([]);
  });

  it('lets a workspace live under /usr/src, /opt or /root and still refuses those directories whole', () => {
    for (const root of ['/usr/src/shop', '/opt/work/shop', '/root/shop']) {
      const text = JSON.stringify(effectiveWorktree()).replaceAll(WORKSPACE, root);
      const context = { ...worktreeContext(), workspaceRoot: root, gitCommonDir: `${root}/.git`, devcontainerDir: `${root}/apps/app/.devcontainer` };
      expect(checkStack(JSON.parse(text), context)).toEqual([]);
      const model = JSON.parse(text);
      model.services.app.volumes.push(bind(root.split('/').slice(0, 2).join('/')));
      expect(checkStack(model, context).map((f) => f.rule)).toEqual(['system-path-mount']);
    }
  });

  it('sees through symlinks with the realpath the host passes', () => {
    const model = effectiveWorktree();
    model.services.web.volumes = [bind(`${WORKSPACE}/tmp/root-link`)];
    const realPath = (path: string) => (path.startsWith(`${WORKSPACE}/tmp/root-link`) ? path.replace(`${WORKSPACE}/tmp/root-link`, '/etc') : path);
    expectOnly(checkStack(model, { ...worktreeContext(), realPath }), 'system-path-mount', 'services.web.volumes', worktreeContext());
    expect(checkStack(model, { ...worktreeContext(), realPath })[0].message).toBe(`web mounts ${WORKSPACE}/tmp/root-link: /etc is the host's own system.`);
  });

  it('names the service, the path and why in each message', () => {
    const model = effectiveWorktree();
    model.services.app.volumes.push(bind('/etc'));
    expect(checkStack(model, worktreeContext())[0]).toMatchObject({
      service: 'app',
      at: ['services', 'app', 'volumes', model.services.app.volumes.length - 1],
      message: "app mounts /etc: /etc is the host's own system.",
      fix: RULES['system-path-mount'].fix,
    });
  });
});

describe('the workspace and git: only the dev container mounts them, and never git or node_modules writable', () => {
  const GIT = `${WORKSPACE}/.git`;
  const STATE_GIT = '/home/dev/.local/state/devsec/stacks/app-shop-12345678/git';
  const LINKED = '/home/dev/src/shop.git';
  const ro = (source: string, target = '/mnt/x') => ({ ...bind(source, target), read_only: true });
  const appVolume = (target: string) => (m: Model) => m.services.app.volumes.find((v: { target: string }) => v.target === target);
  const drop = (target: string) => (m: Model) => (m.services.app.volumes = m.services.app.volumes.filter((v: { target: string }) => v.target !== target));
  /** A linked worktree as up-worktree mounts it: the common dir outside, read-only; a git dir of the sandbox's own at /devsec/git. */
  const linked = (): Model => {
    const m = effectiveWorktree();
    m.services.app.volumes = m.services.app.volumes.filter((v: { target: string }) => !v.target.startsWith(GIT));
    m.services.app.volumes.push(
      ro(LINKED, LINKED),
      ro(`${STATE_GIT}.gitfile`, GIT),
      bind(STATE_GIT, '/devsec/git'),
      ro(`${STATE_GIT}.host/config`, '/devsec/git/config'),
      ro(`${STATE_GIT}.host/objects-info`, '/devsec/git/objects/info'),
      ro(`${STATE_GIT}.host/empty`, '/devsec/git/refs/replace'),
      ro(`${LINKED}/hooks`, '/devsec/git/hooks'),
      ro(`${LINKED}/objects`, '/devsec/repository-objects'),
    );
    return m;
  };
  const linkedContext = (): StackContext => ({ ...worktreeContext(), gitCommonDir: LINKED });
  const rulesOf = (model: Model, context = worktreeContext()) => checkStack(model, context).map((f) => [f.rule, f.key]);

  it('passes the mounts up-worktree gives a linked worktree', () => {
    expect(checkStack(linked(), linkedContext())).toEqual([]);
  });

  it.each<[string, (m: Model) => void, Array<[string, string]>]>([
    // Another service: the workspace or git, in any form Compose binds a path.
    ['a folder of the workspace, long syntax', mount('web', `${WORKSPACE}/apps/web/fixtures`), [['workspace-mount', 'services.web.volumes']]],
    ['the workspace read-only, short syntax', set('web', 'volumes', [`${WORKSPACE}:/src:ro`]), [['workspace-mount', 'services.web.volumes']]],
    [
      'the git dir writable (${DEVSEC_GIT_COMMON_DIR}, as the red team planted it)',
      set('web', 'volumes', [`${GIT}:/repo`]),
      [
        ['workspace-mount', 'services.web.volumes'],
        ['git-hooks-writable', 'services.web.volumes'],
      ],
    ],
    ['the git dir read-only, a trailing slash', set('web', 'volumes', [ro(`${GIT}/`)]), [['workspace-mount', 'services.web.volumes']]],
    [
      'the git dir by way of ..',
      set('web', 'volumes', [bind(`${WORKSPACE}/apps/../.git/hooks`)]),
      [
        ['workspace-mount', 'services.web.volumes'],
        ['git-hooks-writable', 'services.web.volumes'],
      ],
    ],
    [
      'the host node_modules writable',
      mount('web', `${WORKSPACE}/node_modules`),
      [
        ['workspace-mount', 'services.web.volumes'],
        ['node-modules-shared', 'services.web.volumes'],
      ],
    ],
    [
      "app's mounts (volumes_from)",
      set('web', 'volumes_from', ['app']),
      [
        ['workspace-mount', 'services.web.volumes_from'],
        ['volumes-from', 'services.web.volumes_from'],
      ],
    ],
    [
      'a named volume that binds the git dir',
      (m) => {
        m.volumes.repo = { name: 'x_repo', driver: 'local', driver_opts: { type: 'none', o: 'bind', device: GIT } };
        m.services.web.volumes = [{ type: 'volume', source: 'repo', target: '/repo', volume: {} }];
      },
      [
        ['workspace-mount', 'services.web.volumes'],
        ['git-hooks-writable', 'services.web.volumes'],
      ],
    ],
    [
      "a secret read from git's config",
      (m) => ((m.secrets = { cfg: { name: 'x_cfg', file: `${GIT}/config` } }), (m.services.web.secrets = [{ source: 'cfg' }])),
      [['workspace-mount', 'services.web.secrets']],
    ],
    // The dev container: git's own files writable beyond objects and refs, or the host's node_modules.
    ['the whole git dir writable at .git', (m) => (appVolume(GIT)(m).source = GIT), [['git-hooks-writable', 'services.app.volumes']]],
    ['hooks writable', (m) => delete appVolume(`${GIT}/hooks`)(m).read_only, [['git-hooks-writable', 'services.app.volumes']]],
    ['config writable elsewhere', mount('app', `${GIT}/config`), [['git-hooks-writable', 'services.app.volumes']]],
    [
      "the repository's objects writable (a replaced loose object)",
      (m) => delete appVolume('/devsec/repository-objects')(m).read_only,
      [['git-hooks-writable', 'services.app.volumes']],
    ],
    ["the repository's refs writable, as an earlier version mounted them", mount('app', `${GIT}/refs`), [['git-hooks-writable', 'services.app.volumes']]],
    ['nothing over .git in the writable workspace', drop(GIT), [['git-hooks-writable', 'services.app.volumes']]],
    ['nothing over node_modules in the writable workspace', drop(`${WORKSPACE}/node_modules`), [['node-modules-shared', 'services.app.volumes']]],
    // The red team's pin turned by Compose's interpolation into a bind of the host's .nx over the stack's volume.
    ['nothing over .nx in the writable workspace', drop(`${WORKSPACE}/.nx`), [['node-modules-shared', 'services.app.volumes']]],
    ["the host's .nx bound onto itself in the dev container", mount('app', `${WORKSPACE}/.nx`), [['node-modules-shared', 'services.app.volumes']]],
    ["the host's node_modules writable", (m) => delete appVolume('/devsec/host-node_modules')(m).read_only, [['node-modules-shared', 'services.app.volumes']]],
  ])('refuses %s', (_name, change, expected) => {
    const model = effectiveWorktree();
    change(model);
    expect(rulesOf(model)).toEqual(expected);
  });

  it('refuses, in a linked worktree, its .git file or the common dir writable', () => {
    const gitfile = linked();
    gitfile.services.app.volumes = gitfile.services.app.volumes.filter((v: { target: string }) => v.target !== GIT);
    expect(rulesOf(gitfile, linkedContext())).toEqual([['git-hooks-writable', 'services.app.volumes']]);
    const common = linked();
    delete common.services.app.volumes.find((v: { source: string }) => v.source === LINKED).read_only;
    expect(rulesOf(common, linkedContext())).toEqual([['git-hooks-writable', 'services.app.volumes']]);
    const web = linked();
    web.services.web.volumes = [ro(LINKED)];
    expect(rulesOf(web, linkedContext())).toEqual([['workspace-mount', 'services.web.volumes']]);
  });

  it('sees through symlinks: a path outside that is the git dir, a folder of the workspace that is', () => {
    const realPath = (path: string) => path.replace(/^\/srv\/link/, GIT).replace(`${WORKSPACE}/tmp/git-link`, GIT);
    const web = effectiveWorktree();
    web.services.web.volumes = [bind('/srv/link')];
    expect(rulesOf(web, { ...worktreeContext(), realPath })).toEqual([
      ['workspace-mount', 'services.web.volumes'],
      ['git-hooks-writable', 'services.web.volumes'],
    ]);
    expect(checkStack(web, { ...worktreeContext(), realPath })[0].message).toBe(
      `web mounts /srv/link: git's own files (your remotes and config; a hook or core.fsmonitor written there runs on the host's next git command), which only the dev container (app) may mount, behind the mounts that keep .git and node_modules from it.`,
    );
    const app = effectiveWorktree();
    app.services.app.volumes.push(bind(`${WORKSPACE}/tmp/git-link`));
    expect(rulesOf(app, { ...worktreeContext(), realPath })).toEqual([['git-hooks-writable', 'services.app.volumes']]);
    // Without the realpath, the same stack looks harmless: the gate passes one.
    expect(rulesOf(app)).toEqual([]);
  });

  it('names the service, the source and the fix', () => {
    const model = effectiveWorktree();
    model.services.web.volumes = [`${GIT}:/repo`];
    const [shown, written] = checkStack(model, worktreeContext());
    expect(shown).toMatchObject({ service: 'web', at: ['services', 'web', 'volumes', 0] });
    expect(shown.fix).toBe(
      'Remove the mount from web: build what it needs into its image (COPY in a Dockerfile inside the workspace), or give it a named volume.',
    );
    expect(written.message).toBe(
      `web mounts ${GIT} writable: git's own files (config, hooks), where a planted hook or core.fsmonitor runs on the host's next git command (or objects and refs: a replaced object is checked out as the agent wrote it).`,
    );
    expect(written.fix).toMatch(/Mount it read-only; .*nothing of the repository writable/);
  });

  it('in the shared stack, refuses git and lets other folders of the workspace through', () => {
    const model = effectiveShared();
    model.services.postgres.volumes.push(bind(`${WORKSPACE}/db/exports`));
    expect(checkStack(model, sharedContext())).toEqual([]);
    model.services.redis.volumes.push(ro(GIT));
    model.services.redis.volumes.push(bind(WORKSPACE));
    expect(rulesOf(model, sharedContext())).toEqual([
      ['workspace-mount', 'services.redis.volumes'],
      ['workspace-mount', 'services.redis.volumes'],
      ['git-hooks-writable', 'services.redis.volumes'],
      ['node-modules-shared', 'services.redis.volumes'],
    ]);
  });
});

describe('every engine socket, on every engine', () => {
  const inHome = (path: string) => path.replace(/^~(?=\/)/, '/home/dev').replace(/^\$XDG_RUNTIME_DIR(?=\/)/, '/run/user/1000');
  it.each(ENGINE_SOCKET_PATHS.map(inHome))('%s is refused to any service but the proxy', (socket) => {
    const model = effectiveWorktree();
    model.services.app.volumes.push(bind(socket, '/var/run/docker.sock'));
    expect(checkStack(model, worktreeContext()).map((f) => [f.rule, f.service])).toEqual([['socket-mount', 'app']]);
  });

  it("refuses the engine's socket, wherever DEVSEC_ENGINE_SOCKET put it, and its folder, to any other service", () => {
    const context = { ...worktreeContext(), dockerSocket: '/srv/engine/api.sock' };
    for (const source of ['/srv/engine/api.sock', '/srv/engine']) {
      const model = effectiveWorktree();
      model.services['docker-proxy'].volumes[0].source = '/srv/engine/api.sock';
      model.services.app.volumes.push(bind(source));
      expect(checkStack(model, context).map((f) => [f.rule, f.service, f.message])).toEqual([
        ['socket-mount', 'app', `app mounts ${source}: the engine's API socket, or a folder that holds it: root on the host.`],
      ]);
    }
  });

  it("refuses the socket's group however it is written", () => {
    for (const group of ['998', '0998', '+998']) {
      const model = effectiveWorktree();
      model.services.app.group_add = [group];
      expect(checkStack(model, worktreeContext()).map((f) => [f.rule, f.key])).toEqual([['socket-mount', 'services.app.group_add']]);
    }
  });

  it("lets the proxy run as the socket's owner with every capability dropped, as an owner-only socket needs", () => {
    const model = effectiveWorktree();
    model.services['docker-proxy'].user = '0:0';
    expect(checkStack(model, worktreeContext())).toEqual([]);
  });

  it("lets the proxy mount the engine's socket as its containers see it, and only that one", () => {
    const rootless = { ...worktreeContext(), dockerSocket: '/run/user/1000/docker.sock' };
    const model = effectiveWorktree();
    model.services['docker-proxy'].volumes[0].source = '/run/user/1000/docker.sock';
    expect(checkStack(model, rootless)).toEqual([]);
    // The same stack with the socket of another engine of this machine.
    model.services['docker-proxy'].volumes[0].source = '/run/podman/podman.sock';
    expect(checkStack(model, rootless).map((f) => f.rule)).toEqual(['socket-mount']);
  });

  it('names a compose file that still mounts /var/run/docker.sock on an engine whose socket is elsewhere, and the fix', () => {
    const model = effectiveWorktree();
    expect(model.services['docker-proxy'].volumes[0].source).toBe('/var/run/docker.sock');
    const [found] = checkStack(model, { ...worktreeContext(), dockerSocket: '/run/user/1000/docker.sock' });
    expect(found).toMatchObject({
      rule: 'socket-mount',
      service: 'docker-proxy',
      message: 'docker-proxy mounts /var/run/docker.sock, but this engine gives its containers its API at /run/user/1000/docker.sock.',
    });
    expect(found.fix).toMatch(/nx sync.*DEVSEC_DOCKER_SOCKET/);
  });
});

describe('checkStack on the effective model of the shared services', () => {
  it('passes it: named volumes, ports on 127.0.0.1, root inside its own container', () => {
    const model = effectiveShared();
    model.services.postgres.user = 'root';
    expect(checkStack(model, sharedContext())).toEqual([]);
  });

  it.each<[string, (m: Model) => void, string]>([
    ['system-path-mount', mount('postgres', '/etc'), 'services.postgres.volumes'],
    ['host-path-mount', mount('postgres', '/srv/pgdata'), 'services.postgres.volumes'],
    ['host-path-mount', mount('redis', `${WORKSPACE}/.git`.replace('/shop/', '/other/')), 'services.redis.volumes'],
    ['socket-mount', (m) => (m.services['docker-proxy'] = { image: 'x:1', volumes: [bind('/var/run/docker.sock')] }), 'services.docker-proxy.volumes'],
    ['joined-namespace', (m) => (delete m.services.redis.networks, (m.services.redis.network_mode = 'service:postgres')), 'services.redis.network_mode'],
    ['host-namespace', set('postgres', 'pid', 'host'), 'services.postgres.pid'],
    ['privileged', set('postgres', 'privileged', true), 'services.postgres.privileged'],
    ['dangerous-capability', set('redis', 'cap_add', ['SYS_RESOURCE']), 'services.redis.cap_add'],
    ['sysctl', set('redis', 'sysctls', { 'net.core.somaxconn': '1024' }), 'services.redis.sysctls.net.core.somaxconn'],
    ['published-on-all-interfaces', (m) => delete m.services.postgres.ports[0].host_ip, 'services.postgres.ports'],
    [
      'system-path-mount',
      (m) => (m.volumes['postgres-data'].driver_opts = { type: 'none', o: 'bind', device: '/home/dev' }),
      'volumes.postgres-data.driver_opts.device',
    ],
  ])('%s: one change (%#), one finding at its key', (rule, weaken, key) => {
    const model = effectiveShared();
    weaken(model);
    expectOnly(checkStack(model, sharedContext()), rule, key, sharedContext());
  });

  it('allows binds inside the workspace and its own state directory', () => {
    const model = effectiveShared();
    model.services.postgres.volumes.push(bind(`${WORKSPACE}/db/init.sql`, '/docker-entrypoint-initdb.d/init.sql'));
    model.services.postgres.volumes.push(bind('/home/dev/.local/state/devsec/shared/shop/pg.conf'));
    expect(checkStack(model, sharedContext())).toEqual([]);
  });
});
