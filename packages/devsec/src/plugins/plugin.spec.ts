import { AggregateCreateNodesError, getOutputsForTargetAndConfiguration, ProjectGraphProjectNode } from '@nx/devkit';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { stampManaged } from '../sandbox/managed-file';
import { SHARED_MARKER_NOTE } from '../sandbox/shared-trust';
import { forgetInferenceMemory } from './cache';
import { createNodes, createNodesV2 } from './plugin';

// Counts parses; the plugin loads yaml lazily, and gets this module.
jest.mock('yaml', () => {
  const actual = jest.requireActual('yaml');
  return { ...actual, parseDocument: jest.fn(actual.parseDocument) };
});

const OURS = 'services:\n  app:\n    labels:\n      org.devsec.managed: "true"\n';
const COMPOSE = 'apps/app/.devcontainer/docker-compose.yml';
const SHARED_BODY = 'name: ws-shared\nx-devsec:\n  project: infra\nservices: {}\n';

describe('createNodes', () => {
  let root: string;
  const write = (path: string, content: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  };
  const infer = async (files: string[], options = {}) =>
    Object.fromEntries((await createNodes[1](files, options, { nxJsonConfiguration: {}, workspaceRoot: root })) as Array<readonly [string, any]>);
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-plugin-'));
    write('apps/app/project.json', '{}');
    write(COMPOSE, OURS);
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    forgetInferenceMemory();
    jest.restoreAllMocks();
  });

  it('gives a project with our compose file its targets, in the devsec group', async () => {
    const { [COMPOSE]: result } = await infer([COMPOSE]);
    const project = result.projects['apps/app'];
    expect(Object.keys(project.targets)).toEqual(['up-worktree', 'down-worktree', 'fetch', 'reset-data', 'audit', 'audit-live']);
    expect(project.metadata.targetGroups).toEqual({ devsec: ['up-worktree', 'down-worktree', 'fetch', 'reset-data', 'audit', 'audit-live'] });
    expect(project.targets['reset-data']).toMatchObject({ executor: '@org/devsec:reset-data', options: { composeFile: COMPOSE }, cache: false });
    expect(project.targets['up-worktree']).toMatchObject({ executor: '@org/devsec:up-worktree', options: { composeFile: COMPOSE }, cache: false });
    expect(project.targets.fetch).toMatchObject({ executor: '@org/devsec:fetch', options: { composeFile: COMPOSE }, cache: false });
    expect(createNodesV2).toBe(createNodes);
  });

  it('caches the static audit on its real inputs and report, and never the live audit, up or down', async () => {
    const { targets } = (await infer([COMPOSE]))[COMPOSE].projects['apps/app'];
    expect(targets.audit).toMatchObject({
      executor: '@org/devsec:audit',
      cache: true,
      inputs: [
        '{projectRoot}/.devcontainer/*',
        '{workspaceRoot}/docker-compose.shared.yml',
        { runtime: expect.stringMatching(/^echo @org\/devsec@\d+\.\d+\.\d+/) },
      ],
      outputs: ['{options.outputFile}'],
    });
    expect(targets['audit-live']).toMatchObject({ executor: '@org/devsec:audit', options: { composeFile: COMPOSE, live: true }, cache: false });
    expect(targets['audit-live'].inputs).toBeUndefined();
    expect(targets['down-worktree'].cache).toBe(false);
    // Nx accepts the outputs, and caches the report only when there is one.
    const node = { name: 'app', type: 'app', data: { root: 'apps/app', targets } } as ProjectGraphProjectNode;
    expect(getOutputsForTargetAndConfiguration({ project: 'app', target: 'audit' }, {}, node)).toEqual([]);
    expect(getOutputsForTargetAndConfiguration({ project: 'app', target: 'audit' }, { outputFile: 'reports/audit.sarif' }, node)).toEqual([
      'reports/audit.sarif',
    ]);
  });

  it('takes target names and the group from the options, normalised', async () => {
    write('apps/app/project.json', '');
    const options = {
      upTargetName: ' sandbox-up ',
      downTargetName: 'sandbox-down',
      fetchTargetName: 'sandbox-fetch',
      auditTargetName: 'sandbox-audit',
      auditLiveTargetName: '',
      targetGroup: 'Sandbox',
    };
    const project = (await infer([COMPOSE], options))[COMPOSE].projects['apps/app'];
    expect(Object.keys(project.targets)).toEqual(['sandbox-up', 'sandbox-down', 'sandbox-fetch', 'reset-data', 'sandbox-audit', 'audit-live']);
    expect(Object.keys(project.metadata.targetGroups)).toEqual(['Sandbox']);
  });

  it('ignores compose files that are not ours, and folders that are not projects', async () => {
    write('apps/other/project.json', '{}');
    write('apps/other/.devcontainer/docker-compose.yml', 'services: {}\n');
    write('stray/.devcontainer/docker-compose.yml', OURS);
    expect(await infer(['apps/other/.devcontainer/docker-compose.yml', 'stray/.devcontainer/docker-compose.yml'])).toEqual({});
  });

  it('names a broken compose file in its own error, and still infers every other file', async () => {
    write('apps/broken/project.json', '{}');
    write('apps/broken/.devcontainer/docker-compose.yml', `${OURS}  : [unclosed\n`);
    write('apps/mine/project.json', '{}');
    write('apps/mine/.devcontainer/docker-compose.yml', 'services: [not, ours\n');
    const error: AggregateCreateNodesError = await Promise.resolve(
      createNodes[1](
        [COMPOSE, 'apps/broken/.devcontainer/docker-compose.yml', 'apps/mine/.devcontainer/docker-compose.yml'],
        {},
        { nxJsonConfiguration: {}, workspaceRoot: root },
      ),
    ).then(
      () => Promise.reject(new Error('no error')),
      (e: AggregateCreateNodesError) => e,
    );
    expect(error).toBeInstanceOf(AggregateCreateNodesError);
    expect(error.errors).toHaveLength(1);
    expect(error.errors[0][0]).toBe('apps/broken/.devcontainer/docker-compose.yml');
    expect(error.errors[0][1].message).toMatch(/^apps\/broken\/\.devcontainer\/docker-compose\.yml is not valid YAML .* --force$/);
    // The good file's nodes come through; a file that does not claim to be ours is no error.
    expect(error.partialResults.map(([file]) => file)).toEqual([COMPOSE, 'apps/mine/.devcontainer/docker-compose.yml']);
  });

  it('parses an unchanged file once: the cache, kept on disk, is keyed by its content', async () => {
    const parse = parseDocument as jest.Mock;
    parse.mockClear();
    await infer([COMPOSE]);
    expect(parse).toHaveBeenCalledTimes(1);
    forgetInferenceMemory(); // as a new nx process would start
    const again = await infer([COMPOSE]);
    expect(parse).toHaveBeenCalledTimes(1);
    expect(again[COMPOSE].projects['apps/app'].targets).toHaveProperty('audit');
    expect(readdirSync(join(root, '.nx/workspace-data')).filter((name) => name.startsWith('devsec-'))).toHaveLength(1);
    write(COMPOSE, `${OURS}# changed\n`);
    await infer([COMPOSE]);
    expect(parse).toHaveBeenCalledTimes(2);
    await infer([COMPOSE], { targetGroup: 'other' });
    expect(parse).toHaveBeenCalledTimes(3);
  });
});

