// Lint: typescript-eslint's recommended rules plus the dependency rules of DESIGN.md section 3.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/** Imports no module outside commands/ may make. */
const noCommands = {
  group: ['**/commands/**', '**/commands'],
  message: 'Nothing imports commands/: move shared code into a library module.',
}

/** What pure modules (plan/, render/, engine planners) must not touch: I/O, clocks, randomness. */
const ioModules = [
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
  'net',
  'node:net',
  'http',
  'node:http',
  'child_process',
  'node:child_process',
  'os',
  'node:os',
  'node-zookeeper-client',
  'readline',
  'node:readline',
]
const pureImports = {
  paths: ioModules.map((name) => ({name, message: 'Pure module: no I/O. Pass the data in.'})),
  patterns: [
    noCommands,
    {group: ['**/zk/**', '**/zk', '**/apply/**', '**/audit/**', '**/lab/**'], message: 'Pure module: no I/O layers.'},
  ],
}
const pureSyntax = [
  {
    selector: "MemberExpression[object.name='Date'][property.name='now']",
    message: 'Pure module: no clock. Pass the time in.',
  },
  {
    selector: "NewExpression[callee.name='Date'][arguments.length=0]",
    message: 'Pure module: no clock. Pass the time in.',
  },
  {selector: "MemberExpression[object.name='Math'][property.name='random']", message: 'Pure module: no randomness.'},
  {selector: "MemberExpression[property.name='randomUUID']", message: 'Pure module: no randomness. Pass ids in.'},
  {selector: "MemberExpression[object.name='process']", message: 'Pure module: no process state.'},
]

export default tseslint.config(
  {ignores: ['dist/**', 'node_modules/**', '.lifeboat/**', 'coverage/**']},
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        queueMicrotask: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', {argsIgnorePattern: '^_', varsIgnorePattern: '^_'}],
      '@typescript-eslint/no-explicit-any': 'warn',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/commands/**'],
    rules: {'no-restricted-imports': ['error', {patterns: [noCommands]}]},
  },
  {
    files: ['src/zk/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noCommands,
            {
              group: [
                '**/plan/**',
                '**/render/**',
                '**/apply/**',
                '**/audit/**',
                '**/engines/**',
                '**/lab/**',
                '**/spec/**',
              ],
              message: 'zk/ imports no domain module.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/engines/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noCommands,
            {group: ['**/render/**', '**/render'], message: 'Engines never import render/.'},
            {group: ['**/lab/**'], message: 'Engines never import the lab.'},
          ],
        },
      ],
    },
  },
  {
    files: ['src/engines/pegasus/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noCommands,
            {
              group: ['**/render/**', '**/lab/**', '**/openmldb/**', '**/tikv/**'],
              message: 'An engine imports neither render/, the lab, nor another engine.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/lab/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            noCommands,
            {
              group: [
                '**/engines/**/planner*',
                '**/engines/**/planners/**',
                '**/engines/**/gather*',
                '**/engines/**/steps*',
                '**/engines/**/engine*',
                '**/engines/registry*',
                '**/plan/**',
                '**/apply/**',
              ],
              message:
                'The lab is an independent implementation of the store: it may share wire codecs, never planners or gatherers.',
            },
          ],
        },
      ],
    },
  },
  // Last, so that these rules win over the per-folder import rules above.
  {
    files: [
      'src/plan/**/*.ts',
      'src/render/**/*.ts',
      'src/engines/**/planner*.ts',
      'src/engines/**/planners/**/*.ts',
      'src/engines/pegasus/zk-layout.ts',
      'src/engines/pegasus/meta-recovery/verify.ts',
    ],
    rules: {'no-restricted-imports': ['error', pureImports], 'no-restricted-syntax': ['error', ...pureSyntax]},
  },
  {
    files: ['src/plan/file.ts'],
    rules: {'no-restricted-imports': ['error', {patterns: [noCommands]}], 'no-restricted-syntax': 'off'},
  },
)
