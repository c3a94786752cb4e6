import { egressOverride } from './egress-override';

describe('egressOverride: names from the compose files reach NO_PROXY only when Compose would accept them', () => {
  const models = (services: Record<string, object>) => [
    { services: { app: {}, 'egress-proxy': { environment: { EGRESS_ALLOW: 'registry.npmjs.org' } }, ...services } },
  ];

  it('lists the stack and shared services by name', () => {
    const override = egressOverride({ models: models({ web: {} }), shared: { services: { postgres: {} } }, composeProject: 'p', gitCommonDir: '/nonexistent' });
    expect(override?.app.environment.NO_PROXY.split(',')).toEqual(expect.arrayContaining(['web', 'p-web-1', 'postgres']));
  });

  it.each([['web\nexport EVIL=1'], ['a b'], ['x;id'], ['']])('refuses the service name %j, naming it', (name) => {
    expect(() => egressOverride({ models: models({ [name]: {} }), shared: undefined, composeProject: 'p', gitCommonDir: '/nonexistent' })).toThrow(
      /Refusing to start: the service name .* is not one Compose accepts/,
    );
    expect(() => egressOverride({ models: models({}), shared: { services: { [name]: {} } }, composeProject: 'p', gitCommonDir: '/nonexistent' })).toThrow(
      /is not one Compose accepts/,
    );
  });
});
