import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkConfiguredOptions, commandLineOnlyOptions, ConfiguredTarget, ExecutorOptionsSchema } from './configured-options';

const EXECUTORS = join(__dirname, '../../executors');
const schemaOf = (executor: string): ExecutorOptionsSchema => JSON.parse(readFileSync(join(EXECUTORS, executor, 'schema.json'), 'utf-8'));
const INFERRED = 'apps/app/.devcontainer/docker-compose.yml';

describe('options that widen the sandbox come from the command line only', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'devsec-options-'));
    mkdirSync(join(root, 'apps/app'), { recursive: true });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const where = (target = 'up-worktree', executor = '@org/devsec:up-worktree') => ({ workspaceRoot: root, projectRoot: 'apps/app', target, executor });
  const write = (file: string, json: unknown) => writeFileSync(join(root, file), JSON.stringify(json));
  /** What the project graph holds for the target: the inferred options plus what the files add. */
  const check = (configured: ConfiguredTarget, executor = 'up-worktree', target = executor) =>
    checkConfiguredOptions(configured, where(target, `@org/devsec:${executor}`), schemaOf(executor), { composeFile: INFERRED });

  it('reads the refused names from each schema, every alias included', () => {
    expect([...commandLineOnlyOptions(schemaOf('up-worktree'))]).toEqual([
      ['composeFile', ['composeFile']],
      ['unsafeAllow', ['unsafeAllow', 'unsafe-allow']],
      ['caCerts', ['caCerts']],
      ['upstreamProxy', ['upstreamProxy']],
    ]);
    expect([...commandLineOnlyOptions(schemaOf('audit')).keys()]).toEqual(['composeFile', 'outputFile']);
    for (const executor of ['down-worktree', 'up-shared', 'down-shared'])
      expect([...commandLineOnlyOptions(schemaOf(executor)).keys()]).toEqual(['composeFile']);
    expect(commandLineOnlyOptions({ properties: { x: { alias: 'y', aliases: ['z', 'y'], 'x-devsec-command-line-only': true }, w: {} } })).toEqual(
      new Map([['x', ['x', 'y', 'z']]]),
    );
  });

  it.each([
    ['unsafeAllow', { unsafeAllow: ['privileged'] }, /unsafeAllow, set in apps\/app\/project\.json/],
    // Nx maps the schema's alias onto the option from project.json as from the command line.
    ['its alias unsafe-allow', { 'unsafe-allow': ['privileged'] }, /unsafeAllow \(as unsafe-allow\), set in apps\/app\/project\.json/],
    ['another compose file', { composeFile: '/tmp/evil.yml' }, /composeFile, set in apps\/app\/project\.json/],
    // The agent's upstream would see every tunnel; its CA would read them.
    ['an upstream proxy', { upstreamProxy: 'http://agent.example:3128' }, /upstreamProxy, set in apps\/app\/project\.json/],
    ['a CA file vouched for', { caCerts: 'certs/agent-ca.pem' }, /caCerts, set in apps\/app\/project\.json/],
  ])('refuses %s in project.json options', (_, options, message) => {
    write('apps/app/project.json', { targets: { 'up-worktree': { options } } });
    expect(() => check({ options: { composeFile: INFERRED, ...options } })).toThrow(message);
  });

  it('refuses unsafe-allow in a configuration of the target', () => {
    write('apps/app/project.json', { targets: { 'up-worktree': { configurations: { ci: { 'unsafe-allow': 'privileged' } } } } });
    const configured = { options: { composeFile: INFERRED }, configurations: { ci: { 'unsafe-allow': 'privileged' } } };
    expect(() => check(configured)).toThrow(/unsafeAllow \(as unsafe-allow\), set in apps\/app\/project\.json/);
  });

  it.each([
    ['by executor', '@org/devsec:up-worktree'],
    ['by target name', 'up-worktree'],
  ])('refuses unsafe-allow in nx.json targetDefaults %s', (_, key) => {
    write('nx.json', { targetDefaults: { [key]: { options: { 'unsafe-allow': ['socket-mount'] } } } });
    expect(() => check({ options: { composeFile: INFERRED, 'unsafe-allow': ['socket-mount'] } })).toThrow(
      /unsafeAllow \(as unsafe-allow\), set in nx\.json \(targetDefaults\)/,
    );
    // Read from the file itself, even where the graph handed to the executor does not show it.
    expect(() => check({ options: { composeFile: INFERRED } })).toThrow(/unsafe-allow/);
  });

  it('refuses unsafe-allow in the nx field of package.json', () => {
    write('apps/app/package.json', { name: 'app', nx: { targets: { 'up-worktree': { options: { 'unsafe-allow': ['privileged'] } } } } });
    expect(() => check({ options: { composeFile: INFERRED } })).toThrow(/unsafeAllow \(as unsafe-allow\), set in apps\/app\/package\.json \("nx" field\)/);
  });

  it('refuses outputFile for the audit, and a compose file from a configuration', () => {
    write('apps/app/project.json', { targets: { audit: { options: { outputFile: '/home/u/.bashrc' } } } });
    expect(() => check({ options: { composeFile: INFERRED, outputFile: '/home/u/.bashrc' } }, 'audit')).toThrow(/outputFile, set in apps\/app\/project\.json/);
    expect(() => check({ options: { composeFile: INFERRED }, configurations: { x: { composeFile: '/tmp/evil.yml' } } }, 'down-worktree')).toThrow(
      /composeFile, set in the project configuration/,
    );
  });

  it('lets the inferred options, and ordinary ones, through', () => {
    write('apps/app/project.json', { targets: { 'up-worktree': { options: { composeFile: INFERRED, wait: false, 'refill-node-modules': true } } } });
    expect(() => check({ options: { composeFile: INFERRED, wait: false, 'refill-node-modules': true } })).not.toThrow();
  });
});
