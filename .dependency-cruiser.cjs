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
      name: 'client-package-protocol-only',
      comment: 'The SDK (packages/client) runs in browsers: nothing of the server, and of the wire contract only its lite side (no protobufjs; the bundle test checks the output too).',
      severity: 'error',
      from: { path: '^packages/client/' },
      to: { path: '^src/|protobufjs|^packages/protocol/(src|dist)/(codec|schema|validate|int64-as-number|index)[.]' },
    },
    {
      name: 'protocol-package-standalone',
      comment: 'The wire contract (packages/protocol) stands alone: the SDK and the server depend on it.',
      severity: 'error',
      from: { path: '^packages/protocol/' },
      to: { path: '^(src|packages/client)/' },
    },
    {
      name: 'server-shims-reexport-only',
      comment: 'src/client and src/protocol only re-export the workspace packages.',
      severity: 'error',
      from: { path: '^src/(client|protocol)/' },
      to: { path: '^src/' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles, type-only ones included (issue #8: context, hub, session and presence used to form one).',
      severity: 'error',
      from: { path: '^(src|packages)/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: '(node_modules|/dist/)' },
    exclude: { path: '^packages/protocol/src/generated/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
