// ESLint: typescript-eslint's strict type-checked rules over every TypeScript file of the workspace
// (no `any` anywhere, so none at a module boundary). Layer rules (which directory may import which,
// cycles) live in .dependency-cruiser.cjs; formatting is Prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', '.cache/**', 'out/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans in messages are what the CLI and the reports print all day.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Arena and on-disk code indexes typed arrays and maps it has just filled; with
      // noUncheckedIndexedAccess off (the read path indexes millions of times) these two rules
      // report every such guard as unnecessary and every map hit as an assertion to avoid.
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Read paths keep the first error caught in a loop and rethrow it as it came, after cleanup;
      // TypeScript narrows such an `unknown` to `{}`, which this rule cannot tell from a thrown literal.
      '@typescript-eslint/only-throw-error': 'off',
    },
  },
  {
    // Tests: ava's async callbacks need no await, fixtures delete keys by name, and Buffer.compare is static.
    files: ['test/**', 'packages/*/test/**'],
    rules: {
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs', '**/*.cjs'], ...tseslint.configs.disableTypeChecked },
);
