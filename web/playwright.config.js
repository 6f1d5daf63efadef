// End-to-end tests in Debian's chromium (no browser download). The server
// under test is started by the caller, which sets E2E_BASE_URL, e.g.
//   entrepot serve --static-dir web/dist --test-mode ... &
//   cd web && E2E_BASE_URL=http://127.0.0.1:8080 npx playwright test
// Screenshots and failure traces are kept in web/test-results/.
import { defineConfig } from '@playwright/test';

const baseURL = process.env.E2E_BASE_URL;
if (!baseURL) {
  throw new Error('E2E_BASE_URL is required: start `entrepot serve --static-dir web/dist` and point it there');
}

export default defineConfig({
  testDir: './e2e',
  outputDir: './test-results',
  workers: 1,
  fullyParallel: false,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: 'list',
  timeout: 60_000,
  expect: { timeout: 5_000 },
  use: {
    browserName: 'chromium',
    viewport: { width: 1280, height: 800 },
    baseURL,
    locale: 'en-US',
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        // Chromium still calls Google's hosts despite the flags above: send
        // everything but loopback to a dead proxy so the browser only talks
        // to the server under test. (Loopback bypasses a proxy by default;
        // "<-loopback>" would remove that and break every test.)
        '--proxy-server=127.0.0.1:9',
        '--proxy-bypass-list=127.0.0.1;localhost;[::1]',
      ],
    },
  },
});
