import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNodes } from './plugin';

describe('createNodes', () => {
  let root: string;
  const write = (path: string, content: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-plugin-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const infer = (files: string[], options = {}) =>
    createNodes[1](files, options, { nxJsonConfiguration: {}, workspaceRoot: root }) as Array<readonly [string, any]>;

  it('adds up-worktree and down-worktree to projects with our compose file', () => {
    write('apps/app/project.json', '{}');
    write('apps/app/.devcontainer/docker-compose.yml', 'services:\n  app:\n    labels:\n      org.devsec.managed: "true"\n');
    const [[file, result]] = infer(['apps/app/.devcontainer/docker-compose.yml']);
    expect(file).toBe('apps/app/.devcontainer/docker-compose.yml');
    expect(Object.keys(result.projects['apps/app'].targets)).toEqual(['up-worktree', 'down-worktree', 'audit']);
    expect(result.projects['apps/app'].targets['up-worktree']).toMatchObject({
      executor: '@org/devsec:up-worktree',
      options: { composeFile: 'apps/app/.devcontainer/docker-compose.yml' },
    });
  });

  it('honours target names from the plugin options', () => {
    write('apps/app/package.json', '{}');
    write('apps/app/.devcontainer/docker-compose.yml', 'org.devsec.managed');
    const [[, result]] = infer(['apps/app/.devcontainer/docker-compose.yml'], {
      upTargetName: 'sandbox-up',
      downTargetName: 'sandbox-down',
      auditTargetName: 'sandbox-audit',
    });
    expect(Object.keys(result.projects['apps/app'].targets)).toEqual(['sandbox-up', 'sandbox-down', 'sandbox-audit']);
  });

  it('ignores compose files that are not ours, and folders that are not projects', () => {
    write('apps/other/project.json', '{}');
    write('apps/other/.devcontainer/docker-compose.yml', 'services: {}\n');
    write('stray/.devcontainer/docker-compose.yml', 'org.devsec.managed');
    expect(infer(['apps/other/.devcontainer/docker-compose.yml', 'stray/.devcontainer/docker-compose.yml'])).toEqual([]);
  });
});

describe('createNodes for the shared infrastructure', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-plugin-shared-'));
    mkdirSync(join(root, 'apps/app/.devcontainer'), { recursive: true });
    writeFileSync(join(root, 'apps/app/project.json'), '{}');
    writeFileSync(join(root, 'apps/app/.devcontainer/docker-compose.yml'), 'org.devsec.managed');
    writeFileSync(join(root, 'docker-compose.shared.yml'), 'name: ws-shared\nx-devsec:\n  project: infra\nservices: {}\n');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('makes the shared infrastructure a project with up-shared/down-shared, and every up-worktree depend on it', () => {
    const results = createNodes[1](
      ['apps/app/.devcontainer/docker-compose.yml', 'docker-compose.shared.yml'],
      {},
      { nxJsonConfiguration: {}, workspaceRoot: root },
    ) as Array<readonly [string, any]>;
    const shared = results.find(([file]) => file === 'docker-compose.shared.yml')![1];
    expect(shared.projects['.'].name).toBe('infra');
    expect(Object.keys(shared.projects['.'].targets)).toEqual(['up-shared', 'down-shared']);
    const app = results.find(([file]) => file.startsWith('apps/'))![1];
    expect(app.projects['apps/app'].targets['up-worktree'].dependsOn).toEqual([{ projects: ['infra'], target: 'up-shared' }]);
  });
});
