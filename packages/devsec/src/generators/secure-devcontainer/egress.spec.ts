import { Tree } from '@nx/devkit';
import { checkSandbox } from '../../rules/compose-rules';
import { expectValid, generated, run } from '../../testing/generated-sandbox';
import { validateCompose } from '../../testing/schemas';
import { snapshot, workspaceWithProjects } from '../../testing/workspace';
import { managedState } from '../../sandbox/managed-file';
import { readSpec } from '../../sandbox/spec';
import { syncGenerator } from '../sync/sync';

const COMPOSE = 'apps/app/.devcontainer/docker-compose.yml';
const allowOf = (tree: Tree) => String(generated(tree).compose.services['egress-proxy'].environment.EGRESS_ALLOW).split(' ');

describe('secure-devcontainer generator: egress', () => {
  let tree: Tree;
  beforeEach(() => {
    tree = workspaceWithProjects();
  });

  it('puts the dev container on internal networks only, with the egress proxy as its one way out', async () => {
    await run(tree);
    const { compose } = generated(tree);
    expect(compose.services.app.networks).toEqual(['sandbox', 'shared']);
    expect(compose.networks.sandbox).toMatchObject({ internal: true, driver_opts: { 'com.docker.network.bridge.inhibit_ipv4': 'true' } });
    expect(compose.networks.egress.internal).toBeUndefined();
    const egress = compose.services['egress-proxy'];
    expect(egress.networks).toEqual(['sandbox', 'egress']);
    expect(egress.build.context).toBe(compose.services['docker-proxy'].build.context);
    expect(egress).toMatchObject({ read_only: true, cap_drop: ['ALL'], security_opt: ['no-new-privileges:true'] });
    expect(egress).toMatchObject({ mem_limit: '128m', pids_limit: 64, cpus: 1 });
    expect(egress.volumes).toBeUndefined();
    expect(egress.environment).toMatchObject({ EGRESS: '1', EGRESS_LISTEN: 'tcp://0.0.0.0:3128', EGRESS_ALLOW: 'registry.npmjs.org' });
    expectValid(tree);
  });

  it("allows the agent's API hosts with --agent", async () => {
    await run(tree, { agent: 'claude' });
    expect(allowOf(tree)).toEqual(['registry.npmjs.org', 'api.anthropic.com', 'statsig.anthropic.com', 'statsig.com', 'sentry.io']);
    await run(tree, { agent: 'codex' });
    expect(allowOf(tree)).toEqual(['registry.npmjs.org', 'api.openai.com', 'auth.openai.com', 'chatgpt.com']);
  });

  it('adds --allowHosts to the defaults, and keeps them on a re-run without it', async () => {
    await run(tree, { allowHosts: ['Pypi.org,*.pythonhosted.org', 'example.com:8443'] });
    expect(allowOf(tree)).toEqual(['registry.npmjs.org', 'pypi.org', '*.pythonhosted.org', 'example.com:8443']);
    await run(tree);
    expect(allowOf(tree)).toEqual(['registry.npmjs.org', 'pypi.org', '*.pythonhosted.org', 'example.com:8443']);
    const before = snapshot(tree);
    await run(tree);
    expect(snapshot(tree)).toEqual(before);
  });

  it('leaves the list in the compose file to the user: a host added there is no edit, and a re-run keeps it', async () => {
    await run(tree);
    const text = tree.read(COMPOSE, 'utf-8') as string;
    tree.write(COMPOSE, text.replace(/^(\s+)registry\.npmjs\.org$/m, '$1registry.npmjs.org\n$1files.example.com'));
    expect(managedState(COMPOSE, tree.read(COMPOSE, 'utf-8'))).toBe('pristine');
    await run(tree, { aptPackages: ['jq'] });
    expect(allowOf(tree)).toEqual(['registry.npmjs.org', 'files.example.com']);
    expect(generated(tree).dockerfile).toContain(' jq');
  });

  it('names the file when a host written there cannot be allowed', async () => {
    await run(tree);
    tree.write(COMPOSE, (tree.read(COMPOSE, 'utf-8') as string).replace(/^(\s+)registry\.npmjs\.org$/m, '$1registry.npmjs.org\n$1http://x/'));
    const before = snapshot(tree);
    await expect(run(tree)).rejects.toThrow(/apps\/app\/\.devcontainer\/docker-compose\.yml, EGRESS_ALLOW of egress-proxy: "http:\/\/x\/" is not a host/);
    expect(snapshot(tree)).toEqual(before);
  });

  it.each([
    [{ allowHosts: ['https://example.com'] }, /--allowHosts: "https:\/\/example.com" is not a host the egress proxy can allow/],
    [{ allowHosts: ['exa mple.com,bad_host'] }, /--allowHosts: "bad_host"/],
    [{ egress: 'proxy' as never }, /--egress: "proxy" is not a mode. Use allowlist .* or open/],
  ])('refuses %p, naming the option; the tree is unchanged', async (options, message) => {
    const before = snapshot(tree);
    await expect(run(tree, options)).rejects.toThrow(message);
    expect(snapshot(tree)).toEqual(before);
  });

  it('--allowPrivateHosts: EGRESS_ALLOW_PRIVATE names them, stored in the spec, kept by a re-run and by nx sync', async () => {
    await run(tree, { allowHosts: ['npm.corp.example', 'git.corp.example:8443', 'pypi.org'], allowPrivateHosts: ['NPM.corp.example,git.corp.example'] });
    const egress = () => generated(tree).compose.services['egress-proxy'].environment;
    expect(egress().EGRESS_ALLOW_PRIVATE).toBe('npm.corp.example git.corp.example');
    expect(readSpec(tree, 'apps/app')?.allowPrivateHosts).toEqual(['npm.corp.example', 'git.corp.example']);
    await run(tree, { aptPackages: ['jq'] });
    expect(egress().EGRESS_ALLOW_PRIVATE).toBe('npm.corp.example git.corp.example');
    const before = snapshot(tree);
    await expect(syncGenerator(tree)).resolves.toBeUndefined();
    expect(snapshot(tree)).toEqual(before);
    // A hand edit of the private list is an edit of a managed file, not a way to add one.
    tree.write(COMPOSE, (tree.read(COMPOSE, 'utf-8') as string).replace(/EGRESS_ALLOW_PRIVATE: ("?)npm/, 'EGRESS_ALLOW_PRIVATE: $1pypi.org npm'));
    expect(managedState(COMPOSE, tree.read(COMPOSE, 'utf-8'))).toBe('edited');
  });

  it('without --allowPrivateHosts there is no EGRESS_ALLOW_PRIVATE (every private address refused)', async () => {
    await run(tree, { allowHosts: ['npm.corp.example'] });
    expect(generated(tree).compose.services['egress-proxy'].environment.EGRESS_ALLOW_PRIVATE).toBeUndefined();
    expect(readSpec(tree, 'apps/app')).not.toHaveProperty('allowPrivateHosts');
  });

  it('drops a private host whose name the user took out of EGRESS_ALLOW by hand', async () => {
    await run(tree, { allowHosts: ['npm.corp.example'], allowPrivateHosts: ['npm.corp.example'] });
    tree.write(COMPOSE, (tree.read(COMPOSE, 'utf-8') as string).replace(/^\s+npm\.corp\.example\n/m, ''));
    expect(readSpec(tree, 'apps/app')).not.toHaveProperty('allowPrivateHosts');
  });

  it.each([
    [{ allowPrivateHosts: ['npm.corp.example'] }, /--allowPrivateHosts: npm.corp.example is not in --allowHosts.*add --allowHosts=npm.corp.example/],
    [{ allowHosts: ['*.corp.example'], allowPrivateHosts: ['*.corp.example'] }, /--allowPrivateHosts: "\*.corp.example" is not an exact host name/],
    [{ allowHosts: ['npm.corp.example:8443'], allowPrivateHosts: ['npm.corp.example:8443'] }, /not an exact host name or address \(no \*.domain, no :port\)/],
    [{ caCerts: '../outside.pem' }, /--caCerts: "..\/outside.pem" is not a file inside the workspace.*up-worktree --caCerts=/],
    [{ caCerts: '/etc/ssl/ca.pem' }, /--caCerts: "\/etc\/ssl\/ca.pem" is not a file inside the workspace/],
  ])('refuses %p, naming the option; the tree is unchanged', async (options, message) => {
    const before = snapshot(tree);
    await expect(run(tree, options)).rejects.toThrow(message);
    expect(snapshot(tree)).toEqual(before);
  });

  it('--caCerts: a workspace path stored in the spec, kept by a re-run, removed by --caCerts=', async () => {
    await run(tree, { caCerts: './tools/certs/corp-ca.pem' });
    expect(readSpec(tree, 'apps/app')?.caCerts).toBe('tools/certs/corp-ca.pem');
    await run(tree);
    expect(readSpec(tree, 'apps/app')?.caCerts).toBe('tools/certs/corp-ca.pem');
    await run(tree, { caCerts: '' });
    expect(readSpec(tree, 'apps/app')).not.toHaveProperty('caCerts');
  });

  it('with --egress=open: no egress proxy, a route out for the dev container, said loudly by the audit', async () => {
    await run(tree, { egress: 'open' });
    const { compose, devcontainer } = generated(tree);
    expect(compose.services['egress-proxy']).toBeUndefined();
    expect(compose.services.app.networks).toEqual(['sandbox', 'shared', 'egress']);
    expect(compose.services.app.labels['org.devsec.egress']).toBe('open');
    expect(compose.services.app.environment.HTTPS_PROXY).toBeUndefined();
    expect(compose.services.app.depends_on).toEqual({ 'docker-proxy': { condition: 'service_healthy' } });
    expect(validateCompose(compose)).toEqual([]);
    const findings = checkSandbox({ composeFile: COMPOSE, compose, devcontainerFile: 'apps/app/.devcontainer/devcontainer.json', devcontainer });
    expect(findings.map((finding) => [finding.rule, finding.severity])).toEqual([['egress-open', 'medium']]);
  });
});
