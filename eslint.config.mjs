// ESLint with typescript-eslint's type-aware rules. Workflow code and the pure domain modules run
// in Temporal's deterministic sandbox (or must be as pure): no Node built-ins, no clocks, no
// randomness, no I/O libraries. Floating promises are errors everywhere.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises',
  'http', 'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers',
  'tls', 'url', 'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

const deterministicImports = [
  ...nodeBuiltins.flatMap((m) => [
    { name: m, message: 'Workflow and domain code must be deterministic: no Node built-ins. Do I/O in an activity.' },
    { name: `node:${m}`, message: 'Workflow and domain code must be deterministic: no Node built-ins. Do I/O in an activity.' },
  ]),
  { name: '@kubernetes/client-node', message: 'Kubernetes calls belong in activities.' },
  { name: 'axios', message: 'HTTP calls belong in activities.' },
  { name: '@temporalio/client', message: 'Workflows cannot use the client; use child workflows or activities.' },
  { name: '@temporalio/worker', message: 'Workflow code runs inside the worker sandbox; it cannot import the worker.' },
  { name: '@temporalio/activity', message: 'Activity context is not available in workflows.' },
];

// Workflows name activities through their types (proxyActivities<…>), never their code.
const activityTypesOnly = { group: ['**/activities/*', '**/activities', '!**/activities/*.types'], allowTypeImports: true, message: 'Import activity types only (import type …).' };

// The domain sits below every layer that does I/O: it may not import them, not even their types
// (a type the domain needs is defined in src/domain and imported from there by the layers above).
const domainLayers = {
  regex: '^\\.{1,2}/(?:.*/)?(?:activities|worker|client|infra)(?:/|$)',
  message: 'src/domain is pure and imports nothing from src/activities, src/worker, src/client or src/infra (types included): define the type in src/domain and import it from there.',
};

const deterministic = (patterns) => ({
  'no-restricted-imports': ['error', { paths: deterministicImports, patterns }],
  'no-restricted-globals': ['error',
    { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow (or take time as input in domain code).' },
    { name: 'setInterval', message: 'Use sleep() in a loop from @temporalio/workflow.' },
    { name: 'process', message: 'No process access in deterministic code.' },
    { name: 'fetch', message: 'HTTP calls belong in activities.' },
  ],
  'no-restricted-properties': ['error',
    { object: 'Math', property: 'random', message: 'Randomness must be deterministic: use uuid4() from @temporalio/workflow, or take a seed.' },
    { object: 'Date', property: 'now', message: 'Read time from workflow.now()/Date in workflow code only via the SDK, and take time as input in domain code.' },
    { object: 'performance', property: 'now', message: 'No clocks in deterministic code.' },
    { object: 'crypto', property: 'randomUUID', message: 'Use uuid4() from @temporalio/workflow.' },
  ],
  'no-restricted-syntax': ['error',
    { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'No clock reads in deterministic code: take time as input (the workflow sandbox fakes Date, the domain must not rely on it).' },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.stack/**', 'test/fixtures/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  { files: ['src/workflows/**/*.ts'], rules: deterministic([activityTypesOnly]) },
  { files: ['src/domain/**/*.ts'], rules: deterministic([domainLayers]) },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
