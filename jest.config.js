// Two projects: fast unit tests beside the code, and e2e suites in test/ that
// boot the application against the real PostgreSQL and Redis.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

const moduleNameMapper = {
  '^@app/common$': '<rootDir>/libs/common/src',
  '^@app/common/(.*)$': '<rootDir>/libs/common/src/$1',
  '^@app/contracts$': '<rootDir>/libs/contracts/src',
  '^@app/contracts/(.*)$': '<rootDir>/libs/contracts/src/$1',
  '^@app/stripe-emulator$': '<rootDir>/libs/stripe-emulator/src',
  '^@app/stripe-emulator/(.*)$': '<rootDir>/libs/stripe-emulator/src/$1',
};

const shared = {
  rootDir: __dirname,
  transform: { '^.+\\.ts$': swc },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper,
  testEnvironment: 'node',
};

module.exports = {
  // A per-project testTimeout is ignored by Jest 30; this global one reaches the e2e suites.
  testTimeout: 60000,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/libs/**/*.spec.ts', '<rootDir>/bench/**/*.spec.js', '<rootDir>/scripts/**/*.spec.js'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
};
