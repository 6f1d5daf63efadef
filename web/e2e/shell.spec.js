// The application shell: loads, talks to the server, speaks four languages,
// remembers the choice, survives deep links, and stays within its CSP.
import { LANGS, PRODUCT_KEYS, catalogue, expect, test, watchErrors } from './fixtures.js';

const en = catalogue('en');

/* Asserts the visible shell is in lang. */
async function expectShellIn(page, code) {
  const t = catalogue(code);
  await expect(page.locator('html')).toHaveAttribute('lang', code);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(t['app.welcome.title']);
  await expect(page.getByText(t['app.welcome.body'])).toBeVisible();
  const nav = page.getByRole('navigation', { name: t['nav.label'] });
  await expect(nav.getByRole('link')).toHaveText(PRODUCT_KEYS.map((k) => t[k]));
  await expect(page.getByRole('status')).toHaveText(t['status.online']);
  await expect(page.getByRole('combobox', { name: t['lang.label'] })).toHaveValue(code);
  await expect(page.getByRole('contentinfo')).toHaveText(t['app.footer']);
}

test('the shell loads in English and shows the server online', async ({ page }, testInfo) => {
  await page.goto('/');
  await expect(page.getByRole('banner').getByRole('link', { name: en['app.home'] })).toHaveText('entrepot');
  await expect(page).toHaveTitle('entrepot');
  await expectShellIn(page, 'en');
  await expect(page.locator('[data-status]')).toHaveAttribute('data-status', 'online');
  // The switcher offers every language under its own name (endonyms).
  await expect(page.getByRole('combobox', { name: en['lang.label'] }).locator('option')).toHaveText(
    LANGS.map((l) => l.label),
  );
  await page.screenshot({ path: testInfo.outputPath('shell-en.png'), fullPage: true });
});

for (const { code, label } of LANGS.filter((l) => l.code !== 'en')) {
  test(`switching to ${label} translates the shell and persists across reload`, async ({ page }, testInfo) => {
    const t = catalogue(code);
    await page.goto('/');
    await expectShellIn(page, 'en');

    await page.getByRole('combobox', { name: en['lang.label'] }).selectOption({ label });
    await expectShellIn(page, code);
    // Really translated, not the English fallback.
    expect(t['app.welcome.title']).not.toBe(en['app.welcome.title']);
    expect(t['status.online']).not.toBe(en['status.online']);
    expect(await page.evaluate(() => localStorage.getItem('entrepot.lang'))).toBe(code);
    await page.screenshot({ path: testInfo.outputPath(`shell-${code}.png`), fullPage: true });

    await page.reload();
    await expectShellIn(page, code);
    await expect(page.getByText(en['app.welcome.title'])).toHaveCount(0);

    // And back to English.
    await page.getByRole('combobox', { name: t['lang.label'] }).selectOption({ label: 'English' });
    await expectShellIn(page, 'en');
  });
}

test('the first visit follows the browser languages', async ({ browser, baseURL }) => {
  test.slow(); // eight fresh browser contexts: give a loaded CI machine room
  const cases = [
    [['zh-TW'], 'zh-Hant'],
    [['zh-HK', 'en'], 'zh-Hant'],
    [['zh-Hant-CN'], 'zh-Hant'],
    [['zh-CN'], 'zh-Hans'],
    [['zh'], 'zh-Hans'],
    [['fr-CA'], 'fr'],
    [['de-DE', 'fr', 'en'], 'fr'],
    [['de-DE'], 'en'],
  ];
  for (const [languages, expected] of cases) {
    const context = await browser.newContext({ baseURL, locale: languages[0] });
    const page = await context.newPage();
    const errors = await watchErrors(page);
    // The locale sets navigator.languages to [locale]; a longer list needs help.
    if (languages.length > 1) {
      await page.addInitScript((langs) => {
        Object.defineProperty(navigator, 'languages', { get: () => langs });
      }, languages);
    }
    await page.goto('/');
    await expect(page.getByRole('heading', { level: 1 }), `navigator.languages ${languages}`).toHaveText(
      catalogue(expected)['app.welcome.title'],
    );
    await expect(page.locator('html')).toHaveAttribute('lang', expected);
    expect(errors).toEqual([]);
    await context.close();
  }
});

