// Shared test fixtures: the message catalogues, and a page that fails the
// test on any console error, uncaught page error or CSP violation.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test as base, expect } from '@playwright/test';

const i18nDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'i18n');
export const catalogue = (lang) => JSON.parse(readFileSync(join(i18nDir, `${lang}.json`), 'utf8'));

export const LANGS = [
  { code: 'en', label: 'English' },
  { code: 'zh-Hans', label: '简体中文' },
  { code: 'zh-Hant', label: '繁體中文' },
  { code: 'fr', label: 'Français' },
];
export const PRODUCT_KEYS = ['nav.support', 'nav.community', 'nav.classifieds', 'nav.directory', 'nav.services'];

/* Starts recording problems on a page; returns the (live) list. */
export async function watchErrors(page) {
  const errors = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
  // Belt and braces: CSP violations also reach the console, but report them by name.
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline'}`);
    });
  });
  return errors;
}

/*
 * Every request of the suite comes from 127.0.0.1, so the per-address limits
 * (about 20 codes an hour) would tie later spec files to the codes earlier
 * ones sent. The first test or hook of each spec file (beforeAll hooks
 * included: "all-hooks-included", as Playwright's own tracing fixture does)
 * clears the counters through the test-mode route. Tests of a limit itself
 * live inside one file, so they never see a reset mid-way.
 */
let lastFile = null;

async function resetRateLimits(playwright, baseURL) {
  const api = await playwright.request.newContext({ baseURL });
  try {
    const r = await api.post('/api/v1/test/rate-limits/reset', { data: {} });
    expect(r.status(), 'resetting rate limits needs a server in --test-mode').toBe(200);
  } finally {
    await api.dispose();
  }
}

export const test = base.extend({
  rateLimitsPerFile: [
    async ({ playwright, baseURL }, use, testInfo) => {
      if (testInfo.file !== lastFile) {
        lastFile = testInfo.file;
        await resetRateLimits(playwright, baseURL);
      }
      await use();
    },
    { auto: 'all-hooks-included' },
  ],
  // errors.list is checked after every test; a test that provokes an error on
  // purpose removes what it expects with errors.take(pattern).
  errors: [
    async ({ page }, use) => {
      const list = await watchErrors(page);
      const errors = {
        list,
        take(pattern) {
          const taken = list.filter((e) => pattern.test(e));
          for (const e of taken) list.splice(list.indexOf(e), 1);
          return taken;
        },
      };
      await use(errors);
      expect(list, 'console errors, page errors or CSP violations').toEqual([]);
    },
    { auto: true },
  ],
});

export { expect };
