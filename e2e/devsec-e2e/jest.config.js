module.exports = {
  displayName: 'devsec-e2e',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
