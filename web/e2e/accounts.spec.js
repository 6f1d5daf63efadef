// The account journeys through the web app, against the real server in
// test mode (codes come from its outbox). Each journey uses a fresh phone
// number; together they send about 18 codes, under the server's 20 an hour
// from one address (fixtures.js clears the counters before each spec file).
import {
  PASSWORD,
  codeSince,
  e164,
  en,
  expectSignedIn,
  expectSignedOut,
  lastMessageId,
  messagesSince,
  newEmail,
  passwordInput,
  pngImage,
  registerByApi,
  registerInPage,
  signInWithPassword,
  signOut,
  startRegistration,
} from './account-helpers.js';
import { catalogue, expect, test, watchErrors } from './fixtures.js';

const h1 = (page) => page.getByRole('heading', { level: 1 });

test('register with a code and an e-mail, sign out, sign in with the password', async ({ page, request }, testInfo) => {
  const phone = await startRegistration(page, request);
  const email = newEmail();
  await page.getByRole('radio', { name: en['account.type.enterprise'] }).check();
  await page.getByLabel(en['profile.display_name']).fill('Li Wei 李伟');
  await page.getByLabel(en['form.email']).fill(email);
  await passwordInput(page).fill(PASSWORD);
  const before = await lastMessageId(request, email);
  await page.getByRole('button', { name: en['register.submit'] }).click();

  // Signed in at once; the e-mail is confirmed with the code sent to it.
  await expect(h1(page)).toHaveText(en['register.email.title']);
  await expectSignedIn(page);
  await expect(page.getByRole('status')).toContainText(email);
  await page.getByLabel(en['form.code'], { exact: true }).fill(await codeSince(request, email, before));
  await page.getByRole('button', { name: en['security.contact.confirm'] }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(h1(page)).toHaveText(en['account.nav.profile']);
  await expect(page.getByLabel(en['profile.display_name'])).toHaveValue('Li Wei 李伟');
  await expect(page.getByRole('radio', { name: en['account.type.enterprise'] })).toBeChecked();
  await expect(page.getByText(email)).toBeVisible();
  await expect(page.getByRole('banner')).toContainText('Li Wei 李伟');
  await page.screenshot({ path: testInfo.outputPath('account-profile.png'), fullPage: true });

  await signOut(page);
  // The account pages now ask to sign in (no request fails: the app knows it signed out).
  await page.goto('/account/sessions');
  await expect(h1(page)).toHaveText(en['auth.required.title']);
  await page.getByRole('link', { name: en['auth.sign-in'] }).last().click();
  await expect(page).toHaveURL(/\/sign-in\?next=%2Faccount%2Fsessions$/);

  // Same browser, known device: the password is enough, and we land where we were going.
  await signInWithPassword(page, phone);
  await expect(page).toHaveURL(/\/account\/sessions$/);
  await expect(h1(page)).toHaveText(en['account.nav.sessions']);
  await expectSignedIn(page);
  // Survives a reload (the HttpOnly cookie is the session; GET /me restores the page's view).
  await page.reload();
  await expectSignedIn(page);
});

test('the app asks the server who is signed in, and no request fails', async ({ page, request }) => {
  const calls = [];
  page.on('response', (r) => {
    const path = new URL(r.url()).pathname;
    const fetched = ['fetch', 'xhr'].includes(r.request().resourceType());
    if (fetched && path.startsWith('/api/v1/') && path !== '/api/v1/ping') calls.push([path, r.status()]);
  });
  // A visitor: one answer, 200, and no GET /me bound to fail.
  await page.goto('/');
  await expectSignedOut(page);
  expect(calls).toEqual([['/api/v1/auth/session', 200]]);
  // A member whose page reloads with nothing in storage: the cookie is enough.
  await registerInPage(page, request);
  await page.evaluate(() => localStorage.clear());
  calls.length = 0;
  await page.reload();
  await expectSignedIn(page);
  expect(calls.slice(0, 2)).toEqual([
    ['/api/v1/auth/session', 200],
    ['/api/v1/me', 200],
  ]);
  expect(calls.filter(([, status]) => status >= 400)).toEqual([]);
  // The CSRF token came with the session answer: an unsafe request passes.
  const logout = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/v1/auth/logout');
  await signOut(page);
  expect((await logout).status()).toBe(204);
});

test('sign in with a code sent by SMS', async ({ page, request }) => {
  const { phone, user } = await registerByApi(request);
  await page.goto('/sign-in');
  await page.getByRole('radio', { name: en['signin.method.code'] }).check();
  await expect(page.getByRole('radio', { name: en['auth.channel.sms'] })).toBeChecked();
  await page.getByRole('textbox', { name: en['form.phone'] }).fill(phone);
  const before = await lastMessageId(request, e164(phone));
  await page.getByRole('button', { name: en['auth.code.send'] }).click();
  await expect(page.getByRole('status')).toContainText(phone);
  await page.getByLabel(en['form.code'], { exact: true }).fill(await codeSince(request, e164(phone), before));
  await page.getByRole('button', { name: en['signin.submit'] }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expectSignedIn(page);
  await page.getByRole('link', { name: en['profile.public-page.link'] }).click();
  await expect(page).toHaveURL(new RegExp(`/users/${user.id}$`));
});

test('a new device needs the code step, and a wrong code is refused', async ({ page, request, errors }) => {
  const { phone } = await registerByApi(request);
  const before = await lastMessageId(request, e164(phone));
  await signInWithPassword(page, phone);
  // This browser has never signed in to the account: a code is needed.
  await expect(page.getByText(en['signin.new-device'])).toBeVisible();
  await expect(page.getByRole('status')).toContainText('****');
  const code = await codeSince(request, e164(phone), before);
  await expectSignedOut(page);

  const wrong = String((Number(code) + 1) % 1000000).padStart(6, '0');
  const codeInput = page.getByLabel(en['form.code'], { exact: true });
  await codeInput.fill(wrong);
  await page.getByRole('button', { name: en['signin.submit'] }).click();
  const alert = page.getByRole('alert');
  await expect(alert).toContainText(en['problem.unauthorized.title']);
  await expect(alert).toContainText(en['accounts.code_invalid']);
  expect(errors.take(/401/)).toHaveLength(1);

  await codeInput.fill(code);
  await page.getByRole('button', { name: en['signin.submit'] }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expectSignedIn(page);
  // The owner is told about the new sign-in.
  const notices = await messagesSince(request, e164(phone), before);
  expect(notices.some((m) => /new sign-in/i.test(m.body))).toBe(true);
});

test('profile edits and avatar: the public page shows only what is public', async ({
  page,
  request,
  browser,
  baseURL,
  errors,
}, testInfo) => {
  await registerInPage(page, request, { displayName: 'Amélie Zhang' });
  await expect(h1(page)).toHaveText(en['account.nav.profile']);
  await page.getByRole('textbox', { name: en['profile.company'] }).fill('ACME Trading');
  await page.getByRole('textbox', { name: en['profile.title'] }).fill('Sales lead');
  await page.getByRole('textbox', { name: en['profile.industry'] }).fill('Textiles');
  await page.getByRole('textbox', { name: en['profile.signature'] }).fill('Export & import since 1998');
  await page.getByRole('combobox', { name: en['profile.gender'] }).selectOption({ label: en['profile.gender.female'] });
  const show = (field) => page.getByRole('checkbox', { name: en['profile.public.field'].replace('{field}', field) });
  await show(en['profile.company']).check();
  await show(en['profile.industry']).check();
  await page.getByRole('button', { name: en['form.save'] }).click();
  await expect(page.getByRole('status').filter({ hasText: en['profile.saved'] })).toBeVisible();

  // A reload shows what the server kept.
  await page.reload();
  await expect(page.getByRole('textbox', { name: en['profile.title'] })).toHaveValue('Sales lead');
  await expect(show(en['profile.company'])).toBeChecked();
  await expect(show(en['profile.title'])).not.toBeChecked();

  // The avatar: a damaged image is refused with the server's message next to the input...
  const avatar = page.getByLabel(en['profile.avatar'], { exact: true });
  await avatar.setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: Buffer.from('not a picture at all') });
  await expect(avatar).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('.avatar .field-error')).not.toBeEmpty();
  expect(errors.take(/status of 4\d\d/)).toHaveLength(1);
  // ...a real one is taken, shown, and made public.
  await avatar.setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: pngImage() });
  await expect(page.getByRole('status')).toHaveText(en['profile.avatar.done']);
  await expect(avatar).not.toHaveAttribute('aria-invalid', 'true');
  const picture = page.getByRole('img', { name: en['profile.avatar.current'] });
  await expect(picture).toBeVisible();
  expect(await picture.evaluate((img) => img.complete && img.naturalWidth > 0)).toBe(true);
  await show(en['profile.avatar.public']).check();
  await page.getByRole('button', { name: en['form.save'] }).click();
  await expect(page.getByRole('status').filter({ hasText: en['profile.saved'] })).toBeVisible();

  const href = await page.getByRole('link', { name: en['profile.public-page.link'] }).getAttribute('href');
  // Seen by an anonymous visitor.
  const context = await browser.newContext({ baseURL });
  const visitor = await context.newPage();
  const visitorErrors = await watchErrors(visitor);
  await visitor.goto(href);
  await expect(h1(visitor)).toHaveText('Amélie Zhang');
  const facts = visitor.locator('dl.facts');
  await expect(facts).toContainText('ACME Trading');
  await expect(facts).toContainText('Textiles');
  await expect(facts).toContainText(en['user.member-since']);
  const shown = visitor.locator('.user-head img');
  await expect(shown).toBeVisible();
  expect(await shown.evaluate((img) => img.complete && img.naturalWidth > 0)).toBe(true);
  for (const hidden of ['Sales lead', 'Export & import', en['profile.gender.female']]) {
    await expect(visitor.getByText(hidden)).toHaveCount(0);
  }
  await visitor.screenshot({ path: testInfo.outputPath('public-page.png'), fullPage: true });

  // Company goes private, title public: the public page follows.
  await show(en['profile.company']).uncheck();
  await show(en['profile.title']).check();
  await page.getByRole('button', { name: en['form.save'] }).click();
  await expect(page.getByRole('status').filter({ hasText: en['profile.saved'] })).toBeVisible();
  await visitor.reload();
  await expect(facts).toContainText('Sales lead');
  await expect(visitor.getByText('ACME Trading')).toHaveCount(0);
  expect(visitorErrors).toEqual([]);
  await context.close();
});

