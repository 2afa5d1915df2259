// ESLint flat config for typescript/src (run by `make lint`): typescript-eslint's recommended
// rules with type information (the project's tsconfig, through the project service), plus a few
// rules that catch the mistakes a promise-heavy client makes. Generated code is checked by its
// golden tests and `make codegen-check`, not here.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  { ignores: ['dist/**', 'dist-check/**', 'node_modules/**', 'src/generated/**', 'test/**', 'scripts/**'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    files: ['src/**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Every promise is awaited, returned, or explicitly voided/caught: an unhandled rejection
      // in a client library ends up in the application's console (or kills a Node process).
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
    },
  },
);
