// The privacy center journeys: a compliance officer publishes a material
// policy version through the API, the user meets the consent window with
// what changed, accepts and finds the receipt; a purpose switch persists
// with its history; the disclosure ledger lists the delivery of an e-mail
// code. Staff sign in through the API: `entrepot user create-admin` needs
// the binary and the server's data directory (E2E_BIN, E2E_DATA_DIR, set
// by scripts/test.sh). The journeys run with the server clock moved ahead,
// so the material version they publish is not in force for the other
// specs (and their codes fall in a rate-limit window of their own).
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { PASSWORD, codeSince, en, lastMessageId, newEmail, newPhone, registerInPage } from './account-helpers.js';
import { expect, test } from './fixtures.js';

const AHEAD_MS = 6 * 3600 * 1000;
const h1 = (page) => page.getByRole('heading', { level: 1 });
const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k]));

/* RFC 6238 code of a base32 secret at ms (what the authenticator app shows). */
function totp(secret, ms) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const ch of secret.replace(/=+$/, '')) bits += alphabet.indexOf(ch).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(ms / 30000)));
  const mac = createHmac('sha1', key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
}

async function setClock(request, offset) {
  const r = await request.post('/api/v1/test/clock', { data: { offset_ms: offset } });
  expect(r.status()).toBe(200);
  return (await r.json()).now_ms;
}

/* An administrator signed in as an app: returns a function that calls the API as them. */
async function staffApi(request) {
  const bin = process.env.E2E_BIN;
  const dir = process.env.E2E_DATA_DIR;
  const phone = newPhone();
  const out = execFileSync(
    bin,
    ['user', 'create-admin', '--phone', phone, '--password', PASSWORD, '--data-dir', dir, '--database', process.env.E2E_DATABASE || `sqlite:${dir}/entrepot.db`],
    { encoding: 'utf8' },
  );
  const secret = out.match(/TOTP secret.*: ([A-Z2-7]{32})/)[1];
  const now = await setClock(request, AHEAD_MS);
  let r = await request.post('/api/v1/staff/login', {
    data: { login: phone, password: PASSWORD, totp: totp(secret, now), client: 'app' },
  });
  expect(r.status(), await r.text()).toBe(200);
  const { token } = await r.json();
  return async (method, path, data) => {
    r = await request.fetch(path, { method, data, headers: { Authorization: `Bearer ${token}` } });
    expect(r.status(), await r.text()).toBeLessThan(300);
    return r.json();
  };
}

const POLICY_V1 = [
  'We collect your mobile number to run your account.',
  'We keep sign-in records for six months.',
  'We never sell your data.',
].join('\n');
const POLICY_V2 = [
  'We collect your mobile number and your e-mail address to run your account.',
  'We keep sign-in records for six months.',
  'We share delivery addresses with carriers.',
  'We never sell your data.',
].join('\n');