test('sessions: another session is listed and ended; then sign out everywhere', async ({
  page,
  request,
  browser,
  baseURL,
}, testInfo) => {
  const phone = await registerInPage(page, request);
  // A second browser (another device) signs in: new device, so a code.
  const context = await browser.newContext({ baseURL });
  const other = await context.newPage();
  const before = await lastMessageId(request, e164(phone));
  await signInWithPassword(other, phone);
  await other.getByLabel(en['form.code'], { exact: true }).fill(await codeSince(request, e164(phone), before));
  await other.getByRole('button', { name: en['signin.submit'] }).click();
  await expectSignedIn(other);

  await page.goto('/account/sessions');
  const sessions = page.getByRole('list', { name: en['sessions.title'] }).getByRole('listitem');
  await expect(sessions).toHaveCount(2);
  await expect(sessions.filter({ hasText: en['sessions.current'] })).toHaveCount(1);
  await expect(sessions.first()).toContainText('127.0.0.0/24');
  await expect(page.getByRole('list', { name: en['devices.title'] }).getByRole('listitem')).toHaveCount(2);
  await page.screenshot({ path: testInfo.outputPath('account-sessions.png'), fullPage: true });
  const end = page.getByRole('button', { name: /^End the session on / });
  await expect(end).toHaveCount(1);
  await end.click();
  await expect(page.getByRole('status')).toContainText(en['sessions.ended'].split('{device}')[1].trim());
  await expect(sessions).toHaveCount(1);

  // The other browser finds itself signed out.
  await other.reload();
  await expectSignedOut(other);
  await other.goto('/account');
  await expect(h1(other)).toHaveText(en['auth.required.title']);
  await context.close();

  // Sign out everywhere ends this one too.
  await page.getByRole('button', { name: en['sessions.everywhere'] }).click();
  await expect(page).toHaveURL(/\/sign-in$/);
  await expectSignedOut(page);
  await page.goto('/account');
  await expect(h1(page)).toHaveText(en['auth.required.title']);
});

