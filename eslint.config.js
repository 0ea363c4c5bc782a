import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** What the dashboard's browser script may use beyond the language (it has no imports). */
const BROWSER_GLOBALS = Object.fromEntries(
  ['document', 'fetch', 'EventSource', 'requestAnimationFrame', 'setTimeout', 'clearTimeout', 'HTMLElement', 'HTMLButtonElement', 'HTMLInputElement', 'Element', 'Node', 'Response', 'sessionStorage', 'crypto'].map((g) => [g, 'readonly']),
);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'data/', '.cache/', 'bench/results/', 'test-artifacts/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
    },
  },
  {
    // The dashboard: a classic browser script, type-checked by tsconfig.web.json.
    files: ['src/web/**/*.js'],
    languageOptions: { sourceType: 'script', globals: BROWSER_GLOBALS },
    rules: {
      // Data from a service or a message is put into the page as text, never parsed as HTML.
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'set textContent or build elements: data never goes in as HTML' },
        { property: 'outerHTML', message: 'set textContent or build elements: data never goes in as HTML' },
        { property: 'insertAdjacentHTML', message: 'build elements: data never goes in as HTML' },
        { property: 'createContextualFragment', message: 'build elements: data never goes in as HTML' },
        { property: 'setHTMLUnsafe', message: 'build elements: data never goes in as HTML' },
        { object: 'document', property: 'write', message: 'build elements: data never goes in as HTML' },
        { object: 'document', property: 'writeln', message: 'build elements: data never goes in as HTML' },
      ],
      'no-restricted-globals': ['error', { name: 'DOMParser', message: 'data never goes in as HTML' }],
    },
  },
);
