import { execFileSync, spawnSync, SpawnSyncReturns } from 'node:child_process';

/**
 * Real-engine suites call `describeWithDocker`. Under DEVSEC_REQUIRE_DOCKER=1 (set by .ci/run)
 * a missing engine fails the suite loudly; elsewhere the suite is skipped with a visible reason.
 */
export const dockerRequired = process.env.DEVSEC_REQUIRE_DOCKER === '1';

function probeDocker(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf8', timeout: 20_000 });
  if (info.error) return `the docker CLI is not runnable (${info.error.message})`;
  if (info.status !== 0) return `the Docker engine does not answer: ${info.stderr.trim().split('\n').pop()}`;
  const compose = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8', timeout: 20_000 });
  if (compose.status !== 0 || !/^v?2\./.test(compose.stdout.trim())) return 'Compose v2 (`docker compose`) is missing';
  return undefined;
}

export const dockerProblem = probeDocker();

export const describeWithDocker: jest.Describe = ((name: string, body: () => void) => {
  if (!dockerProblem) return describe(name, body);
  if (dockerRequired) {
    return describe(name, () => {
      it('needs a Docker engine (DEVSEC_REQUIRE_DOCKER=1)', () => {
        throw new Error(`${dockerProblem}. Run .ci/setup-engine.sh, or unset DEVSEC_REQUIRE_DOCKER to skip real-engine suites.`);
      });
    });
  }
  console.warn(`skipping real-engine suite "${name}": ${dockerProblem}`);
  return describe.skip(name, body);
}) as jest.Describe;

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the docker CLI without a shell; `host` is a DOCKER_HOST, default the real socket. */
export function docker(args: string[], options: { host?: string; input?: string; timeout?: number; cwd?: string } = {}): Run {
  const env = { ...process.env };
  delete env.DOCKER_CONTEXT;
  if (options.host) env.DOCKER_HOST = options.host;
  else delete env.DOCKER_HOST;
  const result: SpawnSyncReturns<string> = spawnSync('docker', args, {
    encoding: 'utf8',
    env,
    input: options.input,
    cwd: options.cwd,
    timeout: options.timeout ?? 60_000,
  });
  return { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? (result.error ? String(result.error) : '') };
}

/** Like `docker`, but throws with the CLI's own words when it fails. */
export function dockerOk(args: string[], options: Parameters<typeof docker>[1] = {}): string {
  const run = docker(args, options);
  if (run.status !== 0) throw new Error(`docker ${args.join(' ')} failed (${run.status}): ${run.stderr}`);
  return run.stdout;
}

export function requireImage(image: string): void {
  try {
    execFileSync('docker', ['image', 'inspect', image], { stdio: 'ignore' });
  } catch {
    throw new Error(`image ${image} is missing: run scripts/stand-in-images.sh (no registry can be pulled from here).`);
  }
}

export const ROOTFS_IMAGE = 'devsec-rootfs:trixie';

/**
 * What the engine recorded (`docker events`) since `since` (the engine's clock, from
 * `engineNow()`) up to now, for each filter set (the keys of one set are ANDed, the sets are
 * ORed): one line per event, `type action name-or-id`. Suites run side by side, so a "nothing
 * changed" check names what the refused commands could have touched instead of diffing the whole
 * engine — and sees a `--rm` container that came and went, which a before/after list cannot.
 */
export function engineEventsSince(since: string, filterSets: Array<Record<string, string>>): string[] {
  const until = engineNow();
  const seen = new Set<string>();
  for (const filters of filterSets) {
    const args = [
      'events',
      '--since',
      since,
      '--until',
      until,
      '--format',
      '{{.Type}} {{.Action}} {{if .Actor.Attributes.name}}{{.Actor.Attributes.name}}{{else}}{{.Actor.ID}}{{end}}',
    ];
    for (const [key, value] of Object.entries(filters)) args.push('--filter', `${key}=${value}`);
    for (const line of dockerOk(args).split('\n')) if (line.trim()) seen.add(line.trim());
  }
  return [...seen].sort();
}

/** The engine's clock, in the form `docker events --since` takes. */
export function engineNow(): string {
  return dockerOk(['info', '--format', '{{.SystemTime}}']).trim();
}