test('change the password with re-authentication, by password then by code', async ({ page, request, errors }) => {
  const phone = await registerInPage(page, request);
  await page.getByRole('navigation', { name: en['account.nav.label'] }).getByRole('link', { name: en['account.nav.security'] }).click();
  await expect(h1(page)).toHaveText(en['account.nav.security']);
  const card = page.getByRole('region', { name: en['security.password.title'] });
  const newPw = 'a whole new passphrase';
  await passwordInput(card, en['form.new-password']).fill(newPw);
  const current = passwordInput(card, en['form.current-password']);
  await current.fill('nope nope nope');
  await card.getByRole('button', { name: en['security.password.submit'] }).click();
  // The server's message sits next to the field it names, which gets the focus.
  await expect(current).toHaveAttribute('aria-invalid', 'true');
  await expect(current).toBeFocused();
  await expect(card.locator('.field-invalid')).toContainText(en['field.incorrect']);
  await expect(card.getByRole('alert')).toContainText(en['accounts.reauth_failed']);
  expect(errors.take(/400/)).toHaveLength(1);

  await current.fill(PASSWORD);
  await card.getByRole('button', { name: en['security.password.submit'] }).click();
  await expect(card.getByRole('status')).toHaveText(en['security.password.done']);
  await expect(current).toHaveValue('');

  // Again, confirmed with a code sent by SMS instead of the password.
  await card.getByRole('radio', { name: en['reauth.code'] }).check();
  const before = await lastMessageId(request, e164(phone));
  await card.getByRole('button', { name: en['auth.code.send'] }).click();
  await card.getByLabel(en['reauth.code.label']).fill(await codeSince(request, e164(phone), before));
  const third = 'the third passphrase here';
  await passwordInput(card, en['form.new-password']).fill(third);
  await card.getByRole('button', { name: en['security.password.submit'] }).click();
  await expect(card.getByRole('status').last()).toHaveText(en['security.password.done']);

  // The new password signs in; the old ones do not.
  await signOut(page);
  await signInWithPassword(page, phone, newPw);
  await expect(page.getByRole('alert')).toContainText(en['accounts.login_failed']);
  expect(errors.take(/401/)).toHaveLength(1);
  await signInWithPassword(page, phone, third);
  await expectSignedIn(page);
});

