// The staff console journeys with the user's "My requests": a user files a
// complaint in the privacy center, a staff member signs in at
// /staff/sign-in (password and authenticator code), finds it first in the
// queue, opens it and acknowledges it with a first reply, and the user sees
// the new status and the reply; a compliance officer opens a breach for
// that user and sends the notices, and the user reads what happened and
// what to do. The staff member is made with `entrepot user create-admin`
// against the server's data (E2E_BIN, E2E_DATA_DIR, set by scripts/test.sh)
// and signs in through the page in a browser context of their own.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { PASSWORD, en, newPhone, registerInPage } from './account-helpers.js';
import { expect, test } from './fixtures.js';

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

/* A new administrator signed in through /staff/sign-in in a context of its own; returns its page. */
async function staffPage(browser, request) {
  const dir = process.env.E2E_DATA_DIR;
  const phone = newPhone();
  const out = execFileSync(
    process.env.E2E_BIN,
    ['user', 'create-admin', '--phone', phone, '--password', PASSWORD, '--data-dir', dir, '--database', process.env.E2E_DATABASE || `sqlite:${dir}/entrepot.db`],
    { encoding: 'utf8' },
  );
  const secret = out.match(/TOTP secret.*: ([A-Z2-7]{32})/)[1];
  const r = await request.post('/api/v1/test/clock', { data: { offset_ms: 0 } });
  const { now_ms: now } = await r.json();
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto('/staff/sign-in');
  await expect(h1(page)).toHaveText(en['staff.signin.title']);
  await page.getByLabel(en['signin.login'], { exact: true }).fill(phone);
  await page.locator('input[type="password"]').fill(PASSWORD);
  await page.getByLabel(en['staff.totp']).fill(totp(secret, now));
  await page.getByRole('button', { name: en['signin.submit'] }).click();
  await expect(h1(page)).toHaveText(en['staff.title']);
  return page;
}

