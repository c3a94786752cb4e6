import { egressProbeInput, privateNames } from './live-egress-input';

describe('the live probe’s private hosts', () => {
  it('asks for each EGRESS_ALLOW_PRIVATE name, with the port its EGRESS_ALLOW entry gives', () => {
    expect(privateNames('registry.npmjs.org npm.corp.example git.corp.example:8443 *.corp.example', 'npm.corp.example git.corp.example')).toEqual([
      'npm.corp.example',
      'git.corp.example:8443',
    ]);
    const app = { Config: { Labels: {} }, NetworkSettings: { Networks: {} } };
    expect(egressProbeInput(app, 'registry.npmjs.org npm.corp.example', 'npm.corp.example')?.privateNames).toEqual(['npm.corp.example']);
    expect(egressProbeInput(app, 'registry.npmjs.org')).not.toHaveProperty('privateNames');
  });
});