test('an invalid field shows the server error next to it', async ({ page, request, errors }) => {
  await startRegistration(page, request);
  const username = page.getByLabel(en['profile.username']);
  await username.fill('9lives');
  await passwordInput(page).fill(PASSWORD);
  await page.getByRole('button', { name: en['register.submit'] }).click();
  await expect(page.getByRole('alert')).toContainText(en['problem.invalid.title']);
  await expect(username).toHaveAttribute('aria-invalid', 'true');
  await expect(username).toBeFocused();
  // The message is the server's, tied to the input as its description.
  const describedBy = await username.getAttribute('aria-describedby');
  const message = page.locator(`#${describedBy.split(' ')[0]}`);
  await expect(message).toHaveText(`⚠ ${en['field.invalid_username']}`);
  expect(errors.take(/400/)).toHaveLength(1);

  await username.fill('trader_ok');
  await passwordInput(page).fill('iloveyou');
  await page.getByRole('button', { name: en['register.submit'] }).click();
  await expect(passwordInput(page)).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('.field-invalid')).toContainText(en['field.password_common']);
  await expect(username).not.toHaveAttribute('aria-invalid', 'true');
  expect(errors.take(/400/)).toHaveLength(1);

  await passwordInput(page).fill(PASSWORD);
  await page.getByRole('button', { name: en['register.submit'] }).click();
  await expectSignedIn(page);
  await expect(page.getByLabel(en['profile.username'])).toHaveValue('trader_ok');
});

test('the account pages speak the chosen language, errors included', async ({ page, errors }, testInfo) => {
  const zh = catalogue('zh-Hans');
  const fr = catalogue('fr');
  await page.goto('/sign-in');
  await expect(h1(page)).toHaveText(en['signin.title']);
  const lang = page.getByRole('combobox', { name: en['lang.label'] });
  await lang.selectOption({ label: '简体中文' });
  await expect(h1(page)).toHaveText(zh['signin.title']);
  await expect(page.getByRole('radio', { name: zh['signin.method.code'] })).toBeVisible();
  await expect(page.getByLabel(zh['signin.login'], { exact: true })).toBeVisible();
  await page.screenshot({ path: testInfo.outputPath('sign-in-zh-Hans.png'), fullPage: true });

  await page.getByRole('combobox', { name: zh['lang.label'] }).selectOption({ label: 'Français' });
  await expect(h1(page)).toHaveText(fr['signin.title']);
  await expect(page.getByRole('link', { name: fr['reset.link'] })).toBeVisible();
  // The server answers in the same language: an empty form gets French messages.
  await page.getByRole('button', { name: fr['signin.submit'] }).click();
  await expect(page.getByRole('alert')).toContainText(fr['problem.invalid.title']);
  const login = page.getByLabel(fr['signin.login'], { exact: true });
  await expect(login).toHaveAttribute('aria-invalid', 'true');
  // (the empty login is "at least 1 character" for the server)
  await expect(page.locator('.field-invalid').first()).toContainText(fr['field.too_short'].replace('{min}', '1'));
  expect(errors.take(/400/)).toHaveLength(1);

  // Deep links keep the language too.
  await page.goto('/register');
  await expect(h1(page)).toHaveText(fr['register.title']);
});

