import { Tree } from '@nx/devkit';
import { workspaceWithProjects } from '../testing/workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import { localhostProxyGenerator } from '../generators/localhost-proxy/generator';
import { formatSarif, formatTable } from './report';
import { auditDockerfile, auditSandbox } from './static-audit';
import { DOCKERFILE } from '../sandbox/vocabulary';

const DIR = 'apps/app/.devcontainer';
const edit = (tree: Tree, path: string, change: (text: string) => string) => tree.write(path, change(tree.read(path, 'utf-8') as string));
const audit = (tree: Tree) => auditSandbox('apps/app', (path) => tree.read(path, 'utf-8'));

describe('audit', () => {
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', agent: 'claude', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', publish: true, skipFormat: true });
  });

  it('finds nothing in what the generators write', () => {
    expect(audit(tree)).toEqual([]);
    expect(formatTable([])).toMatch(/No findings/);
  });

  it('says "No findings" above notes (info) alone, never above a medium or high one', () => {
    const note = { rule: 'shared-kernel', key: 'shared-kernel', severity: 'info', file: 'a.yml', line: 1, message: 'm', fix: 'f' } as const;
    expect(formatTable([{ ...note }])).toMatch(/^No findings: the sandbox holds on every rule checked \(1 note below\)\.\nSEVERITY/);
    expect(formatTable([{ ...note }, { ...note, severity: 'medium' }])).not.toMatch(/No findings/);
  });

  it.each<[string, (tree: Tree) => void, string, RegExp]>([
    [
      'socket-mount',
      (t) =>
        edit(t, `${DIR}/docker-compose.yml`, (s) =>
          s.replace('      - node_modules:', '      - /var/run/docker.sock:/var/run/docker.sock\n      - node_modules:'),
        ),
      'docker-compose.yml',
      /socket/,
    ],
    [
      'privileged',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('    init: true', '    init: true\n    privileged: true')),
      'docker-compose.yml',
      /privileged/,
    ],
    [
      'proxy-on-shared-network',
      (t) =>
        edit(t, `${DIR}/docker-compose.yml`, (s) =>
          s.replace('    networks:\n      - sandbox\n    restart', '    networks:\n      - sandbox\n      - shared\n    restart'),
        ),
      'docker-compose.yml',
      /shared network/,
    ],
    [
      'ssh-mount',
      (t) => edit(t, `${DIR}/docker-compose.services.yml`, () => 'services:\n  app:\n    volumes:\n      - ~/.ssh:/home/node/.ssh:ro\n'),
      'docker-compose.services.yml',
      /SSH/,
    ],
    [
      'credential-mount',
      (t) => edit(t, `${DIR}/docker-compose.services.yml`, () => 'services:\n  app:\n    volumes:\n      - ~/.aws:/home/node/.aws\n'),
      'docker-compose.services.yml',
      /credentials/,
    ],
    ['sudo', (t) => edit(t, `${DIR}/${DOCKERFILE}`, (s) => s.replace('ripgrep docker-cli', 'ripgrep docker-cli sudo')), 'Dockerfile', /sudo/],
    ['runs-as-root', (t) => edit(t, `${DIR}/${DOCKERFILE}`, (s) => `${s}USER root\n`), 'Dockerfile', /root/],
    [
      'unpinned-image',
      (t) => edit(t, `${DIR}/docker-compose.services.yml`, () => 'services:\n  web:\n    image: nginx\n    networks: [sandbox]\n'),
      'docker-compose.services.yml',
      /pinned/,
    ],
    [
      'proxy-write-switch',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('      LOG_LEVEL: info', '      LOG_LEVEL: info\n      EXEC: "1"')),
      'docker-compose.yml',
      /write access/,
    ],
    [
      'proxy-write-policy',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('      LOG_LEVEL: info', '      LOG_LEVEL: info\n      WRITE_POLICY: "1"')),
      'docker-compose.yml',
      /does not ask for/,
    ],
    [
      'sandbox-writable',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('/.devcontainer:ro', '/.devcontainer')),
      'docker-compose.yml',
      /definition/,
    ],
    [
      'git-hooks-writable',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('/workspace/.git}:ro', '/workspace/.git}')),
      'docker-compose.yml',
      /git's own files \(config, hooks\), where a planted hook or core\.fsmonitor runs/,
    ],
    [
      'node-modules-shared',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace(/\n\s+- node_modules:\$\{DEVSEC_WORKSPACE:-\/workspace\}\/node_modules/, '')),
      'docker-compose.yml',
      /node_modules/,
    ],
    [
      'devcontainer-escape',
      (t) => edit(t, `${DIR}/devcontainer.json`, (s) => s.replace('"service": "app",', '"service": "app",\n  "runArgs": ["--privileged"],')),
      'devcontainer.json',
      /runArgs/,
    ],
    [
      'published-on-all-interfaces',
      (t) => edit(t, 'docker-compose.shared.yml', (s) => s.replace('127.0.0.1:5432:5432', '5432:5432')),
      'docker-compose.shared.yml',
      /every interface/,
    ],
  ])('%s: trips on its fixture, with file and line', (rule, weaken, file, message) => {
    weaken(tree);
    const findings = audit(tree);
    const finding = findings.find((f) => f.rule === rule);
    expect(finding).toBeDefined();
    expect(finding!.file.endsWith(file)).toBe(true);
    expect(finding!.line).toBeGreaterThan(0);
    expect(finding!.message).toMatch(message);
    const lines = (tree.read(finding!.file, 'utf-8') as string).split('\n');
    expect(lines[finding!.line! - 1]).toBeDefined();
  });

  it('points at the line of the offending key', () => {
    edit(tree, `${DIR}/docker-compose.yml`, (s) => s.replace('    init: true', '    init: true\n    privileged: true'));
    const finding = audit(tree).find((f) => f.rule === 'privileged')!;
    expect((tree.read(finding.file, 'utf-8') as string).split('\n')[finding.line! - 1]).toBe('    privileged: true');
  });

  it('prints a table and SARIF', () => {
    edit(tree, `${DIR}/${DOCKERFILE}`, (s) => s.replace('ripgrep docker-cli', 'ripgrep docker-cli sudo'));
    const findings = audit(tree);
    expect(formatTable(findings)).toMatch(/^SEVERITY\s+FILE:LINE\s+WHAT \/ FIX\nHIGH\s+apps\/app\/\.devcontainer\/sandbox\.Dockerfile:\d+\s+sudo: /);
    const sarif = JSON.parse(formatSarif(findings));
    expect(sarif.runs[0].results[0]).toMatchObject({ ruleId: 'sudo', level: 'error' });
  });

  it('says when there is no sandbox', () => {
    expect(auditSandbox('apps/web/frontend', (path) => tree.read(path, 'utf-8'))).toEqual([expect.objectContaining({ rule: 'no-sandbox' })]);
  });
});

