// Vite builds the SPA into web/dist (hashed files under dist/assets/), which
// `entrepot serve --static-dir web/dist` serves with SPA fallback. JSX is
// compiled by esbuild for Preact (no Babel, no framework plugin).
import { defineConfig } from 'vite';

export default defineConfig({
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    target: 'es2020',
    // The server's CSP is default-src 'self': never inline assets as data: URIs.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    // The catalogues live in ../i18n, shared with the C server.
    fs: { allow: ['..'] },
    // `npm run dev` talks to a running `entrepot serve` for /api.
    proxy: { '/api': process.env.ENTREPOT_URL || 'http://127.0.0.1:8080' },
  },
});
