// Helpers of the account journeys: fresh phone numbers, codes read from the
// test-mode outbox (GET /api/v1/test/outbox?to=, newest first), and the
// registration every journey starts with — through the pages, or through
// the API when the journey is about something else.
import { deflateSync } from 'node:zlib';
import { catalogue, expect } from './fixtures.js';

export const en = catalogue('en');
export const PASSWORD = 'correct horse battery staple';

/* A national Chinese mobile number nobody else in this run uses. */
export function newPhone() {
  let n = '139';
  for (let i = 0; i < 8; i++) n += Math.floor(Math.random() * 10);
  return n;
}

export const e164 = (national) => `+86${national}`;

export function newEmail() {
  return `u${Math.random().toString(36).slice(2, 12)}@example.com`;
}

async function outbox(request, to) {
  const r = await request.get(`/api/v1/test/outbox?to=${encodeURIComponent(to)}`);
  expect(r.status(), 'the outbox needs a server in --test-mode').toBe(200);
  return (await r.json()).messages;
}

/* The id of the newest message to `to` (0 for none): call before sending. */
export async function lastMessageId(request, to) {
  const msgs = await outbox(request, to);
  return msgs.length ? msgs[0].id : 0;
}

/* Waits for a message to `to` newer than afterId and returns its six-digit code. */
export async function codeSince(request, to, afterId) {
  let code = null;
  await expect
    .poll(
      async () => {
        const msg = (await outbox(request, to)).find((m) => m.id > afterId && /\b\d{6}\b/.test(m.body));
        code = msg ? msg.body.match(/\b(\d{6})\b/)[1] : null;
        return code;
      },
      { message: `a code sent to ${to}` },
    )
    .not.toBeNull();
  return code;
}

/* Messages to `to` newer than afterId (for notices). */
export async function messagesSince(request, to, afterId) {
  return (await outbox(request, to)).filter((m) => m.id > afterId);
}

/* Registers through the API (its own cookie jar, not the page's); returns {phone, user}. */
export async function registerByApi(request, { password = PASSWORD, ...extra } = {}) {
  const phone = newPhone();
  const before = await lastMessageId(request, e164(phone));
  let r = await request.post('/api/v1/auth/codes', { data: { purpose: 'register', phone } });
  expect(r.status()).toBe(202);
  const { attempt } = await r.json();
  const code = await codeSince(request, e164(phone), before);
  r = await request.post('/api/v1/auth/register', { data: { phone, attempt, code, password, ...extra } });
  expect(r.status(), await r.text()).toBe(201);
  const { user } = await r.json();
  return { phone, user };
}

/* The password input labelled `label` ("Password" alone is also a radio's label). */
export const passwordInput = (page, label = en['form.password']) =>
  page.locator('input[type="password"]').and(page.getByLabel(label));

/* Sends the register code from the page and fills it in; leaves the rest of the form to the caller. */
export async function startRegistration(page, request, phone = newPhone()) {
  await page.goto('/register');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(en['register.title']);
  await page.getByRole('textbox', { name: en['form.phone'] }).fill(phone);
  const before = await lastMessageId(request, e164(phone));
  await page.getByRole('button', { name: en['auth.code.send'] }).click();
  await expect(page.getByRole('status')).toContainText(phone);
  await page.getByLabel(en['form.code'], { exact: true }).fill(await codeSince(request, e164(phone), before));
  return phone;
}

/* Registers through the pages with a password; ends on "My account". Returns the phone. */
export async function registerInPage(page, request, { password = PASSWORD, displayName } = {}) {
  const phone = await startRegistration(page, request);
  if (displayName) await page.getByLabel(en['profile.display_name']).fill(displayName);
  await passwordInput(page).fill(password);
  await page.getByRole('button', { name: en['register.submit'] }).click();
  await expectSignedIn(page);
  return phone;
}

export async function expectSignedIn(page) {
  const menu = page.getByRole('navigation', { name: en['header.account'] });
  await expect(menu.getByRole('button', { name: en['auth.sign-out'] })).toBeVisible();
  await expect(menu.getByRole('link', { name: en['header.my-account'] })).toBeVisible();
}

export async function expectSignedOut(page) {
  const menu = page.getByRole('navigation', { name: en['header.account'] });
  await expect(menu.getByRole('link', { name: en['auth.sign-in'] })).toBeVisible();
  await expect(menu.getByRole('button', { name: en['auth.sign-out'] })).toHaveCount(0);
}

export async function signOut(page) {
  await page.getByRole('navigation', { name: en['header.account'] }).getByRole('button', { name: en['auth.sign-out'] }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await expectSignedOut(page);
}

/* Fills the password sign-in form and submits it. */
export async function signInWithPassword(page, login, password = PASSWORD) {
  if (!/\/sign-in/.test(page.url())) await page.goto('/sign-in');
  await page.getByLabel(en['signin.login'], { exact: true }).fill(login);
  await passwordInput(page).fill(password);
  await page.getByRole('button', { name: en['signin.submit'] }).click();
}

function crc32(buf) {
  let c = ~0;
  for (const byte of buf) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

/* A real size x size RGB PNG (a diagonal gradient), made here so no fixture file is needed. */
export function pngImage(size = 32) {
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(size, 0);
  header.writeUInt32BE(size, 4);
  header[8] = 8; // bit depth
  header[9] = 2; // RGB
  const rows = Buffer.alloc(size * (1 + 3 * size));
  for (let y = 0; y < size; y++) {
    const row = y * (1 + 3 * size);
    for (let x = 0; x < size; x++) {
      rows[row + 1 + 3 * x] = (x * 255) / size;
      rows[row + 2 + 3 * x] = (y * 255) / size;
      rows[row + 3 + 3 * x] = 128;
    }
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
