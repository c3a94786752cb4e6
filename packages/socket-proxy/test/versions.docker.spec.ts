/**
 * Every allowed endpoint in every API version this engine accepts (1.12–1.41), through one
 * stack's proxy on a real engine: no container of the other stack or of another repository,
 * and no planted secret, appears anywhere in any answer. Then what the proxy redacts, read
 * with the docker CLI next to the engine's own answer.
 */
import { get } from 'node:http';
import { describeWithDocker, dockerOk, requireImage, ROOTFS_IMAGE } from '../../../tools/testing/docker';
import { POSTGRES_IMAGE, startTwoStacks, TwoStacks } from './two-stacks';

jest.setTimeout(300_000);

/** `docker version` here: API 1.41, minimum 1.12. */
const VERSIONS = Array.from({ length: 30 }, (_, i) => `v1.${12 + i}`);
const ENGINE = '/var/run/docker.sock';

function fetchRaw(socketPath: string, path: string): Promise<{ status: number; type: unknown; body: string }> {
  return new Promise((resolve, reject) => {
    get({ socketPath, path }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, type: response.headers['content-type'], body: Buffer.concat(chunks).toString('latin1') }),
      );
    }).on('error', reject);
  });
}

describeWithDocker('every API version, every allowed endpoint, on a real engine', () => {
  let t: TwoStacks;
  let startedAt: number;

  beforeAll(async () => {
    requireImage(ROOTFS_IMAGE);
    requireImage(POSTGRES_IMAGE);
    startedAt = Math.floor(Date.now() / 1000) - 1;
    t = await startTwoStacks();
  });

  afterAll(async () => {
    await t?.remove();
  });

  /** Names and ids (full and short) of every container outside stack a's scope, and the planted secrets. */
  const forbidden = () => {
    const names = [...Object.values(t.b.names), t.other];
    const ids = names.map((name) => t.ids.get(name) as string);
    return [...names, ...ids, ...ids.map((id) => id.slice(0, 12)), ...Object.values(t.secrets)];
  };

  /** Every allowed endpoint, with what it must answer; a container outside the scope is missing. */
  const endpoints = (until: number): Array<{ path: string; hidden?: string }> => [
    { path: '/_ping' },
    { path: '/version' },
    { path: '/info' },
    { path: `/events?since=${startedAt}&until=${until}` },
    { path: '/containers/json?all=1&size=1' },
    { path: '/containers/json' },
    { path: `/containers/${t.a.names.app}/json?size=1` },
    { path: `/containers/${t.mounted}/json` },
    { path: `/containers/${t.postgres}/json` },
    { path: `/containers/${t.a.names.app}/logs?stdout=1&stderr=1&timestamps=1` },
    { path: `/containers/${t.postgres}/logs?stdout=1&stderr=1` },
    { path: '/images/json' },
    { path: `/images/${ROOTFS_IMAGE}/json` },
    { path: '/networks' },
    { path: `/networks/${t.network}` },
    { path: `/networks/${t.network}?verbose=1` },
    { path: '/networks/bridge' },
    { path: '/volumes' },
    { path: `/volumes/${t.volume}` },
    { path: `/volumes/${t.mountVolume}` },
    ...[t.b.names.app, t.ids.get(t.b.names.web) as string, t.other].flatMap((ref) => [
      { path: `/containers/${ref}/json`, hidden: ref },
      { path: `/containers/${ref}/logs?stdout=1`, hidden: ref },
    ]),
  ];

  it.each(VERSIONS)('%s: no container outside the scope and no secret in any answer', async (version) => {
    const until = Math.floor(Date.now() / 1000);
    const missing = `devsec-missing-${t.run}`;
    const problems: string[] = [];
    for (const { path, hidden } of endpoints(until)) {
      const answer = await fetchRaw(t.a.proxy.socketPath, `/${version}${path}`);
      if (hidden) {
        // Exactly what the engine answers, in this version, for a container that does not exist.
        const engine = await fetchRaw(ENGINE, `/${version}${path.replace(hidden, missing)}`);
        const expected = { status: engine.status, type: engine.type, body: engine.body.replace(missing, hidden) };
        if (JSON.stringify(answer) !== JSON.stringify(expected)) problems.push(`${path}: ${JSON.stringify(answer)}, not ${JSON.stringify(expected)}`);
        continue;
      }
      if (answer.status !== 200) problems.push(`${path}: status ${answer.status}: ${answer.body.slice(0, 200)}`);
      for (const word of forbidden()) if (answer.body.includes(word)) problems.push(`${path}: holds ${word}`);
    }
    expect(problems).toEqual([]);
  });

  it('the network list of API versions before 1.28 lists containers in scope only; later versions list none', async () => {
    const appId = t.ids.get(t.a.names.app) as string;
    const theirId = t.ids.get(t.b.names.app) as string;
    for (const version of ['v1.24', 'v1.25', 'v1.26', 'v1.27']) {
      // The engine answers these versions with every network's containers …
      expect((await fetchRaw(ENGINE, `/${version}/networks`)).body).toContain(theirId);
      // … and the proxy keeps those in scope.
      const listed = JSON.parse((await fetchRaw(t.a.proxy.socketPath, `/${version}/networks`)).body);
      const shared = listed.find((network: { Name: string }) => network.Name === t.network);
      expect(Object.keys(shared.Containers).sort()).toEqual([appId, t.ids.get(t.postgres)].sort());
    }
    const current = JSON.parse((await fetchRaw(t.a.proxy.socketPath, '/v1.28/networks')).body);
    expect(current.find((network: { Name: string }) => network.Name === t.network).Containers).toEqual({});
    // An old-version inspect of the shared network, likewise.
    const inspected = JSON.parse((await fetchRaw(t.a.proxy.socketPath, `/v1.24/networks/${t.network}`)).body);
    expect(Object.keys(inspected.Containers).sort()).toEqual([appId, t.ids.get(t.postgres)].sort());
  });

  describe('redaction, read with the docker CLI', () => {
    const viaA = (args: string[]) => dockerOk(args, { host: t.a.proxy.host });

    it("a volume's driver options (o=…,password=…), in inspect and in the list", () => {
      expect(dockerOk(['volume', 'inspect', t.volume])).toContain(t.secrets.volumeOption);
      const [volume] = JSON.parse(viaA(['volume', 'inspect', t.volume]));
      expect(volume.Options).toEqual({ type: '<redacted>', device: '<redacted>', o: '<redacted>' });
      expect(viaA(['volume', 'ls', '--format', '{{.Name}} {{.Driver}}'])).toContain(`${t.volume} local`);
      expect(viaA(['volume', 'ls', '--format', '{{json .}}'])).not.toContain(t.secrets.volumeOption);
    });

    it("a container's log driver options", () => {
      expect(dockerOk(['inspect', t.a.names.app])).toContain(t.secrets.logOption);
      const [container] = JSON.parse(viaA(['inspect', t.a.names.app]));
      expect(container.HostConfig.LogConfig).toEqual({ Type: 'json-file', Config: { 'max-size': '<redacted>', tag: '<redacted>' } });
    });

    it("a container's volume mount options (--mount volume-opt=…), and the volume they created", () => {
      expect(dockerOk(['inspect', t.mounted])).toContain(t.secrets.mountOption);
      const [container] = JSON.parse(viaA(['inspect', t.mounted]));
      expect(container.HostConfig.Mounts[0].VolumeOptions.DriverConfig.Options).toEqual({ type: '<redacted>', device: '<redacted>', o: '<redacted>' });
      expect(viaA(['volume', 'inspect', t.mountVolume])).not.toContain(t.secrets.mountOption);
    });
  });
});
