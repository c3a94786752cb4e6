import { decide, parseQuery, RULES } from './policy';

/** The policy's answer for a method and target with no headers. */
const decideTarget = (method: string, target: string, switches: Record<string, boolean>) => decide({ method, target, headers: {} }, switches);

const READ_SECTIONS = { PING: true, VERSION: true, EVENTS: true, CONTAINERS: true, IMAGES: true, INFO: true, NETWORKS: true, VOLUMES: true };

/** Every example runs as written and behind the API version prefix. */
const withAndWithoutVersion = (cases: Array<[string, string, string]>) =>
  cases.flatMap(([method, target, rule]) => [
    [method, target, rule],
    [method, `/v1.41${target}`, rule],
  ]);

describe('decide: allowed endpoints, one example at least per rule', () => {
  const allowed: Array<[string, string, string]> = [
    ['GET', '/_ping', 'ping'],
    ['HEAD', '/_ping', 'ping'],
    ['GET', '/version', 'version'],
    ['GET', '/info', 'info'],
    ['GET', '/events', 'events'],
    ['GET', '/events?since=1700000000&filters=%7B%22type%22%3A%5B%22container%22%5D%7D', 'events'],
    ['GET', '/containers/json', 'container-list'],
    ['GET', '/containers/json?all=1&size=0', 'container-list'],
    ['GET', '/containers/0123456789ab/json', 'container-inspect'],
    ['GET', '/containers/my_app-1.web/json?size=1', 'container-inspect'],
    ['GET', '/containers/postgres/logs?stdout=1&stderr=1&follow=1&tail=100', 'container-logs'],
    ['HEAD', '/containers/postgres/logs', 'container-logs'],
    ['GET', '/images/json', 'image-list'],
    ['GET', '/images/node:24-trixie-slim/json', 'image-inspect'],
    ['GET', '/images/docker.io/library/node:24/json', 'image-inspect'],
    ['GET', '/images/sha256:5f2bd6a9/json', 'image-inspect'],
    ['GET', '/images/app@sha256:5f2bd6a9/json', 'image-inspect'],
    ['GET', '/networks', 'network-list'],
    ['GET', '/networks?filters=%7B%7D', 'network-list'],
    ['GET', '/networks/dev', 'network-inspect'],
    ['GET', '/volumes', 'volume-list'],
    ['GET', '/volumes/pgdata', 'volume-inspect'],
  ];
  it.each(withAndWithoutVersion(allowed))('%s %s → %s', (method, target, rule) => {
    const decision = decideTarget(method, target, READ_SECTIONS);
    expect(decision).toMatchObject({ allowed: true, rule });
  });

  it('covers every rule of the table that can be switched on', () => {
    const covered = new Set(allowed.map(([, , rule]) => rule));
    const switchable = RULES.filter((row) => row.section in READ_SECTIONS).map((row) => row.rule);
    expect(switchable.filter((rule) => !covered.has(rule))).toEqual([]);
  });

  it('keeps the version, the segments and the decoded query for the server', () => {
    expect(decideTarget('GET', '/v1.41/containers/abc/logs?follow=1&since=0', READ_SECTIONS)).toEqual({
      allowed: true,
      rule: 'container-logs',
      handle: 'container-logs',
      method: 'GET',
      version: 'v1.41',
      segments: ['containers', 'abc', 'logs'],
      params: { follow: '1', since: '0' },
      ref: 'abc',
    });
    expect(decideTarget('GET', '/images/docker.io/library/node:24/json', READ_SECTIONS)).toMatchObject({ ref: 'docker.io/library/node:24' });
  });
});

