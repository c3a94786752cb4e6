module.exports = {
  displayName: 'socket-proxy',
  preset: '../../jest.preset.js',
  testMatch: ['<rootDir>/**/*.spec.ts'],
};
