/**
 * `audit --live` on a real engine: clean on the stack the generator writes, and each way of
 * weakening a copy of it shows up as its own finding, seen from inside the dev container.
 */
import { ExecutorContext, logger } from '@nx/devkit';
import { chownSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FsTree, flushChanges } from 'nx/src/generators/tree';
import { describeWithDocker, docker } from '../../../../../tools/testing/docker';
import { createSandboxWorkspace } from '../../../../../tools/testing/sandbox-workspace';
import { secureDevcontainerGenerator } from '../../generators/secure-devcontainer/generator';
import { FORBIDDEN_CALLS, gatherProbeInput, runLiveProbe } from '../../host/audit/live-audit';
import { locateStack } from '../../host/stack/sandbox-stack';
import type { AuditFinding } from '../../rules/report';
import upWorktree from '../up-worktree/executor';
import downWorktree from '../down-worktree/executor';
import audit from './executor';
import { DOCKERFILE } from '../../sandbox/vocabulary';

jest.setTimeout(300_000);

const run = Math.random().toString(36).slice(2, 8);
const network = `devsec-live-${run}`;
const composeFile = 'apps/app/.devcontainer/docker-compose.yml';

/** The host user owns the workspace, as on a developer's machine (uid 1000 = node inside). */
function chownTree(path: string): void {
  chownSync(path, 1000, 1000);
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) chownTree(join(path, entry));
}