describe('decide: refused requests', () => {
  const refused: Array<[string, string, string]> = [
    // Writes of every kind.
    ['POST', '/containers/create', 'read-only'],
    ['POST', '/containers/abc/exec', 'read-only'],
    ['POST', '/exec/abc/start', 'read-only'],
    ['POST', '/build', 'read-only'],
    ['POST', '/commit?container=abc', 'read-only'],
    ['POST', '/images/create?fromImage=alpine', 'read-only'],
    ['POST', '/swarm/init', 'read-only'],
    ['POST', '/volumes/create', 'read-only'],
    ['POST', '/networks/create', 'read-only'],
    ['POST', '/containers/abc/stop', 'read-only'],
    ['POST', '/containers/abc/kill', 'read-only'],
    ['DELETE', '/containers/abc', 'read-only'],
    ['PUT', '/containers/abc/archive?path=/', 'read-only'],
    ['OPTIONS', '/_ping', 'read-only'],
    ['PATCH', '/containers/abc/json', 'read-only'],
    // Reads that leak: file contents, whole filesystems, stdin, image tarballs, processes.
    ['GET', '/containers/abc/archive?path=/etc/shadow', 'no-rule'],
    ['HEAD', '/containers/abc/archive?path=/etc/shadow', 'no-rule'],
    ['GET', '/containers/abc/export', 'no-rule'],
    ['GET', '/containers/abc/attach/ws?stream=1&stdin=1', 'no-rule'],
    ['GET', '/images/get?names=app', 'no-rule'],
    ['GET', '/images/app/get', 'no-rule'],
    ['GET', '/containers/abc/top', 'no-rule'],
    ['GET', '/containers/abc/changes', 'no-rule'],
    ['GET', '/containers/abc/stats', 'no-rule'],
    ['GET', '/exec/abc/json', 'no-rule'],
    ['GET', '/system/df', 'no-rule'],
    ['GET', '/secrets', 'no-rule'],
    ['GET', '/containers/abc/archive?x=/containers/json', 'no-rule'],
    ['GET', '/containers/json/archive', 'no-rule'],
    ['GET', '/containers/abc/json/extra', 'no-rule'],
    // Non-canonical targets: refused, never normalised.
    ['GET', '/containers/abc/%61rchive', 'non-canonical-target'],
    ['GET', '/containers/abc%2Farchive', 'non-canonical-target'],
    ['GET', '/containers%2fjson', 'non-canonical-target'],
    ['GET', '/containers/./json', 'non-canonical-target'],
    ['GET', '/containers/abc/../abc/archive', 'non-canonical-target'],
    ['GET', '//containers/json', 'non-canonical-target'],
    ['GET', '/containers//json', 'non-canonical-target'],
    ['GET', '/containers/json/', 'non-canonical-target'],
    ['GET', '/containers\\abc\\archive', 'non-canonical-target'],
    ['GET', '/containers/json\u0000', 'non-canonical-target'],
    ['GET', '/containers/json#x', 'non-canonical-target'],
    ['GET', '/containers/abc/logs\u00a0', 'non-canonical-target'],
    ['GET', '/CONTAINERS/json', 'no-rule'],
    ['GET', '/Containers/abc/json', 'no-rule'],
    // Query strings that are not plain.
    ['GET', '/containers/json?filters=a&filters=b', 'bad-query'],
    ['GET', '/containers/json?all=%zz', 'bad-query'],
    ['GET', '/containers/json?all=1 ', 'non-canonical-target'],
  ];
  it.each(withAndWithoutVersion(refused))('%s %s → %s', (method, target, rule) => {
    const decision = decideTarget(method, target, READ_SECTIONS);
    expect(decision).toMatchObject({ allowed: false, rule });
    if (!decision.allowed) expect(decision.message).toMatch(/^devsec sandbox policy: /);
  });

  it.each([
    ['*', 'asterisk-form'],
    ['http://docker/containers/json', 'absolute-form'],
    ['http://docker/v1.41/containers/abc/archive', 'absolute-form'],
    ['containers/json', 'absolute-form'],
    ['/v1.41/v1.41/containers/json', 'non-canonical-target'],
    ['/v1.41/v1.40/containers/abc/json', 'non-canonical-target'],
    ['/V1.41/containers/json', 'no-rule'],
    ['/v1.41.0/containers/json', 'no-rule'],
    ['/v1/containers/json', 'no-rule'],
  ])('GET %s → %s', (target, rule) => {
    expect(decideTarget('GET', target, READ_SECTIONS)).toMatchObject({ allowed: false, rule });
  });

  it.each([
    ['POST', '/v1.41/containers/abc/exec', 'docker exec'],
    ['POST', '/v1.41/containers/create', 'docker run'],
    ['POST', '/build', 'docker build'],
    ['GET', '/containers/abc/archive', 'docker cp'],
    ['PUT', '/containers/abc/archive', 'docker cp'],
    ['GET', '/containers/abc/export', 'docker export'],
    ['GET', '/images/get', 'docker save'],
    ['POST', '/images/create', 'docker pull'],
    ['POST', '/commit', 'docker commit'],
    ['POST', '/swarm/init', 'docker swarm'],
  ])('words the refusal of %s %s as `%s`', (method, target, command) => {
    const decision = decideTarget(method, target, READ_SECTIONS);
    expect(decision.allowed).toBe(false);
    if (!decision.allowed) {
      expect(decision.message).toContain(`\`${command}`);
      expect(decision.message).toContain('this sandbox can only read');
    }
  });
});

