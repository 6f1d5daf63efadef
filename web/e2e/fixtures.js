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

export const test = base.extend({
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