test('freeze the account, then unfreeze it with a code', async ({ page, request, errors }) => {
  const phone = await registerInPage(page, request);
  await page.goto('/account/freeze');
  const submit = page.getByRole('button', { name: en['freeze.submit'] });
  await submit.click();
  await expect(page.getByRole('alert')).toHaveText(en['freeze.confirm.needed']);
  await page.getByRole('checkbox', { name: en['freeze.confirm'] }).check();
  await submit.click();
  await expect(h1(page)).toHaveText(en['frozen.title']);
  await expectSignedOut(page);

  await signInWithPassword(page, phone);
  await expect(page.getByRole('alert')).toContainText(en['accounts.frozen']);
  expect(errors.take(/403/)).toHaveLength(1);
  await page.getByRole('link', { name: en['unfreeze.link'] }).first().click();
  await expect(h1(page)).toHaveText(en['unfreeze.title']);
  await page.getByRole('textbox', { name: en['form.phone'] }).fill(phone);
  const before = await lastMessageId(request, e164(phone));
  await page.getByRole('button', { name: en['auth.code.send'] }).click();
  await page.getByLabel(en['form.code'], { exact: true }).fill(await codeSince(request, e164(phone), before));
  await page.getByRole('button', { name: en['unfreeze.submit'] }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expectSignedIn(page);
});

test('reset a forgotten password with a code', async ({ page, request }) => {
  const { phone } = await registerByApi(request);
  await page.goto('/sign-in');
  await page.getByRole('link', { name: en['reset.link'] }).click();
  await expect(h1(page)).toHaveText(en['reset.title']);
  await page.getByRole('textbox', { name: en['form.phone'] }).fill(phone);
  const before = await lastMessageId(request, e164(phone));
  await page.getByRole('button', { name: en['auth.code.send'] }).click();
  await page.getByLabel(en['form.code'], { exact: true }).fill(await codeSince(request, e164(phone), before));
  await passwordInput(page, en['form.new-password']).fill('brand new secret phrase');
  await page.getByRole('button', { name: en['reset.submit'] }).click();
  await expect(page.getByRole('status')).toHaveText(en['reset.done']);
  // The new password works (from the device that registered: no code step).
  const r = await request.post('/api/v1/auth/login', { data: { login: phone, password: 'brand new secret phrase' } });
  expect(r.status()).toBe(200);
});

test('staff sign-in asks for the authenticator code and refuses wrong credentials', async ({ page, errors }) => {
  await page.goto('/staff/sign-in');
  await expect(h1(page)).toHaveText(en['staff.signin.title']);
  await page.getByLabel(en['signin.login'], { exact: true }).fill('13900000000');
  await passwordInput(page).fill(PASSWORD);
  await page.getByLabel(en['staff.totp']).fill('123456');
  await page.getByRole('button', { name: en['signin.submit'] }).click();
  await expect(page.getByRole('alert')).toContainText(en['accounts.staff_login_failed']);
  expect(errors.take(/401/)).toHaveLength(1);
  await expectSignedOut(page);
});

test('the account pages fit a phone screen', async ({ page, request }) => {
  await page.setViewportSize({ width: 360, height: 740 });
  await registerInPage(page, request);
  for (const path of ['/account/profile', '/account/sessions', '/account/security', '/account/security-log']) {
    await page.goto(path);
    await expect(page.getByRole('navigation', { name: en['account.nav.label'] })).toBeVisible();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, path).toBeLessThanOrEqual(0);
  }
  // The security log lists the registration.
  await expect(page.locator('tr[data-action="security.register"]')).toContainText(en['log.security.register']);
});