describe('decide: section switches', () => {
  const only = (sections: Record<string, boolean>) => ({ PING: true, VERSION: true, EVENTS: true, ...sections });

  it('refuses a list with 403 while its section is off, naming the switch', () => {
    expect(decideTarget('GET', '/containers/json', only({}))).toMatchObject({
      allowed: false,
      status: 403,
      message: expect.stringContaining('CONTAINERS=1'),
    });
    expect(decideTarget('GET', '/info', only({}))).toMatchObject({ allowed: false, status: 403 });
  });

  it('answers inspect of a switched-off section with 404, so docker inspect falls through cleanly', () => {
    for (const target of ['/containers/abc/json', '/images/abc/json', '/networks/abc', '/volumes/abc']) {
      expect(decideTarget('GET', target, only({}))).toMatchObject({ allowed: false, status: 404 });
    }
  });

  it('hides plugins: inspect answers 404, anything else 403 (PLUGINS=1 is refused at start-up)', () => {
    expect(decideTarget('GET', '/plugins/abc/json', READ_SECTIONS)).toMatchObject({ allowed: false, status: 404 });
    expect(decideTarget('GET', '/plugins', READ_SECTIONS)).toMatchObject({ allowed: false, status: 403 });
  });

  it('turns PING, VERSION and EVENTS off when asked', () => {
    const none = { PING: false, VERSION: false, EVENTS: false };
    for (const target of ['/_ping', '/version', '/events']) {
      expect(decideTarget('GET', target, none)).toMatchObject({ allowed: false, status: 403 });
    }
  });
});

describe('parseQuery', () => {
  it('decodes values, including + as space', () => {
    expect(parseQuery('a=1&b=x%20y+z&c')).toEqual({ params: { a: '1', b: 'x y z', c: '' } });
  });
  it.each([
    ['a=1&a=2', /repeated/],
    ['a=%E0%A4%A', /percent-encoding|characters/],
    ['a=%0a', /control/],
    ['a b=1', /characters/],
    ['%61=1', /name/],
  ])('refuses %s', (query, message) => {
    const parsed = parseQuery(query);
    expect('error' in parsed && parsed.error).toMatch(message);
  });
});

describe('decide: headers and filters', () => {
  const head = (target: string, headers: Record<string, string>, method = 'GET') => decide({ method, target, headers }, READ_SECTIONS);
  const upgrade = {
    allowed: false,
    status: 403,
    rule: 'upgrade',
    message: 'devsec sandbox policy: protocol upgrades (attach, exec or websockets) are not proxied.',
  };
  const body = {
    allowed: false,
    status: 400,
    rule: 'request-body',
    message: 'devsec sandbox policy: requests with a body are not accepted by this read-only proxy.',
  };

  it.each([[{ upgrade: 'websocket', connection: 'Upgrade' }], [{ upgrade: 'tcp' }], [{ connection: 'keep-alive, Upgrade' }], [{ connection: 'upgrade' }]])(
    'refuses an upgrade on an allowed endpoint: %p',
    (headers) => {
      expect(head('/containers/abc/logs?stdout=1', headers)).toEqual(upgrade);
    },
  );

  it.each([[{ 'transfer-encoding': 'chunked' }], [{ 'content-length': '4' }], [{ 'transfer-encoding': 'chunked', 'content-length': '4' }]])(
    'refuses a request body on an allowed endpoint: %p',
    (headers) => {
      expect(head('/_ping', headers)).toEqual(body);
    },
  );

  it('lets headers through that ask for neither', () => {
    expect(head('/_ping', { connection: 'keep-alive', 'content-length': '0', 'x-upgraded': '1' })).toMatchObject({ allowed: true, rule: 'ping' });
  });

  it('speaks about the path first, then the query, the upgrade, the body and the filters', () => {
    const everything = { upgrade: 'tcp', connection: 'Upgrade', 'content-length': '4' };
    expect(head('/containers/create', everything, 'POST')).toMatchObject({ rule: 'read-only', status: 403 });
    expect(head('/containers/abc/archive', everything)).toMatchObject({ rule: 'no-rule', status: 403 });
    expect(head('/containers/json?a=1&a=2', everything)).toMatchObject({ rule: 'bad-query', status: 400 });
    expect(head('/containers/json?filters=nope', everything)).toMatchObject({ rule: 'upgrade', status: 403 });
    expect(head('/containers/json?filters=nope', { 'content-length': '4' })).toMatchObject({ rule: 'request-body', status: 400 });
  });

  it.each([
    ['/containers/json?filters=nope', 'the filters parameter is not valid JSON'],
    ['/v1.41/events?filters=%5B%5D', 'the filters parameter must be a JSON object'],
    ['/containers/json?filters=%7B%22label%22%3A%22x%22%7D', 'filters.label must be a list of strings'],
  ])('refuses %s, whose filters cannot take the scope label', (target, message) => {
    expect(head(target, {})).toEqual({ allowed: false, status: 400, rule: 'bad-query', message: `devsec sandbox policy: ${message}.` });
  });

  it('leaves the filters of rows that do not scope them to the engine, as before', () => {
    expect(head('/networks?filters=nope', {})).toMatchObject({ allowed: true, rule: 'network-list' });
    expect(
      RULES.filter((row) => row.scopesFilters)
        .map((row) => row.handle)
        .sort(),
    ).toEqual(['container-list', 'events']);
  });
});
