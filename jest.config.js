// One jest run over every project; `--selectProjects` picks some.
module.exports = {
  projects: ['<rootDir>/packages/devsec', '<rootDir>/packages/socket-proxy', '<rootDir>/e2e/devsec-e2e'],
};