describeWithDocker('audit --live on a real engine', () => {
  let dir: string;
  let context: ExecutorContext;
  let servicesFile: string;
  let dockerfile: string;
  let cleanServices: string;
  let cleanDockerfile: string;

  const up = async (unsafeAllow: string[] = []) => {
    const errors: string[] = [];
    const spy = jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      const result = await upWorktree({ composeFile, unsafeAllow }, context);
      if (!result.success) throw new Error(`up-worktree failed:\n${errors.join('\n')}`);
    } finally {
      spy.mockRestore();
    }
  };
  /** The user-owned services file, with `services` replaced by a weakening. */
  const weakenServices = (services: string) => writeFileSync(servicesFile, cleanServices.replace('services: {}', `services:\n${services}`));
  const liveAudit = async () => {
    const outputFile = `audit-${Math.random().toString(36).slice(2, 8)}.json`;
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const result = await audit({ composeFile, live: true, format: 'json', outputFile }, context);
      const findings = JSON.parse(readFileSync(join(dir, outputFile), 'utf-8')) as AuditFinding[];
      return { success: result.success, findings, live: findings.filter((finding) => finding.rule.startsWith('live-')) };
    } finally {
      write.mockRestore();
      rmSync(join(dir, outputFile), { force: true });
    }
  };

  beforeAll(async () => {
    let git;
    ({ dir, git } = createSandboxWorkspace('devsec-live-', `live-${run}`));
    const tree = new FsTree(dir, false);
    // On the host's kernel: this suite weakens copies of the stack (a mounted socket, readable env) and reads what the
    // probe sees through runc's /proc; the probe on gVisor is executors/gvisor.docker.spec.ts's.
    await secureDevcontainerGenerator(tree, { project: 'app', network, runtime: 'runc', skipFormat: true });
    flushChanges(dir, tree.listChanges());
    git('add', '-A');
    git('commit', '-q', '-m', 'live audit');
    chownTree(dir);
    // This process is root: let its git (and the executors' children) read the uid-1000 repository.
    Object.assign(process.env, { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'safe.directory', GIT_CONFIG_VALUE_0: '*' });
    context = { root: dir, cwd: dir, projectName: 'app', isVerbose: false } as ExecutorContext;
    servicesFile = join(dir, 'apps/app/.devcontainer/docker-compose.services.yml');
    dockerfile = join(dir, 'apps/app/.devcontainer', DOCKERFILE);
    cleanServices = readFileSync(servicesFile, 'utf-8');
    cleanDockerfile = readFileSync(dockerfile, 'utf-8');
  });

  afterEach(() => {
    writeFileSync(servicesFile, cleanServices);
    writeFileSync(dockerfile, cleanDockerfile);
  });

  afterAll(async () => {
    if (!dir) return;
    await downWorktree({ composeFile, volumes: true, images: true }, context);
    docker(['network', 'rm', network]);
    rmSync(dir, { recursive: true, force: true });
    for (const name of ['GIT_CONFIG_COUNT', 'GIT_CONFIG_KEY_0', 'GIT_CONFIG_VALUE_0']) delete process.env[name];
  });

  it('a generated stack: the probe sees every forbidden call refused, read-only sandbox files, no other Docker API; no finding', async () => {
    await up();
    const stack = locateStack(dir, composeFile);
    const { container, input } = gatherProbeInput(stack);
    const seen = runLiveProbe(container.Name.replace(/^\//, ''), input);
    // What the clean verdict rests on, so that "no finding" cannot mean "looked at nothing".
    // The agent's uid, as the kernel reports it for the container's first process; the probe ran as another.
    expect([seen.uid, seen.user, seen.probeUid]).toEqual([1000, 'node', 65534]);
    expect(seen.status.noNewPrivs).toBe('1');
    const proxy = seen.endpoints.find((endpoint) => endpoint.name === 'DOCKER_HOST=tcp://docker-proxy:2375');
    expect(proxy?.docker).toBe(true);
    expect(proxy?.calls).toHaveLength(FORBIDDEN_CALLS.length * 2);
    for (const call of proxy!.calls!) expect([call.method, call.path, call.answer.status]).toEqual([call.method, call.path, 403]);
    expect(seen.writable.map((entry) => [entry.path.replace(dir, ''), entry.error])).toEqual(
      expect.arrayContaining([
        ['/apps/app/.devcontainer', 'EROFS'],
        ['/apps/app/.devcontainer/docker-compose.yml', 'EROFS'],
        ['/docker-compose.shared.yml', 'EROFS'],
        // .git inside is the sandbox's own git dir; the repository's hooks and info in it are read-only.
        ['/.git/hooks', 'EROFS'],
        ['/.git/info', 'EROFS'],
      ]),
    );
    expect(seen.network.some((target) => /gateway/.test(target.label))).toBe(true);
    expect(seen.network.filter((target) => target.answer.status !== undefined)).toEqual([]);
    expect(seen.sockets).toEqual([]);

    const { success, live } = await liveAudit();
    expect(live).toEqual([]);
    expect(success).toBe(true);
  });

  it("VS Code's channels, as the extension makes them inside, are each reported; a session started as devsec agent does sees none of them", async () => {
    await up();
    const app = `${locateStack(dir, composeFile).identity.composeProjectName}-app-1`;
    const inside = (script: string, detach = false) => docker(['exec', ...(detach ? ['-d'] : []), '-u', 'node', app, 'sh', '-c', script]);
    // A stand-in for VS Code's server (where the extension installs it): its sockets in /tmp, its channels in its environment; a copied .gitconfig and docker config.
    const server =
      "const net=require('net');for(const n of ['vscode-ssh-auth-1','vscode-git-2','vscode-ipc-3'])net.createServer().listen('/tmp/'+n+'.sock');setInterval(()=>{},1e6)";
    inside(`mkdir -p ~/.vscode-server/bin/x/out && echo "${server}" > ~/.vscode-server/bin/x/out/server-main.js`);
    inside(
      'SSH_AUTH_SOCK=/tmp/vscode-ssh-auth-1.sock VSCODE_IPC_HOOK_CLI=/tmp/vscode-ipc-3.sock GIT_ASKPASS=/tmp/askpass.sh node ~/.vscode-server/bin/x/out/server-main.js',
      true,
    );
    inside('printf \'[credential]\\n\\thelper = "/home/node/.vscode-server/bin/x/node /tmp/vscode-remote-containers-1.js"\\n\' > ~/.gitconfig');
    inside('mkdir -p ~/.docker && echo \'{"credsStore":"dev-containers-1"}\' > ~/.docker/config.json');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      const { live } = await liveAudit();
      const channels = live.filter((finding) => finding.rule === 'live-vscode-channel').map((finding) => finding.message);
      for (const socket of ['vscode-ssh-auth-1', 'vscode-git-2', 'vscode-ipc-3'])
        expect(channels).toContainEqual(expect.stringContaining(`/tmp/${socket}.sock`));
      expect(channels).toContainEqual(
        expect.stringMatching(/process \d+ is VS Code's server \(node \/home\/node\/\.vscode-server\/bin\/x\/out\/server-main\.js\)/),
      );
      expect(channels).toContainEqual(expect.stringContaining('~/.gitconfig (copied in by VS Code) sets a credential helper'));
      expect(live.map((finding) => finding.message)).toContainEqual(expect.stringContaining('/home/node/.docker/config.json holds credentials'));
      // The agent's own session (devsec agent: docker exec as the user, the container's environment): none of it.
      const session = inside(
        'env | grep -cE "^(SSH_AUTH_SOCK|VSCODE_|GIT_ASKPASS)" ; git config --get credential.helper ; echo "[$(docker config 2>/dev/null)]" ; echo "docker config dir: $DOCKER_CONFIG"',
      );
      expect(session.stdout.split('\n').slice(0, 1)).toEqual(['0']);
      expect(session.stdout).not.toContain('vscode-remote-containers');
      expect(session.stdout).toContain('docker config dir: /home/node/.config/devsec/docker');
    } finally {
      inside('pkill -f server-main.js; rm -rf /tmp/vscode-*.sock ~/.gitconfig ~/.docker/config.json ~/.vscode-server');
    }
  });

  it("the agent writes its own verdict into the probe's stdout (/proc/<pid>/fd/1) while the probe runs: it cannot, and the probe's own answer holds", async () => {
    await up();
    const app = `${locateStack(dir, composeFile).identity.composeProjectName}-app-1`;
    const inside = (script: string, detach = false) => docker(['exec', ...(detach ? ['-d'] : []), '-u', 'node', app, 'sh', '-c', script]);
    // Something the real probe reports (the agent's own credentials file), and a forged clean answer that hides it, with escapes in its user.
    inside('mkdir -p ~/.aws && echo "[default]" > ~/.aws/credentials');
    const forged = JSON.stringify({ uid: 1000, user: '\x1b[31mforged', probeUid: 65534, credentials: { files: [], helpers: [], env: [] } });
    const attacker = `
      const fs = require('fs');
      const forged = ${JSON.stringify(forged)} + '\\n';
      const log = (line) => fs.appendFileSync('/tmp/forge.log', line + '\\n');
      setInterval(() => {
        for (const pid of fs.readdirSync('/proc').filter((entry) => /^[0-9]+$/.test(entry))) {
          let command = '';
          try { command = fs.readFileSync('/proc/' + pid + '/cmdline', 'utf-8'); } catch { continue; }
          if (!command.startsWith('node\\0-\\0')) continue;
          try { fs.writeFileSync('/proc/' + pid + '/fd/1', forged); log('wrote ' + pid); } catch (error) { log(error.code + ' ' + pid); }
        }
      }, 5);`;
    docker(['exec', '-i', '-u', 'node', app, 'sh', '-c', 'cat > /tmp/forge.js'], { input: attacker });
    inside('node /tmp/forge.js', true);
    try {
      const { success, live } = await liveAudit();
      const log = inside('cat /tmp/forge.log').stdout;
      // The agent found the probe and tried: the kernel refused the writes into the probe's stdout (another uid's descriptors).
      expect(log).toMatch(/^EACCES \d+$/m);
      // The look at its home runs in the agent's own session: a write there makes that answer refused, and the refusal a finding.
      const messages = live.map((finding) => finding.message);
      expect(messages).toContainEqual(
        expect.stringMatching(/\/home\/node\/\.aws holds credentials|the agent's home could not be looked at: .*not what the probe writes/),
      );
      expect(success).toBe(false);
      expect(JSON.stringify(live)).not.toContain('forged');
    } finally {
      inside('pkill -f /tmp/forge.js; rm -rf ~/.aws /tmp/forge.js /tmp/forge.log');
    }
  });

  it('a re-run with nothing changed skips the build; the remembered gate still refuses a weakened copy', async () => {
    const info: string[] = [];
    const spy = jest.spyOn(logger, 'info').mockImplementation((message) => void info.push(String(message)));
    try {
      await up();
    } finally {
      spy.mockRestore();
    }
    const started = info.find((line) => line.startsWith('Starting '));
    expect(started).toMatch(/ up --detach --remove-orphans$/);
    // Same inputs, same verdict: but a changed services file is new input, and the gate reads it.
    weakenServices(`  app:\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n`);
    const errors: string[] = [];
    jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    try {
      expect(await upWorktree({ composeFile }, context)).toEqual({ success: false });
    } finally {
      jest.restoreAllMocks();
    }
    expect(errors.join('\n')).toMatch(/Refusing to start.*socket-mount/s);
  });

  // The probe runs as another uid than the agent's, but an exec gets the container's added groups (group_add): it asks the socket as the agent would.
  it('the Docker socket mounted into app: the socket, the calls that reach the engine and the readable env are each reported', async () => {
    weakenServices(`  app:\n    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n    group_add:\n      - "\${DEVSEC_DOCKER_GID:-0}"\n`);
    await up(['socket-mount']);
    const { success, live } = await liveAudit();
    expect(success).toBe(false);
    const rules = live.map((finding) => finding.rule);
    expect(rules).toEqual(expect.arrayContaining(['live-docker-socket', 'live-docker-api', 'live-env-readable']));
    expect(live.find((finding) => finding.rule === 'live-docker-api')?.message).toContain('through /var/run/docker.sock');
  });

  it('sudo installed in the image: reported', async () => {
    writeFileSync(
      dockerfile,
      cleanDockerfile.replace(
        /USER node\s*$/m,
        "USER root\nRUN apt-get update && apt-get install -y --no-install-recommends sudo && echo 'node ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/node\nUSER node",
      ),
    );
    await up();
    const { live } = await liveAudit();
    expect(live.map((finding) => [finding.rule, finding.severity])).toEqual([['live-sudo', 'high']]);
    expect(live[0].message).toContain('/usr/bin/sudo is installed');
  });

  it("the proxy put on the shared network: reported as this stack's proxy reachable there", async () => {
    weakenServices(`  docker-proxy:\n    networks:\n      - sandbox\n      - shared\n`);
    await up(['proxy-on-shared-network']);
    const { live } = await liveAudit();
    expect(live.map((finding) => finding.rule)).toEqual(['live-proxy-reachable']);
    expect(live[0].message).toContain(`this stack's proxy on network ${network}`);
  });

  it('~/.ssh mounted: reported', async () => {
    const home = join(dir, '..', `devsec-live-home-${run}`);
    mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o755 });
    writeFileSync(join(home, '.ssh', 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n', { mode: 0o644 });
    try {
      weakenServices(`  app:\n    volumes:\n      - ${home}/.ssh:/home/node/.ssh:ro\n`);
      await up(['ssh-mount']);
      const { live } = await liveAudit();
      expect(live.map((finding) => finding.rule)).toEqual(['live-ssh-keys']);
      expect(live[0].message).toContain('/home/node/.ssh');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it('the stack down (with --images): --live says to start it, and fails; the built images are gone', async () => {
    const project = locateStack(dir, composeFile).identity.composeProjectName;
    // Tagged images only: earlier builds of this test's weakened Dockerfiles are left untagged.
    const built = () => docker(['images', '-q', '--filter', 'dangling=false', '--filter', `label=com.docker.compose.project=${project}`]).stdout.trim();
    expect(built()).not.toBe('');
    await downWorktree({ composeFile, images: true }, context);
    expect(built()).toBe('');
    const errors: string[] = [];
    jest.spyOn(logger, 'error').mockImplementation((message) => void errors.push(String(message)));
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await audit({ composeFile, live: true }, context)).toEqual({ success: false });
    } finally {
      jest.restoreAllMocks();
      write.mockRestore();
    }
    expect(errors.join('\n')).toMatch(/is not running.*nx run app:up-worktree/);
  });
});
