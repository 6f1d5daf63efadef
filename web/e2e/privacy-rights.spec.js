// The privacy center's rights in the browser: ask for a copy of my data and
// download the zip; ask to close my account (password, choice for my
// posts), see when it will happen and how to take it back, and take it
// back.
import { PASSWORD, en, registerInPage } from './account-helpers.js';
import { expect, test } from './fixtures.js';

test('export my data, then ask to close my account and take it back', async ({ page, request }) => {
  await registerInPage(page, request);
  await page.goto('/privacy');
  const exp = page.getByRole('region', { name: en['privacy.center.export.title'] });
  await expect(exp.getByText(en['privacy.center.export.none'])).toBeVisible();
  await exp.getByRole('button', { name: en['privacy.center.export.ask'] }).click();
  const link = exp.getByRole('link', { name: en['privacy.center.export.download'] });
  await expect(link).toBeVisible({ timeout: 15000 });
  const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
  expect(download.suggestedFilename()).toMatch(/^entrepot-export-\d+\.zip$/);
  const bytes = await (await download.createReadStream()).toArray();
  expect(Buffer.concat(bytes).subarray(0, 2).toString()).toBe('PK');

  const cancel = page.getByRole('region', { name: en['privacy.center.cancel.title'] });
  await cancel.getByLabel(en['privacy.center.cancel.anonymise']).check();
  await cancel.locator('input[type="password"]').fill(PASSWORD);
  await cancel.getByRole('button', { name: en['privacy.center.cancel.submit'] }).click();
  const keep = cancel.getByRole('button', { name: en['privacy.center.cancel.keep'] });
  await expect(keep).toBeVisible();
  await expect(cancel.getByText(en['privacy.center.cancel.on'])).toBeVisible();
  await keep.click();
  await expect(cancel.getByText(en['privacy.center.cancel.kept'])).toBeVisible();
  await expect(cancel.getByRole('button', { name: en['privacy.center.cancel.submit'] })).toBeVisible();
});
