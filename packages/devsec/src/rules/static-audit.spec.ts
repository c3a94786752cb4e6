import { Tree } from '@nx/devkit';
import { workspaceWithProjects } from '../testing/workspace';
import { secureDevcontainerGenerator } from '../generators/secure-devcontainer/generator';
import { sharedServiceGenerator } from '../generators/shared-service/generator';
import { formatSarif, formatTable } from './report';
import { auditSandbox } from './static-audit';
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
      'sandbox-writable',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('/.devcontainer:ro', '/.devcontainer')),
      'docker-compose.yml',
      /definition/,
    ],
    [
      'git-hooks-writable',
      (t) => edit(t, `${DIR}/docker-compose.yml`, (s) => s.replace('/workspace/.git}:ro', '/workspace/.git}')),
      'docker-compose.yml',
      /\.git is writable from inside: a planted hook or config/,
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
