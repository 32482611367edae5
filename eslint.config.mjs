// Lint for the layering (src/core is plain Node; src/cli and src/extension
// never import each other; the face reaches the heavy engine only through
// host/engineHost.ts) and for plain TypeScript mistakes. Cycles are checked
// by test/core/layering.test.ts, which sees folders as well as files.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const restricted = (patterns, paths = []) => ['error', { paths, patterns }];

// What the face may not import at run time: the heavy engine (AWS SDK, zip,
// worker threads). Types are fine: they vanish in the build.
const HEAVY_ENGINE = [
  '**/core/index',
  '**/core/engine',
  '**/core/archive/**',
  '**/core/backup/**',
  '**/core/workers/**',
  '**/core/restore/*',
  '!**/core/restore/targets',
  '!**/core/restore/codeFileItems',
  '**/core/appData/*',
  '!**/core/appData/categories',
  '**/core/storage/*',
  '!**/core/storage/profile',
  '**/core/util/workerPool',
];

export default tseslint.config(
  { ignores: ['dist/**', 'out/**', 'media/**', 'node_modules/**', '.cache/**', '.test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-explicit-any': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': restricted(
        [{ group: ['**/extension/**', '**/cli/**', '**/webview/**', '**/test/**'], message: 'src/core imports only src/core and Node.' }],
        [{ name: 'vscode', message: 'src/core is plain Node: it never imports vscode.' }],
      ),
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': restricted(
        [{ group: ['**/extension/**', '**/webview/**'], message: 'The CLI and the extension never import each other.' }],
        [{ name: 'vscode', message: 'The CLI runs without VS Code.' }],
      ),
    },
  },
  {
    files: ['src/extension/**/*.ts'],
    rules: {
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/cli/**'], message: 'The CLI and the extension never import each other.' },
            { group: HEAVY_ENGINE, allowTypeImports: true, message: 'The face reaches the engine through EngineHost (host/engineHost.ts); import types only.' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/webview/**/*.ts'],
    rules: {
      'no-restricted-imports': restricted(
        [{ group: ['**/core/**', '**/extension/**', '**/cli/**'], message: 'The webview page imports only its own folder (protocol.ts is shared with the host).' }],
        [{ name: 'vscode', message: 'The webview runs in a browser frame.' }],
      ),
    },
  },
  {
    files: ['test/**/*.ts', 'scripts/**/*.ts'],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly', __dirname: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', performance: 'readonly', fetch: 'readonly', exports: 'writable', __filename: 'readonly', queueMicrotask: 'readonly', TextDecoder: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off', '@typescript-eslint/no-unused-vars': ['error', { caughtErrors: 'none', argsIgnorePattern: '^_' }] },
  },
  { files: ['eslint.config.mjs'], languageOptions: { sourceType: 'module' } },
);
