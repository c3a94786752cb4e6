/**
 * The layer rule (README, "Layout") is an ESLint rule: these cases lint one import at a time as
 * if it stood in a file of each layer, with the repository's own configuration.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..', '..');

function lint(file: string, source: string): { status: number | null; output: string } {
  const eslint = join(ROOT, 'node_modules', 'eslint', 'bin', 'eslint.js');
  const result = spawnSync(process.execPath, [eslint, '--no-warn-ignored', '--stdin', '--stdin-filename', join(ROOT, file)], {
    cwd: ROOT,
    input: source,
    encoding: 'utf-8',
  });
  return { status: result.status, output: result.stdout + result.stderr };
}

describe('the layer rule', () => {
  it.each([
    [
      'sandbox/ importing host/',
      'packages/devsec/src/sandbox/example.ts',
      "import { runCommand } from '../host/run';\nexport const r = runCommand;\n",
      /sandbox\/ is Tree-only/,
    ],
    [
      'sandbox/ importing rules/',
      'packages/devsec/src/sandbox/example.ts',
      "import { RULES } from '../rules/registry';\nexport const r = RULES;\n",
      /sandbox\/ is Tree-only/,
    ],
    [
      'sandbox/ reading the filesystem',
      'packages/devsec/src/sandbox/example.ts',
      "import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n",
      /filesystem and processes belong in host/,
    ],
    [
      'rules/ importing host/',
      'packages/devsec/src/rules/example.ts',
      "import { policyGate } from '../host/gate';\nexport const r = policyGate;\n",
      /rules\/ are pure judgements/,
    ],
    [
      'rules/ starting processes',
      'packages/devsec/src/rules/example.ts',
      "import { spawnSync } from 'node:child_process';\nexport const r = spawnSync;\n",
      /filesystem and processes belong in host/,
    ],
    [
      'a generator importing host/',
      'packages/devsec/src/generators/x/generator.ts',
      "import { prepareWorktree } from '../../host/sandbox-stack';\nexport const r = prepareWorktree;\n",
      /never import host/,
    ],
    [
      'the plugin importing rules/',
      'packages/devsec/src/plugins/example.ts',
      "import { RULES } from '../rules/registry';\nexport const r = RULES;\n",
      /imports sandbox\/ only/,
    ],
    [
      'host/ importing an executor',
      'packages/devsec/src/host/example.ts',
      "import up from '../executors/up-worktree/executor';\nexport const r = up;\n",
      /never the other way round/,
    ],
    [
      'host/ importing the CLI',
      'packages/devsec/src/host/example.ts',
      "import { main } from '../cli/main';\nexport const r = main;\n",
      /never the other way round/,
    ],
    [
      'the CLI importing Nx',
      'packages/devsec/src/cli/example.ts',
      "import { logger } from '@nx/devkit';\nexport const r = logger;\n",
      /devsec runs nothing of the workspace/,
    ],
    [
      'the CLI importing an executor',
      'packages/devsec/src/cli/example.ts',
      "import up from '../executors/up-worktree/executor';\nexport const r = up;\n",
      /devsec runs nothing of the workspace/,
    ],
  ])('fails on %s', (_name, file, source, message) => {
    const { status, output } = lint(file, source);
    expect(output).toMatch(message);
    expect(status).toBe(1);
  });

  it.each([
    [
      'host/ importing rules/ and sandbox/',
      'packages/devsec/src/host/example.ts',
      "import { RULES } from '../rules/registry';\nimport { APP_SERVICE } from '../sandbox/vocabulary';\nexport const r = [RULES, APP_SERVICE];\n",
    ],
    [
      'rules/ importing sandbox/',
      'packages/devsec/src/rules/example.ts',
      "import { APP_SERVICE } from '../sandbox/vocabulary';\nexport const r = APP_SERVICE;\n",
    ],
    [
      'a generator importing sandbox/ and rules/',
      'packages/devsec/src/generators/x/generator.ts',
      "import { RULES } from '../../rules/registry';\nimport { APP_SERVICE } from '../../sandbox/vocabulary';\nexport const r = [RULES, APP_SERVICE];\n",
    ],
    ['the CLI importing host/', 'packages/devsec/src/cli/example.ts', "import { runAudit } from '../host/audit';\nexport const r = runAudit;\n"],
  ])('lets %s through', (_name, file, source) => {
    const { status, output } = lint(file, source);
    expect(output).toBe('');
    expect(status).toBe(0);
  });
});
