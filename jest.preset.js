const { join } = require('node:path');
const nxPreset = require('@nx/jest/preset').default;

module.exports = {
  ...nxPreset,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The plugin imports the proxy by its package name; in this monorepo that is the TypeScript
  // source (tsconfig.base.json maps the vocabulary the same way), since the package's own
  // entry points are compiled JS that only the build writes. Absolute paths, because the
  // projects' rootDirs sit at different depths (packages/devsec, e2e/devsec-e2e).
  moduleNameMapper: {
    '^@org/devsec-socket-proxy/vocabulary$': join(__dirname, 'packages/socket-proxy/src/common/vocabulary.ts'),
    '^@org/devsec-socket-proxy$': join(__dirname, 'packages/socket-proxy/src/index.ts'),
  },
};