test('a saved choice wins over the browser languages', async ({ browser, baseURL }) => {
  const context = await browser.newContext({ baseURL, locale: 'zh-CN' });
  const page = await context.newPage();
  await page.addInitScript(() => localStorage.setItem('entrepot.lang', 'fr'));
  await page.goto('/');
  await expectShellIn(page, 'fr');
  await context.close();
});

test('an unknown deep link still loads the shell', async ({ page }) => {
  await page.goto('/community/topics/123');
  await expect(page.getByRole('banner')).toContainText('entrepot');
  const nav = page.getByRole('navigation', { name: en['nav.label'] });
  await expect(nav.getByRole('link', { name: en['nav.community'] })).toHaveAttribute('aria-current', 'page');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['nav.community']);
  await expect(page.getByText(en['section.soon'].replace('{product}', en['nav.community']))).toBeVisible();
  await expect(page.getByRole('status')).toHaveText(en['status.online']);

  await page.goto('/no/such/page');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['problem.not-found.title']);
  await expect(page.getByRole('status')).toHaveText(en['status.online']);
});

test('navigation between products happens without reloading the page', async ({ page }) => {
  await page.goto('/');
  await page.evaluate(() => {
    window.__sameDocument = true;
  });
  const nav = page.getByRole('navigation', { name: en['nav.label'] });
  await nav.getByRole('link', { name: en['nav.classifieds'] }).click();
  await expect(page).toHaveURL(/\/classifieds$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['nav.classifieds']);
  await expect(page.getByRole('heading', { level: 1 })).toBeFocused();
  await expect(page).toHaveTitle(`${en['nav.classifieds']} · entrepot`);
  await nav.getByRole('link', { name: en['nav.directory'] }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['nav.directory']);
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['nav.classifieds']);
  await page.getByRole('link', { name: en['section.back'] }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['app.welcome.title']);
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true);
});

test('the status shows offline when the server does not answer, and recovers', async ({ page, errors }) => {
  await page.route('**/api/v1/ping', (route) => route.fulfill({ status: 503, body: '' }));
  await page.goto('/');
  await expect(page.getByRole('status')).toHaveText(en['status.offline']);
  await page.unroute('**/api/v1/ping');
  await page.getByRole('button', { name: en['status.retry'] }).click();
  await expect(page.getByRole('status')).toHaveText(en['status.online']);
  await expect(page.getByRole('button', { name: en['status.retry'] })).toHaveCount(0);
  // The browser logs the failed request; that one is expected.
  expect(errors.take(/503/)).toHaveLength(1);
});

test('the page is served under a CSP that blocks inline code, and the app needs none', async ({
  page,
  errors,
}) => {
  const response = await page.goto('/');
  const csp = response.headers()['content-security-policy'] || '';
  expect(csp).toContain("default-src 'self'");
  await expect(page.getByRole('status')).toHaveText(en['status.online']);
  // The error watcher must see a violation: inject an inline style on purpose.
  await page.evaluate(() => document.body.insertAdjacentHTML('beforeend', '<div style="color: red">x</div>'));
  await expect.poll(() => errors.list.some((e) => /CSP violation|Content Security Policy/.test(e))).toBe(true);
  errors.take(/CSP violation|Content Security Policy/);
});

test('the shell fits a phone screen', async ({ page }, testInfo) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto('/');
  await page.getByRole('combobox', { name: en['lang.label'] }).selectOption({ label: '繁體中文' });
  await expectShellIn(page, 'zh-Hant');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.screenshot({ path: testInfo.outputPath('shell-zh-Hant-phone.png'), fullPage: true });
});

test('the landmarks and skip link are in place', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('banner')).toHaveCount(1);
  await expect(page.getByRole('main')).toHaveCount(1);
  await expect(page.getByRole('contentinfo')).toHaveCount(1);
  await page.keyboard.press('Tab');
  const skip = page.getByRole('link', { name: en['app.skip'] });
  await expect(skip).toBeFocused();
  await expect(skip).toBeInViewport();
});
