import { checkStack } from './stack-rules';
import { effectiveWorktree, worktreeContext } from '../testing/effective-models';

const rulesOf = (model: unknown, externalNetworks?: Record<string, { internal: boolean; noGateway: boolean }>) =>
  checkStack(model as never, { ...worktreeContext(), externalNetworks })
    .filter((finding) => finding.rule.startsWith('egress') || finding.rule === 'proxy-on-shared-network')
    .map((finding) => [finding.rule, finding.message]);

const held = { internal: true, noGateway: true };

describe('the egress rules', () => {
  it('let the generated stack through, with the shared network as up-worktree creates it', () => {
    expect(rulesOf(effectiveWorktree(), { dev: held })).toEqual([]);
  });

  it('say nothing of an external network the engine was not asked about (the static audit)', () => {
    expect(rulesOf(effectiveWorktree())).toEqual([]);
  });

  it("refuse a private network whose bridge has an address: the gateway is the host's", () => {
    const model = effectiveWorktree();
    delete model.networks.sandbox.driver_opts;
    expect(rulesOf(model, { dev: held })).toEqual([
      ['egress-unfiltered', expect.stringMatching(/"app-shop-12345678_sandbox", whose gateway address is the host's/)],
    ]);
  });

  it('refuse the generated stack on an engine that ignores the no-gateway option (Podman): both networks answer from the host', () => {
    const findings = checkStack(effectiveWorktree(), { ...worktreeContext(), externalNetworks: { dev: held }, ignoresNoGateway: 'Podman (rootful)' }).filter(
      (finding) => finding.rule === 'egress-unfiltered',
    );
    expect(findings.map((finding) => finding.message)).toEqual([
      expect.stringMatching(
        /"app-shop-12345678_sandbox", whose gateway address is the host's: Podman \(rootful\) ignores com\.docker\.network\.bridge\.inhibit_ipv4/,
      ),
      expect.stringMatching(/"dev", whose gateway address is the host's: Podman \(rootful\) ignores/),
    ]);
    expect(findings[0].fix).toMatch(/--unsafe-allow=egress-unfiltered after closing the gateway yourself/);
  });

  it('refuse a private network with a route out', () => {
    const model = effectiveWorktree();
    model.networks.sandbox.internal = false;
    expect(rulesOf(model, { dev: held })).toEqual([['egress-unfiltered', expect.stringMatching(/"app-shop-12345678_sandbox", which has a route out/)]]);
  });

  it('refuse the dev container on the outside network, unless it was generated with --egress=open (then: reported)', () => {
    const model = effectiveWorktree();
    model.services.app.networks.egress = null;
    expect(rulesOf(model, { dev: held })).toEqual([['egress-unfiltered', expect.stringMatching(/"app-shop-12345678_egress", which has a route out/)]]);
    model.services.app.labels = { 'org.devsec.egress': 'open' };
    expect(rulesOf(model, { dev: held })).toEqual([['egress-open', expect.stringMatching(/reaches any host through network "app-shop-12345678_egress"/)]]);
  });

  it.each([
    ['has a route out', { internal: false, noGateway: false }, /which has a route out/],
    ['has a gateway on the host', { internal: true, noGateway: false }, /whose gateway address is the host's/],
  ])('refuse a shared network that %s, saying how to have it created again', (_name, facts, message) => {
    const [finding] = checkStack(effectiveWorktree(), { ...worktreeContext(), externalNetworks: { dev: facts } }).filter((f) => f.rule === 'egress-unfiltered');
    expect(finding.message).toMatch(message);
    expect(finding.fix).toMatch(/down-shared\); the next up-worktree creates it internal/);
  });

  it('refuse the egress proxy on the shared network, where other worktrees would use its allowlist', () => {
    const model = effectiveWorktree();
    model.services['egress-proxy'].networks.shared = null;
    expect(rulesOf(model, { dev: held })).toEqual([['proxy-on-shared-network', expect.stringMatching(/^egress-proxy is on the shared network "dev"/)]]);
  });
});
