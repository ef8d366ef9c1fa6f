/**
 * Dependency direction (ARCHITECTURE.md "The shape"; issue #7): core depends on nothing of ours,
 * the server picks no concrete engine, the SDK carries nothing but the wire contract. `npm run lint`
 * runs this; a violation fails the test command.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'core-imports-nothing',
      comment: 'src/core holds domain types and ports: it imports nothing else of ours.',
      severity: 'error',
      from: { path: '^src/core/' },
      to: { path: '^src/', pathNot: '^src/core/' },
    },
    {
      name: 'server-no-concrete-engine',
      comment: 'src/server talks to ports; engines (store, bus, presence, ownership, push) are picked in src/cli.',
      severity: 'error',
      from: { path: '^src/server/' },
      to: { path: '^src/(store|bus|presence|ownership|push|retention|cli)/' },
    },
    {
      name: 'client-protocol-only',
      comment: 'The SDK runs in browsers: it imports src/protocol and nothing else of ours.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|protocol)/' },
    },
    {
      name: 'protocol-imports-nothing-else',
      comment: 'The wire contract stands alone (the SDK depends on it).',
      severity: 'error',
      from: { path: '^src/protocol/' },
      to: { path: '^src/', pathNot: '^src/protocol/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only ones included (issue #8: context, hub, session and presence used to form one).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^src/protocol/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
