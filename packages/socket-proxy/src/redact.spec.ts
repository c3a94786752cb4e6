import { filterNetworkContainers, networkListNamesContainers } from './redact';

describe('networks', () => {
  it('keeps the containers in scope of every network of a list, and knows when a list names none', () => {
    const list = [
      { Name: 'dev', Containers: { mine: { Name: 'm' }, theirs: { Name: 't' } } },
      { Name: 'none', Containers: {} },
    ];
    expect(networkListNamesContainers(list)).toBe(true);
    expect(networkListNamesContainers([{ Name: 'none', Containers: {} }, { Name: 'x' }])).toBe(false);
    expect(list.map((network) => filterNetworkContainers(network, new Set(['mine'])))).toEqual([
      { Name: 'dev', Containers: { mine: { Name: 'm' } } },
      { Name: 'none', Containers: {} },
    ]);
  });

  it('drops swarm Services, and Containers in a shape it cannot filter', () => {
    expect(filterNetworkContainers({ Name: 'o', Services: { web: {} }, Containers: { x: {} } }, new Set())).toEqual({ Name: 'o', Containers: {} });
    expect(filterNetworkContainers({ Name: 'o', Containers: ['x'] }, new Set(['x']))).toEqual({ Name: 'o', Containers: {} });
    expect(filterNetworkContainers({ Name: 'o' }, new Set())).toEqual({ Name: 'o' });
  });
});
