// Lint for the whole repository: typescript-eslint's recommended rules, and the layer rule of
// packages/devsec/src (README, "Layout"): sandbox/ imports nothing above it, rules/ imports only
// sandbox/, generators never import host/; and the rooms of packages/socket-proxy/src. Tests may
// build their fixtures from any layer.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (message, ...folders) => ({
  'no-restricted-imports': [
    'error',
    {
      patterns: [...folders.map((folder) => ({ regex: `(^|/)${folder}(/|$)`, message }))],
    },
  ],
});

/** Modules that touch the filesystem or start processes: host/ only. */
const hostOnlyModules = (message) => ({
  'no-restricted-imports': [
    'error',
    {
      paths: ['node:fs', 'fs', 'node:child_process', 'child_process', 'node:fs/promises', 'fs/promises'].map((name) => ({ name, message })),
      patterns: [],
    },
  ],
});

const SOURCES = (folder) => [`packages/devsec/src/${folder}/**/*.ts`];
const ONE_WAY_IN = 'Executors and the CLI enter host/ through lifecycle.ts (and audit/audit.ts, surface/): the rooms behind it are its own (README, Layout).';
const BEHIND_LIFECYCLE = ['host/engine', 'host/git', 'host/stack', 'host/guard'];
/** Each room of host/ and the rooms (and lifecycle.ts) it must not import, lowest first. */
const HOST_ROOMS = {
  engine: ['git', 'stack', 'guard', 'audit', 'surface', 'lifecycle'],
  git: ['stack', 'guard', 'audit', 'surface', 'lifecycle'],
  stack: ['guard', 'audit', 'surface', 'lifecycle'],
  guard: ['audit', 'surface', 'lifecycle'],
  audit: ['surface', 'lifecycle'],
  surface: ['stack', 'guard', 'audit', 'lifecycle'],
};
const TESTS = ['**/*.spec.ts', '**/testing/**', 'tools/**', 'e2e/**'];

/** Merges the path and pattern lists of several no-restricted-imports settings into one. */
function restrict(...settings) {
  const paths = settings.flatMap((s) => s['no-restricted-imports'][1].paths ?? []);
  const patterns = settings.flatMap((s) => s['no-restricted-imports'][1].patterns ?? []);
  return { 'no-restricted-imports': ['error', { paths, patterns }] };
}

export default tseslint.config(
  // Vendored third-party code is kept byte for byte as published (a unit test compares it).
  { ignores: ['**/node_modules/**', 'dist/**', 'tmp/**', 'coverage/**', '**/files/**', '.nx/**', '**/vendor/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        console: 'readonly',
        process: 'readonly',
        require: 'readonly',
        module: 'writable',
        __dirname: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // JSON files (the package's own version, a schema) are read with require.
      '@typescript-eslint/no-require-imports': ['error', { allow: ['\\.json$'] }],
    },
  },
  // CommonJS scripts that run without a build (the live probe) require Node's modules.
  { files: ['**/*.js'], rules: { '@typescript-eslint/no-require-imports': 'off' } },
  // The live probe's parts are one script, joined before it runs: each says, in /* global */ and
  // /* exported */ comments, which names it takes from the other parts and which it gives them.
  { files: ['packages/devsec/src/host/audit/live-probe/*.js'], languageOptions: { sourceType: 'script' } },
  // Tests poke at parsed files whose shape they are checking.
  { files: ['**/*.spec.ts'], rules: { '@typescript-eslint/no-explicit-any': 'off' } },
  {
    files: SOURCES('sandbox'),
    ignores: TESTS,
    rules: restrict(
      layer(
        'sandbox/ is Tree-only vocabulary and types: it imports nothing above it (README, Layout).',
        'rules',
        'host',
        'generators',
        'executors',
        'plugins',
        'cli',
        'bin',
      ),
      hostOnlyModules('sandbox/ works on the Tree only; filesystem and processes belong in host/.'),
    ),
  },
  {
    files: SOURCES('rules'),
    ignores: TESTS,
    rules: restrict(
      layer('rules/ are pure judgements: they import only sandbox/ (README, Layout).', 'host', 'generators', 'executors', 'plugins', 'cli', 'bin'),
      hostOnlyModules('rules/ are pure judgements; filesystem and processes belong in host/.'),
    ),
  },
  {
    files: SOURCES('generators'),
    ignores: TESTS,
    rules: layer('Generators work on the Tree: they never import host/ (README, Layout).', 'host', 'executors', 'cli', 'bin'),
  },
  {
    files: SOURCES('plugins'),
    ignores: TESTS,
    rules: layer(
      'The plugin runs on every graph computation: it imports sandbox/ only (README, Layout).',
      'rules',
      'host',
      'generators',
      'executors',
      'cli',
      'bin',
    ),
  },
  {
    files: SOURCES('host'),
    ignores: TESTS,
    rules: layer('host/ is used by executors and the CLI, never the other way round (README, Layout).', 'generators', 'executors', 'plugins', 'cli', 'bin'),
  },
  // host/'s rooms, lowest first: engine/ and git/ (git may run the engine's commands), then stack/,
  // then guard/ and audit/, then lifecycle.ts, the one way in for executors and the CLI (with
  // audit/audit.ts and surface/ for `audit` and `check`). A room imports only rooms below it.
  ...Object.entries(HOST_ROOMS).map(([room, above]) => ({
    files: [`packages/devsec/src/host/${room}/**/*.ts`],
    ignores: TESTS,
    rules: layer(
      `host/${room}/ imports only the rooms below it (README, Layout): ${above.join(', ')} stand above it.`,
      'generators',
      'executors',
      'plugins',
      'cli',
      'bin',
      ...above,
    ),
  })),
  {
    files: SOURCES('executors'),
    ignores: TESTS,
    rules: layer(ONE_WAY_IN, ...BEHIND_LIFECYCLE),
  },
  {
    files: [...SOURCES('cli'), ...SOURCES('bin')],
    ignores: TESTS,
    rules: restrict(
      layer(
        'devsec runs nothing of the workspace: no Nx, no generators or executors (README, The host workflow).',
        'generators',
        'executors',
        'plugins',
        '@nx',
      ),
      layer(ONE_WAY_IN, ...BEHIND_LIFECYCLE),
    ),
  },
  // packages/socket-proxy/src: one room per program (docker/, egress/, forward/), each its own
  // run.ts that main.ts loads for its mode, and common/ for what they share. A room imports
  // common/ and nothing of another room; common/ imports no room (packages/socket-proxy/README.md).
  ...['docker', 'egress', 'forward'].map((room) => ({
    files: [`packages/socket-proxy/src/${room}/**/*.ts`],
    ignores: TESTS,
    rules: layer(
      `socket-proxy/src/${room}/ imports common/ and its own room only: move what two programs share into common/ (packages/socket-proxy/README.md, Layout).`,
      ...['docker', 'egress', 'forward'].filter((other) => other !== room),
    ),
  })),
  {
    files: ['packages/socket-proxy/src/common/**/*.ts'],
    ignores: TESTS,
    rules: layer(
      'socket-proxy/src/common/ is shared by every program: it imports none of them (packages/socket-proxy/README.md, Layout).',
      'docker',
      'egress',
      'forward',
    ),
  },
);