test.describe('privacy center', () => {
  test.skip(!process.env.E2E_BIN || !process.env.E2E_DATA_DIR, 'needs E2E_BIN and E2E_DATA_DIR (scripts/test.sh sets them)');

  test.beforeAll(async ({ request }) => {
    await setClock(request, AHEAD_MS);
  });
  test.afterAll(async ({ request }) => {
    await setClock(request, 0);
  });

  test('a material version: the consent window shows what changed, acceptance is kept as a receipt', async ({
    page,
    request,
    errors,
  }, testInfo) => {
    const staff = await staffApi(request);
    await staff('POST', '/api/v1/staff/policies', {
      document: 'privacy',
      material: false,
      lang: 'en',
      title: 'Privacy policy',
      body: POLICY_V1,
    });
    await registerInPage(page, request); // registers under the version in force
    const v2 = await staff('POST', '/api/v1/staff/policies', {
      document: 'privacy',
      material: true,
      lang: 'en',
      title: 'Privacy policy',
      body: POLICY_V2,
    });

    // The next page asks first: the window, with the changes marked.
    await page.goto('/account/sessions');
    const dialog = page.getByRole('dialog', { name: en['privacy.center.consent.title'] });
    await expect(dialog).toBeVisible();
    await expect(dialog.locator('ins').filter({ hasText: 'e-mail address' })).toBeVisible();
    await expect(dialog.locator('ins').filter({ hasText: 'carriers' })).toBeVisible();
    await expect(dialog.locator('p').filter({ hasText: 'never sell' }).locator('ins, del')).toHaveCount(0);
    await expect(dialog).toContainText(fill(en['privacy.center.consent.since'], { version: v2.version - 1 }));
    await page.screenshot({ path: testInfo.outputPath('consent-window.png'), fullPage: true });
    // The page behind it was refused with the problem the window answers.
    errors.take(/status of 403/);

    await dialog.getByRole('button', { name: en['privacy.center.consent.accept'] }).click();
    await expect(dialog).toHaveCount(0);
    await page.goto('/account/sessions');
    await expect(h1(page)).toHaveText(en['account.nav.sessions']);
    await expect(page.getByRole('dialog')).toHaveCount(0);

    // The receipt, in the privacy center.
    await page.goto('/privacy');
    await expect(h1(page)).toHaveText(en['privacy.center.title']);
    const receipts = page.getByRole('table', { name: en['privacy.center.receipts.title'] });
    const row = receipts.getByRole('row').filter({
      hasText: fill(en['privacy.center.receipts.version'], { document: en['policy.document.privacy'], version: v2.version }),
    });
    await expect(row).toHaveCount(1);
    await expect(row).toContainText('127.0.0.1');
    await expect(row).toContainText(en['privacy.center.channel.web']);
    const doc = page.locator('section.policy[data-document="privacy"]');
    await expect(doc).toContainText(fill(en['privacy.center.policies.in-force'].split('{date}')[0], { version: v2.version }));
    await expect(doc).toContainText(fill(en['privacy.center.policies.accepted'].split('{date}')[0], { version: v2.version }));
    // The notice of the new version is in the inbox.
    const inbox = page.getByRole('list', { name: en['privacy.center.inbox.title'] });
    await expect(inbox.getByRole('listitem').first()).toContainText(`${v2.version}`);
    await page.screenshot({ path: testInfo.outputPath('privacy-center.png'), fullPage: true });
  });

  test('a purpose switch persists and is in the history; the ledger shows the e-mail code', async ({ page, request }) => {
    await registerInPage(page, request);

    await page.goto('/privacy');
    // What we hold about you: a fresh account already holds its contact details.
    const held = page.getByRole('list', { name: en['privacy.inventory.held'] });
    await expect(held.locator('[data-category="contact"]')).toContainText(en['privacy.category.contact']);
    const marketing = page.getByRole('switch', { name: en['privacy.switch.marketing_email'] });
    await expect(marketing).not.toBeChecked();
    await marketing.check();
    await expect(page.getByRole('status').filter({ hasText: en['privacy.center.purposes.on'] })).toBeVisible();
    await page.reload();
    await expect(marketing).toBeChecked();
    await expect(page.getByRole('switch', { name: en['privacy.switch.marketing_sms'] })).not.toBeChecked();
    const history = page.getByRole('table', { name: en['privacy.center.purposes.history'] });
    await expect(history.getByRole('row').filter({ hasText: en['privacy.switch.marketing_email'] })).toContainText(
      `${en['privacy.center.purposes.state-off']} → ${en['privacy.center.purposes.state-on']}`,
    );

    // An e-mail code goes out (adding an address): the ledger says so.
    const me = await (await page.request.get('/api/v1/me')).json();
    const email = newEmail();
    const before = await lastMessageId(request, email);
    let r = await page.request.post('/api/v1/me/email', {
      data: { email, current_password: PASSWORD },
      headers: { 'X-CSRF-Token': me.csrf_token },
    });
    expect(r.status(), await r.text()).toBe(202);
    const { attempt } = await r.json();
    r = await page.request.post('/api/v1/me/email/verify', {
      data: { email, attempt, code: await codeSince(request, email, before) },
      headers: { 'X-CSRF-Token': me.csrf_token },
    });
    expect(r.status(), await r.text()).toBe(200);
    const ledger = page.getByRole('table', { name: en['privacy.center.disclosures.title'] });
    const codeRow = ledger
      .getByRole('row')
      .filter({ hasText: en['privacy.center.data.email'] })
      .filter({ hasText: en['privacy.center.data.otp'] });
    await expect(async () => {
      await page.reload();
      await expect(codeRow.first()).toBeVisible({ timeout: 1000 });
    }).toPass();
    await expect(codeRow.first()).toContainText(en['privacy.center.why.security']);
    await expect(codeRow.first()).toContainText(en['privacy.basis.contract']);
  });
});
