import { checkSandbox, ComposeModel, ComposeService } from './compose-rules';
import { describeWithSchemas, validateCompose, validateDevcontainer } from '../testing/schemas';

const safeStack = (): ComposeModel & { services: Record<string, ComposeService> } => ({
  services: {
    'docker-proxy': { volumes: ['/var/run/docker.sock:/var/run/docker.sock:ro'], networks: ['sandbox'], cap_drop: ['ALL'] },
    app: { user: 'node', volumes: ['../..:/workspace', 'node_modules:/workspace/node_modules'], networks: ['sandbox', 'shared'], depends_on: ['docker-proxy'] },
  },
  networks: {
    sandbox: { internal: true, driver_opts: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } } as never,
    shared: { name: 'dev', external: true },
  },
});

const check = (compose: ComposeModel, devcontainer?: Record<string, unknown>) =>
  checkSandbox({
    composeFile: 'apps/app/.devcontainer/docker-compose.yml',
    compose,
    devcontainerFile: 'apps/app/.devcontainer/devcontainer.json',
    devcontainer,
  });

describe('checkSandbox', () => {
  it('passes the generated shape', () => {
    expect(check(safeStack(), { dockerComposeFile: ['docker-compose.yml'], service: 'app' })).toEqual([]);
  });

  it.each<[string, (stack: ReturnType<typeof safeStack>) => void, string]>([
    ['socket-mount', (s) => s.services.app.volumes!.push('/var/run/docker.sock:/var/run/docker.sock'), 'services.app.volumes'],
    ['socket-mount', (s) => s.services.app.volumes!.push({ type: 'bind', source: '/run', target: '/host-run' }), 'services.app.volumes'],
    ['socket-mount', (s) => s.services.app.volumes!.push('/:/host'), 'services.app.volumes'],
    ['ssh-mount', (s) => s.services.app.volumes!.push('~/.ssh:/home/node/.ssh:ro'), 'services.app.volumes'],
    ['ssh-mount', (s) => s.services.app.volumes!.push('${SSH_AUTH_SOCK}:/ssh-agent'), 'services.app.volumes'],
    ['ssh-mount', (s) => (s.services.app.environment = { SSH_AUTH_SOCK: '/ssh-agent' }), 'services.app.environment.SSH_AUTH_SOCK'],
    ['privileged', (s) => (s.services.app.privileged = true), 'services.app.privileged'],
    ['host-namespace', (s) => (s.services.app.pid = 'host'), 'services.app.pid'],
    ['host-namespace', (s) => (s.services.app.ipc = 'host'), 'services.app.ipc'],
    ['host-namespace', (s) => (s.services.app.userns_mode = 'host'), 'services.app.userns_mode'],
    ['dangerous-capability', (s) => (s.services.app.cap_add = ['SYS_ADMIN']), 'services.app.cap_add'],
    ['dangerous-capability', (s) => (s.services.app.cap_add = ['cap_net_admin']), 'services.app.cap_add'],
    ['proxy-on-shared-network', (s) => (s.services['docker-proxy'].networks = ['sandbox', 'shared']), 'services.docker-proxy.networks'],
    ['network-mode-with-networks', (s) => (s.services.app.network_mode = 'service:docker-proxy'), 'services.app.network_mode'],
    ['depends-on-missing', (s) => (s.services.app.depends_on = ['postgres']), 'services.app.depends_on'],
  ])('%s trips on its fixture (%#) and names the key', (rule, weaken, key) => {
    const stack = safeStack();
    weaken(stack);
    const findings = check(stack);
    expect(findings).toContainEqual(expect.objectContaining({ rule, key, file: 'apps/app/.devcontainer/docker-compose.yml' }));
    for (const finding of findings) expect(finding.fix.length).toBeGreaterThan(10);
  });

  it('names the host namespace rule for network_mode: host too', () => {
    const stack = safeStack();
    delete stack.services.app.networks;
    stack.services.app.network_mode = 'host';
    expect(check(stack).map((f) => f.rule)).toEqual(['host-namespace']);
  });

  it('refuses every added capability, harmless-looking ones too (issue #15: any cap_add widens a way out)', () => {
    const stack = safeStack();
    stack.services.app.cap_add = ['CHOWN', 'NET_BIND_SERVICE'];
    expect(check(stack).map((f) => [f.rule, f.message])).toEqual([['dangerous-capability', expect.stringContaining('CHOWN, NET_BIND_SERVICE')]]);
  });

  it('judges paths that are never allowed without a context, and leaves the rest to the gate', () => {
    const stack = safeStack();
    stack.services.app.volumes!.push('/etc:/host-etc', '${DATA_DIR}:/data', '/srv/data:/data2');
    expect(check(stack).map((f) => f.rule)).toEqual(['system-path-mount']);
  });

  it.each(['runArgs', 'appPort', 'workspaceMount'])('flags %s beside dockerComposeFile in devcontainer.json', (field) => {
    const findings = check(safeStack(), { dockerComposeFile: 'docker-compose.yml', service: 'app', [field]: ['x'] });
    expect(findings).toEqual([
      expect.objectContaining({ rule: 'devcontainer-ignored-with-compose', key: field, file: 'apps/app/.devcontainer/devcontainer.json' }),
    ]);
  });

  it('flags a privileged devcontainer.json', () => {
    expect(check(safeStack(), { dockerComposeFile: 'x.yml', service: 'app', privileged: true })).toEqual([expect.objectContaining({ rule: 'privileged' })]);
  });
});

describeWithSchemas('schema checks (../shared/schemas) catch what they should', () => {
  it('rejects a malformed compose model', () => {
    expect(validateCompose({ services: { app: { networks: 5 } } })).not.toEqual([]);
    expect(validateCompose({ services: { app: { image: 'x', unknown_key: 1 } } })).not.toEqual([]);
    expect(validateCompose(safeStack())).toEqual([]);
  });
  it('rejects a malformed devcontainer.json', () => {
    expect(validateDevcontainer({ dockerComposeFile: 'a.yml', service: 'app', workspaceFolder: '/w', shutdownAction: 'sometimes' })).not.toEqual([]);
    expect(validateDevcontainer({ dockerComposeFile: 'a.yml', service: 'app', workspaceFolder: '/w', shutdownAction: 'none' })).toEqual([]);
  });
});