describe('createNodes for the shared infrastructure', () => {
  let root: string;
  const infer = async () =>
    Object.fromEntries(
      (await createNodes[1]([COMPOSE, 'docker-compose.shared.yml'], {}, { nxJsonConfiguration: {}, workspaceRoot: root })) as Array<readonly [string, any]>,
    );
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-plugin-shared-'));
    mkdirSync(join(root, 'apps/app/.devcontainer'), { recursive: true });
    writeFileSync(join(root, 'apps/app/project.json'), '{}');
    writeFileSync(join(root, COMPOSE), OURS);
  });
  afterEach(() => {
    rmSync(root, { recursive: true, force: true });
    forgetInferenceMemory();
  });

  it('makes a stamped shared file a project with up-shared/down-shared, and every up-worktree depend on it', async () => {
    writeFileSync(join(root, 'docker-compose.shared.yml'), stampManaged('docker-compose.shared.yml', SHARED_BODY, SHARED_MARKER_NOTE));
    const results = await infer();
    const shared = results['docker-compose.shared.yml'].projects['.'];
    expect(shared.name).toBe('infra');
    expect(Object.keys(shared.targets)).toEqual(['up-shared', 'down-shared']);
    expect(shared.targets['up-shared'].cache).toBe(false);
    expect(shared.metadata.targetGroups).toEqual({ devsec: ['up-shared', 'down-shared'] });
    expect(results[COMPOSE].projects['apps/app'].targets['up-worktree'].dependsOn).toEqual([{ projects: ['infra'], target: 'up-shared' }]);
  });

  it.each([
    ['without the marker', SHARED_BODY],
    ['edited after it was stamped', stampManaged('docker-compose.shared.yml', SHARED_BODY).replace('services: {}', 'services:\n  evil:\n    image: x:1')],
  ])('infers nothing from a shared file %s, and up-worktree depends on nothing', async (_, content) => {
    writeFileSync(join(root, 'docker-compose.shared.yml'), content);
    const results = await infer();
    expect(results['docker-compose.shared.yml']).toBeUndefined();
    expect(results[COMPOSE].projects['apps/app'].targets['up-worktree'].dependsOn).toBeUndefined();
  });
});
