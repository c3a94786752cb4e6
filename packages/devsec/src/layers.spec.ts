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
      "import { runCommand } from '../host/engine/run';\nexport const r = runCommand;\n",
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
      "import { gate } from '../host/guard/gate';\nexport const r = gate;\n",
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
      "import { prepareWorktree } from '../../host/stack/sandbox-stack';\nexport const r = prepareWorktree;\n",
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
    // host/'s rooms: each imports only those below it; executors and the CLI come in through lifecycle.ts.
    [
      'host/engine/ importing git/',
      'packages/devsec/src/host/engine/example.ts',
      "import { readGitLayout } from '../git/git-layout';\nexport const r = readGitLayout;\n",
      /host\/engine\/ imports only the rooms below it/,
    ],
    [
      'host/git/ importing stack/',
      'packages/devsec/src/host/git/example.ts',
      "import { prepareWorktree } from '../stack/sandbox-stack';\nexport const r = prepareWorktree;\n",
      /host\/git\/ imports only the rooms below it/,
    ],
    [
      'host/stack/ importing guard/',
      'packages/devsec/src/host/stack/example.ts',
      "import { gate } from '../guard/gate';\nexport const r = gate;\n",
      /host\/stack\/ imports only the rooms below it/,
    ],
    [
      'host/guard/ importing audit/',
      'packages/devsec/src/host/guard/example.ts',
      "import { runAudit } from '../audit/audit';\nexport const r = runAudit;\n",
      /host\/guard\/ imports only the rooms below it/,
    ],
    [
      'host/audit/ importing lifecycle.ts',
      'packages/devsec/src/host/audit/example.ts',
      "import { startSandbox } from '../lifecycle';\nexport const r = startSandbox;\n",
      /host\/audit\/ imports only the rooms below it/,
    ],
    [
      'host/surface/ importing stack/',
      'packages/devsec/src/host/surface/example.ts',
      "import { prepareWorktree } from '../stack/sandbox-stack';\nexport const r = prepareWorktree;\n",
      /host\/surface\/ imports only the rooms below it/,
    ],
    [
      'an executor importing a room behind lifecycle.ts',
      'packages/devsec/src/executors/example.ts',
      "import { gate } from '../host/guard/gate';\nexport const r = gate;\n",
      /through lifecycle\.ts/,
    ],
    [
      'the CLI importing a room behind lifecycle.ts',
      'packages/devsec/src/cli/example.ts',
      "import { runCommand } from '../host/engine/run';\nexport const r = runCommand;\n",
      /through lifecycle\.ts/,
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
    [
      'the CLI importing host/ through its ways in',
      'packages/devsec/src/cli/example.ts',
      "import { runAudit } from '../host/audit/audit';\nimport { startSandbox } from '../host/lifecycle';\nexport const r = [runAudit, startSandbox];\n",
    ],
    [
      'host/stack/ importing engine/ and git/',
      'packages/devsec/src/host/stack/example.ts',
      "import { runCommand } from '../engine/run';\nimport { readGitLayout } from '../git/git-layout';\nexport const r = [runCommand, readGitLayout];\n",
    ],
  ])('lets %s through', (_name, file, source) => {
    const { status, output } = lint(file, source);
    expect(output).toBe('');
    expect(status).toBe(0);
  });
});
