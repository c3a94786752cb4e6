/** What the agent sees and can do from inside the running sandbox. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { docker, dockerOk, engineEventsSince, engineNow } from '../../../../tools/testing/docker';
import { inside, journey, sharedProject } from './context';

export function describeAgentView(): void {
  it('reaches postgres and redis by hostname with the generated credentials, kept outside the workspace and git', () => {
    const pg = inside(
      'psql "$DATABASE_URL" -tAc "create table if not exists notes(t text); insert into notes values (\'from one\'); select count(*) from notes"',
    );
    expect(pg.stderr).toBe('');
    expect(pg.stdout.trim().split('\n').pop()).toBe('1');
    // The worktree's own tenant and database (host/stack/tenants.ts), never the administrator.
    expect(inside('echo "$DATABASE_URL"').stdout).toMatch(/^postgresql:\/\/app_ws_[0-9a-f]{8}:[^@]+@postgres:5432\/app_app_ws_[0-9a-f]{8}$/m);
    expect(inside('redis-cli -u "$REDIS_URL" ping').stdout.trim()).toBe('PONG');
    const secrets = readFileSync(join(journey.stateHome, `devsec/shared/${sharedProject()}.env`), 'utf-8');
    const password = /^DEVSEC_POSTGRES_PASSWORD=(\S{20,})$/m.exec(secrets)![1];
    // git grep exits 1 when nothing matches: no committed file holds the password.
    expect(journey.ws.run('git', ['grep', '-n', password], { allowFailure: true }).status).toBe(1);
    expect(inside(`ls ${journey.stateHome} 2>&1`).stdout).toMatch(/No such file or directory/);
  });

  it("reaches the stack's own web service at localhost:3000, over IPv4 and IPv6 (IPv4 only on gVisor, as up says)", () => {
    const web = dockerOk(['inspect', '-f', '{{.Config.Hostname}}', `${journey.project}-web-1`]).trim();
    for (const url of ['http://localhost:3000', 'http://127.0.0.1:3000']) expect(inside(`curl -s -m 5 -g "${url}"`).stdout).toBe(`web ${web}`);
    // runsc does not apply the loopback's IPv6 sysctl: ::1 does not exist there, so nothing answers on it.
    const onGvisor = dockerOk(['inspect', '-f', '{{.HostConfig.Runtime}}', `${journey.project}-app-1`]).trim() === 'runsc';
    const v6 = inside('curl -s -m 5 -g "http://[::1]:3000"');
    expect([v6.status === 0, v6.stdout]).toEqual(onGvisor ? [false, ''] : [true, `web ${web}`]);
  });

  it('names the stack after the project and the worktree, and git-ignores its per-machine files', () => {
    expect(journey.project).toMatch(/^app-ws-[0-9a-f]{8}$/);
    expect(journey.ws.run('git', ['status', '--porcelain']).stdout).toBe('');
  });

  it('lets the agent see its siblings through the proxy, env values redacted', () => {
    const { project } = journey;
    const ps = inside('docker ps --format "{{.Names}}"');
    expect(ps.status).toBe(0);
    expect(ps.stdout.split('\n')).toEqual(expect.arrayContaining([`${project}-app-1`, `${project}-docker-proxy-1`]));
    expect(inside(`docker logs ${project}-docker-proxy-1`).stdout).toContain('"msg":"listening"');
    expect(inside(`docker inspect ${project}-docker-proxy-1`).stdout).toContain('SCOPE_LABEL=<redacted>');
  });

  it('sees the shared services (postgres logs included) and nothing outside its scope', () => {
    const outsider = `devsec-e2e-outsider-${journey.project}`;
    dockerOk(['run', '-d', '--name', outsider, 'devsec-rootfs:trixie', 'sleep', 'infinity']);
    try {
      const names = inside('docker ps -a --format "{{.Names}}"').stdout;
      expect(names).toContain(`${sharedProject()}-postgres-1`);
      expect(names).not.toContain(outsider);
      expect(inside(`docker logs ${sharedProject()}-postgres-1 2>&1`).stdout).toContain('database system is ready to accept connections');
      const hidden = inside(`docker inspect ${outsider}`);
      expect(hidden.status).not.toBe(0);
      expect(hidden.stderr).toMatch(/No such object/);
    } finally {
      docker(['rm', '-f', outsider]);
    }
  });

  // What a refused command would have made carries this mark or name, so the engine's record of it is this journey's alone.
  const mark = () => `devsec-journey=${journey.project}`;
  const unbuilt = () => `devsec-journey-should-not-exist-${journey.project}`;
  let since: string;

  it.each([
    ['docker run', () => `docker run --rm --label ${mark()} node:24-trixie-slim true`],
    ['docker exec', () => `docker exec ${journey.project}-docker-proxy-1 true`],
    [
      'docker build',
      () => `mkdir -p /tmp/b && echo "FROM node:24-trixie-slim" > /tmp/b/Dockerfile && docker build -q --label ${mark()} -t ${unbuilt()} /tmp/b`,
    ],
    ['docker cp', () => `docker cp ${journey.project}-docker-proxy-1:/etc/hostname /tmp/h`],
  ])('refuses %s with the policy message', (_name, script) => {
    since ??= engineNow();
    const result = inside(script());
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('devsec sandbox policy');
  });

  it("left nothing in the engine's record after those refusals: no container or image of theirs, no exec or copy on the proxy", () => {
    // Not a diff of the whole engine: other suites run beside this one. The proxy's own health check
    // is an exec too (exec_create and exec_start name its command, exec_die names none): left out by
    // its exact command, so the refused `docker exec … true` would still show as `exec_create: true`.
    const proxy = `${journey.project}-docker-proxy-1`;
    const [, ...check] = JSON.parse(dockerOk(['inspect', '--format', '{{json .Config.Healthcheck.Test}}', proxy])) as string[];
    const healthCheck = new Set([
      `container exec_create: ${check.join(' ')} ${proxy}`,
      `container exec_start: ${check.join(' ')} ${proxy}`,
      `container exec_die ${proxy}`,
    ]);
    const events = engineEventsSince(since, [{ label: mark() }, { image: unbuilt() }, { container: proxy }]);
    expect(events.filter((event) => !healthCheck.has(event))).toEqual([]);
  });

  it('reaches no Docker engine on any gateway (2375/2376), and has nothing to push with', () => {
    const gateways = ['dev', `${journey.project}_sandbox`]
      .map((network) => dockerOk(['network', 'inspect', network, '-f', '{{range .IPAM.Config}}{{.Gateway}} {{end}}']).trim())
      .join(' ')
      .split(/\s+/)
      .filter(Boolean);
    expect(gateways.length).toBeGreaterThan(0);
    for (const gateway of gateways)
      for (const port of [2375, 2376]) expect(inside(`curl -s -m 2 --noproxy '*' http://${gateway}:${port}/_ping`).status).not.toBe(0);
    const push = inside('git push git@github.com:devsec/never.git HEAD');
    expect(push.status).not.toBe(0);
    expect(push.stderr).toMatch(/ssh|Could not read from remote repository/);
    const credentials =
      'git config --get credential.helper; ls ~/.git-credentials ~/.config/gh 2>/dev/null; env | grep -iE "^(GH_|GITHUB_|GIT_ASKPASS|SSH_)" || true';
    expect(inside(credentials).stdout.trim()).toBe('');
  });

  it('goes out through the egress proxy only: an unlisted host is refused, and without the proxy nothing resolves or routes', () => {
    expect(inside(`curl -sS -o /dev/null -w '%{http_connect}' -m 10 https://example.com/`).stdout).toBe('403');
    expect(inside('timeout 5 getent hosts example.com').status).not.toBe(0);
    expect(inside(`curl -sS --noproxy '*' -m 5 https://1.1.1.1/`).status).not.toBe(0);
  });

  it('runs as a non-root user without sudo, SSH agent or keys, and without the Docker socket', () => {
    expect(inside('id -u').stdout.trim()).toBe('1000');
    expect(inside('command -v sudo').status).not.toBe(0);
    expect(inside('echo "[$SSH_AUTH_SOCK]"; ls ~/.ssh').stdout).toContain('[]');
    expect(inside('test -e ~/.ssh').status).not.toBe(0);
    expect(inside('test -e /var/run/docker.sock || test -e /run/docker.sock').status).not.toBe(0);
  });
}