describe('audit of a stack with an override file', () => {
  it("merges the user's services file into the model like compose: added volumes do not hide the generated ones", async () => {
    const tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', skipFormat: true });
    tree.write(`${DIR}/docker-compose.services.yml`, 'services:\n  app:\n    volumes:\n      - ~/.ssh:/home/node/.ssh:ro\n');
    const findings = audit(tree);
    expect(findings.map((f) => f.rule)).toEqual(['ssh-mount']);
    expect(findings[0]).toMatchObject({ file: `${DIR}/docker-compose.services.yml`, line: 4 }); // the mount itself
  });
});

describe('audit: the gate rules on files as written, one change, one finding at its line', () => {
  const SERVICES = `${DIR}/docker-compose.services.yml`;
  let tree: Tree;
  beforeEach(async () => {
    tree = workspaceWithProjects();
    await secureDevcontainerGenerator(tree, { project: 'app', agent: 'claude', skipFormat: true });
    await sharedServiceGenerator(tree, { preset: 'postgres', publish: true, skipFormat: true });
  });

  it("finds nothing in a generated stack with the localhost forwarder (its sysctl, app's network) and a user service", async () => {
    tree.write(
      SERVICES,
      'services:\n  web:\n    image: node:24-trixie-slim\n    networks: [sandbox]\n    volumes:\n      - web-cache:/srv/cache\nvolumes:\n  web-cache:\n',
    );
    await localhostProxyGenerator(tree, { project: 'app', skipFormat: true });
    expect(audit(tree)).toEqual([]);
  });

  const services = (text: string) => (t: Tree) => t.write(SERVICES, `services:\n${text}`);
  it.each<[string, (t: Tree) => void, string, string]>([
    ['system-path-mount', services('  app:\n    volumes:\n      - /etc:/host-etc\n'), SERVICES, '/etc:/host-etc'],
    ['socket-mount', services('  app:\n    volumes:\n      - /run/containerd/containerd.sock:/c.sock\n'), SERVICES, 'containerd.sock'],
    ['host-path-mount', services('  app:\n    volumes:\n      - ../../../..:/parent\n'), SERVICES, '../../../..'],
    ['host-path-mount', services('  app:\n    volumes:\n      - ${DEVSEC_WORKSPACE:-../../..}/../outside:/x\n'), SERVICES, '/../outside'],
    ['host-path-mount', services('  app:\n    volumes:\n      - /srv/data:/data\n'), SERVICES, '/srv/data'],
    ['host-path-mount', services('  app:\n    volumes:\n      - type: bind\n        source: ${DATA_DIR}\n        target: /data\n'), SERVICES, 'type: bind'],
    ['host-path-mount', services('  app:\n    env_file: ~/.env\n'), SERVICES, 'env_file'],
    [
      'system-path-mount',
      (t) => t.write(SERVICES, 'services: {}\nvolumes:\n  data:\n    driver_opts:\n      type: none\n      o: bind\n      device: /etc\n'),
      SERVICES,
      'device: /etc',
    ],
    ['ssh-mount', (t) => t.write(SERVICES, 'services: {}\nsecrets:\n  key:\n    file: ~/.ssh/id_ed25519\n'), SERVICES, 'file: ~/.ssh'],
    ['build-outside-workspace', services('  web:\n    image: web:1\n    build:\n      context: ~/src/other\n'), SERVICES, 'context: ~/src/other'],
    ['build-outside-workspace', services('  web:\n    image: web:1\n    build: ../../../../other\n'), SERVICES, 'build: ../../../../other'],
    ['privileged', services('  web:\n    image: web:1\n    build:\n      context: ../web\n      privileged: true\n'), SERVICES, 'privileged: true'],
    ['runs-as-root', services('  app:\n    user: root\n'), SERVICES, 'user: root'],
    ['runs-as-root', (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('    user: node\n', '')), `${DIR}/docker-compose.yml`, '  app:'],
    ['host-device', services('  app:\n    devices:\n      - /dev/sda:/dev/sda\n'), SERVICES, '/dev/sda'],
    ['unconfined', services('  app:\n    security_opt:\n      - seccomp:unconfined\n'), SERVICES, 'seccomp:unconfined'],
    ['dangerous-capability', services('  app:\n    cap_add: [CHOWN]\n'), SERVICES, 'cap_add'],
    ['host-namespace', services('  app:\n    pid: host\n'), SERVICES, 'pid: host'],
    ['joined-namespace', services('  web:\n    image: nginx:1.27\n    network_mode: service:app\n'), SERVICES, 'network_mode: service:app'],
    ['cgroup-parent', services('  app:\n    cgroup_parent: /system.slice\n'), SERVICES, 'cgroup_parent'],
    ['volumes-from', services('  web:\n    image: nginx:1.27\n    volumes_from: ["container:abc"]\n'), SERVICES, 'volumes_from'],
    ['workspace-mount', services('  web:\n    image: nginx:1.27\n    volumes:\n      - ../web:/srv/web:ro\n'), SERVICES, '../web:/srv/web:ro'],
    ['git-hooks-writable', services('  app:\n    volumes:\n      - ../../../.git/hooks:/x\n'), SERVICES, '.git/hooks:/x'],
    ['node-modules-shared', services('  app:\n    volumes:\n      - ../../../node_modules:/devsec/host-node_modules\n'), SERVICES, 'node_modules:/devsec'],
    ['sysctl', services('  app:\n    sysctls:\n      net.core.somaxconn: 1024\n'), SERVICES, 'net.core.somaxconn'],
    ['socket-mount', services('  app:\n    group_add:\n      - "${DEVSEC_DOCKER_GID:-0}"\n'), SERVICES, 'DEVSEC_DOCKER_GID'],
    ['published-on-all-interfaces', services('  web:\n    image: nginx:1.27\n    networks: [sandbox]\n    ports:\n      - "8080:80"\n'), SERVICES, '8080:80'],
    [
      'system-path-mount',
      (t) =>
        edit(t, 'docker-compose.shared.yml', (s) =>
          s
            .replace('      - postgres-data:', '      - /var/lib/postgresql:/old\n      - postgres-data:')
            .replace('/var/lib/postgresql:/old', '/etc/postgresql:/old'),
        ),
      'docker-compose.shared.yml',
      '/etc/postgresql',
    ],
  ])('%s (%#)', (rule, weaken, file, lineText) => {
    weaken(tree);
    const findings = audit(tree);
    expect(findings.map((f) => [f.rule, f.file])).toEqual([[rule, file]]);
    const line = (tree.read(file, 'utf-8') as string).split('\n')[findings[0].line! - 1];
    expect(line).toContain(lineText);
    expect(findings[0]).not.toHaveProperty('at');
  });

  it('lets the shared services run as root inside their own containers', () => {
    edit(tree, 'docker-compose.shared.yml', (s) => s.replace('    image: postgres:17', '    image: postgres:17\n    user: root'));
    expect(audit(tree)).toEqual([]);
  });
});