test.describe('staff console', () => {
  test.skip(!process.env.E2E_BIN || !process.env.E2E_DATA_DIR, 'needs E2E_BIN and E2E_DATA_DIR (scripts/test.sh sets them)');

  test('a complaint: filed by the user, acknowledged by staff, the user sees it', async ({ page, request, browser }, testInfo) => {
    await registerInPage(page, request);
    await page.goto('/privacy');
    await page.getByRole('link', { name: en['requests.card.open'] }).click();
    await expect(h1(page)).toHaveText(en['requests.title']);
    const form = page.getByRole('form', { name: en['requests.ticket.new'] });
    await form.getByLabel(en['requests.ticket.kind']).selectOption('objection');
    await form.getByLabel(en['requests.ticket.purpose']).selectOption('marketing_email');
    await form.getByLabel(en['requests.ticket.body']).fill('Stop the marketing e-mails, I never agreed.');
    await form.getByRole('button', { name: en['requests.ticket.submit'] }).click();
    await expect(page.getByRole('status')).toContainText(en['requests.ticket.sent'].split('{date}')[0]);
    const mine = page.getByRole('list', { name: en['requests.tickets.title'] }).getByRole('listitem').first();
    await expect(mine).toContainText(en['requests.status.open']);
    await expect(mine).toContainText(en['requests.due.ack'].split('{date}')[0]);
    const id = await mine.getAttribute('data-ticket');

    // Staff: the console, the queue, the request, the acknowledgement.
    const staff = await staffPage(browser, request);
    await staff.getByRole('link', { name: en['staff.nav.complaints'] }).first().click();
    await expect(h1(staff)).toHaveText(en['staff.nav.complaints']);
    const row = staff.locator(`tr[data-id="${id}"]`);
    await expect(row).toContainText(en['requests.kind.objection']);
    await expect(row).toHaveAttribute('data-overdue', 'no');
    await row.getByRole('link', { name: `#${id}` }).click();
    await expect(h1(staff)).toHaveText(fill(en['staff.complaint.title'], { id }));
    await expect(staff.getByText(en['staff.audited'])).toBeVisible();
    await expect(staff.locator('.post-body').first()).toHaveText('Stop the marketing e-mails, I never agreed.');
    await staff.getByRole('textbox', { name: en['staff.complaint.answer'] }).fill('We removed your address from the list.');
    await staff.getByRole('button', { name: en['staff.complaint.acknowledge'] }).click();
    await expect(staff.getByRole('status')).toHaveText(en['staff.complaint.acknowledged']);
    await expect(staff.locator('dd[data-status]')).toHaveText(en['requests.status.acknowledged']);
    await staff.screenshot({ path: testInfo.outputPath('staff-complaint.png'), fullPage: true });

    // The user: the new status, the reply by role, and the staff read in the privacy center.
    await page.goto(`/privacy/requests/${id}`);
    await expect(page.locator('.lead .badge')).toHaveText(en['requests.status.acknowledged']);
    const thread = page.getByRole('list', { name: en['requests.thread.title'] });
    await expect(thread).toContainText('We removed your address from the list.');
    await expect(thread).toContainText(fill(en['requests.thread.staff'], { role: en['staff.role.administrator'] }));
    await expect(page.getByText(en['requests.due.resolve'].split('{date}')[0])).toBeVisible();
    await page.goto('/privacy');
    await expect(page.getByRole('table', { name: en['privacy.center.staff.title'] })).toContainText(en['staff.role.administrator']);
    await page.screenshot({ path: testInfo.outputPath('my-request.png'), fullPage: true });
    await staff.context().close();
  });

  test('a breach: staff open it and send the notices, the affected user reads them', async ({ page, request, browser }, testInfo) => {
    await registerInPage(page, request);
    const me = await (await page.request.get('/api/v1/me')).json();
    const staff = await staffPage(browser, request);
    await staff.getByRole('link', { name: en['staff.nav.breaches'] }).first().click();
    await expect(h1(staff)).toHaveText(en['staff.breaches.title']);
    const form = staff.getByRole('form', { name: en['staff.breaches.new'] });
    await form.getByLabel(en['staff.breach.f.title']).fill('Support mailbox exposed');
    await form.getByLabel(en['staff.breach.f.description']).fill('A support mailbox was readable from the internet for two hours.');
    const detected = new Date(Date.now() - 5 * 3600 * 1000);
    const local = new Date(detected.getTime() - detected.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
    await form.getByLabel(en['staff.breach.f.detected']).fill(local);
    await form.getByLabel(en['staff.breach.f.major']).check();
    await form.getByLabel(en['privacy.category.contact']).check();
    await form.getByLabel(en['staff.breach.f.measures']).fill('Access closed and passwords rotated.');
    await form.getByLabel(en['staff.breach.f.advice']).fill('Beware of e-mails quoting your support tickets.');
    await form.getByLabel(en['staff.breach.f.contact']).fill('dpo@example.com');
    await form.getByLabel(en['staff.breach.f.users']).fill(String(me.id));
    await form.getByRole('button', { name: en['staff.breach.f.submit'] }).click();
    await expect(h1(staff)).toHaveText(/Support mailbox exposed/);
    // Major and 5 hours old: the 4-hour report is overdue, the 72-hour one runs.
    await expect(staff.locator('[data-countdown="initial_due"]')).toHaveAttribute('data-overdue', 'yes');
    await expect(staff.locator('[data-countdown="due"]')).toHaveAttribute('data-overdue', 'no');
    await expect(staff.locator('[data-countdown="users"]')).toContainText(fill(en['staff.breach.users.count'], { notified: 0, affected: 1, pending: 1 }));
    await staff.getByRole('button', { name: fill(en['staff.breach.notify'], { count: 1 }) }).click();
    await expect(staff.getByRole('status')).toHaveText(fill(en['staff.breach.notify.done'], { count: 1 }));
    await expect(async () => {
      await staff.reload();
      await expect(staff.locator('[data-countdown="users"]')).toContainText(fill(en['staff.breach.users.count'], { notified: 1, affected: 1, pending: 0 }), {
        timeout: 1000,
      });
    }).toPass();
    const report = staff.getByRole('link', { name: en['staff.breach.report.html'] });
    const href = await report.getAttribute('href');
    const r = await staff.request.get(href);
    expect(r.status()).toBe(200);
    const html = await r.text();
    expect(html).toContain('个人信息安全事件报告');
    expect(html).toContain('Support mailbox exposed');
    await staff.screenshot({ path: testInfo.outputPath('staff-breach.png'), fullPage: true });

    // The user: the notice in My requests with what happened and what to do.
    await page.goto('/privacy/requests');
    const incident = page.locator('article[data-incident]');
    await expect(incident).toContainText('Support mailbox exposed');
    await expect(incident).toContainText('Access closed and passwords rotated.');
    await expect(incident).toContainText('Beware of e-mails quoting your support tickets.');
    await expect(incident).toContainText('dpo@example.com');
    await page.goto('/inbox');
    await expect(page.getByText(en['privacy.center.inbox.privacy.breach_notice'])).toBeVisible();
    await page.screenshot({ path: testInfo.outputPath('breach-notice.png'), fullPage: true });
    await staff.context().close();
  });
});