describe('the sandbox Dockerfile, read as Docker reads it', () => {
  const F = 'sandbox.Dockerfile';
  const found = (text: string) => auditDockerfile(F, text).map((f) => `${f.rule}:${f.line}`);
  const BASE = 'ARG BASE_IMAGE=node:24-trixie-slim\nFROM ${BASE_IMAGE}\n';

  it.each([
    ['USER node at the end', `${BASE}RUN true\nUSER node\n`, []],
    ['USER root, continued on the next line', `${BASE}USER node\nRUN true\nUSER \\\n  root\n`, ['runs-as-root:5']],
    ['USER from an ARG', `${BASE}ARG WHO=root\nUSER $WHO\n`, ['runs-as-root:4']],
    ['USER from an ENV, braced', `${BASE}ENV W=ro\nUSER \${W}ot:0\n`, ['runs-as-root:4']],
    ['USER 0', `${BASE}USER 0\n`, ['runs-as-root:3']],
    // The last USER in the file is another stage's: the image is the last stage, built from a root one.
    [
      'a final stage built FROM a root stage',
      'FROM node:24-trixie-slim AS base\nUSER root\nFROM debian:12 AS other\nUSER node\nFROM base\nRUN true\n',
      ['runs-as-root:2'],
    ],
    ['a final stage FROM a stage that ends as node', 'FROM node:24-trixie-slim AS base\nUSER node\nFROM base\nRUN true\n', []],
    ['no USER at all', 'FROM node:24-trixie-slim\nRUN true\n', ['runs-as-root:1']],
    ['sudo split by a line continuation', `${BASE}RUN apt-get install -y su\\\ndo\nUSER node\n`, ['sudo:3']],
    ['sudo in a heredoc', `${BASE}RUN <<EOF\napt-get install -y sudo\nEOF\nUSER node\n`, ['sudo:3']],
    ['sudo only in a comment', `${BASE}# no sudo here\nUSER node\n`, []],
    ['an unpinned base from the ARG', 'ARG BASE_IMAGE=node\nFROM ${BASE_IMAGE}\nUSER node\n', ['unpinned-image:2']],
    ['an unpinned base in a build stage', 'FROM node AS build\nFROM node:24-trixie-slim\nUSER node\n', ['unpinned-image:1']],
    ['a stage named like an image', 'FROM node:24-trixie-slim AS node\nFROM node\nUSER node\n', []],
  ])('%s', (_, text, expected) => {
    expect(found(text)).toEqual(expected);
  });
});
