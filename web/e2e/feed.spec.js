// Feed and inbox journeys: member B replies to member A's topic and likes
// it, and A finds two notices in the inbox with the count in the header;
// A switches likes off and the next like brings no notice; A marks all
// read and the count goes; with recommendations off the "For you" tab
// shows the latest topics and says why, and once A turns them on it is
// personalised.
//
// A staff account (made with `entrepot user create-admin` against the
// server's own database: E2E_BIN, E2E_DATA_DIR, E2E_DATABASE from
// scripts/test.sh) opens the board; A and B are registered once through
// the API (codes are rate-limited per address) and act through the API
// where the journey is not about what they do.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { PASSWORD, en, newPhone, registerByApi } from './account-helpers.js';
import { expect, test, watchErrors } from './fixtures.js';

const BASE = process.env.E2E_BASE_URL;
const RUN = Date.now().toString(36);
const BOARD = { slug: `feed-${RUN}`, name: `Sourcing ${RUN}`, description: 'Suppliers and buyers' };
const TITLE = `Ceramic tiles from Foshan ${RUN}`;
const fill = (text, vars) => text.replace(/\{(\w+)\}/g, (_, k) => String(vars[k]));
const h1 = (page) => page.getByRole('heading', { level: 1 });

const who = {};

test.describe.configure({ mode: 'serial' });

/* RFC 6238 code of a base32 secret now. */
function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret.replace(/=+$/, '')) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const step = Buffer.alloc(8);
  step.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 30000)));
  const mac = createHmac('sha1', key).update(step).digest();
  const off = mac[mac.length - 1] & 0x0f;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0');
}

/* Calls the API through a context's cookie session, with its CSRF token. */
function caller(request, csrf) {
  return async (method, path, data) => {
    const r = await request.fetch(path, { method, data, headers: { 'X-CSRF-Token': csrf } });
    expect(r.status(), `${method} ${path}: ${await r.text()}`).toBeLessThan(300);
    return r.status() === 204 ? null : r.json();
  };
}

/* A member registered through the API: its storage state (to open pages
 * signed in), its id and an API caller. */
async function newMember(browser) {
  const context = await browser.newContext({ baseURL: BASE });
  const { user } = await registerByApi(context.request);
  const me = await (await context.request.get('/api/v1/me')).json();
  const state = await context.storageState();
  state.origins = [{ origin: new URL(BASE).origin, localStorage: [{ name: 'entrepot.signed-in', value: '1' }] }];
  return { context, state, id: user.id, api: caller(context.request, me.csrf_token) };
}

test.beforeAll(async ({ browser, playwright }) => {
  test.skip(!process.env.E2E_BIN, 'needs E2E_BIN, E2E_DATA_DIR and E2E_DATABASE (scripts/test.sh e2e sets them)');
  const phone = newPhone();
  const { E2E_BIN, E2E_DATA_DIR, E2E_DATABASE } = process.env;
  const out = execFileSync(
    E2E_BIN,
    ['user', 'create-admin', '--phone', phone, '--password', PASSWORD, '--data-dir', E2E_DATA_DIR, '--database', E2E_DATABASE],
    { encoding: 'utf8' },
  );
  const staff = await playwright.request.newContext({ baseURL: BASE });
  const r = await staff.post('/api/v1/staff/login', {
    data: { login: phone, password: PASSWORD, totp: totp(out.match(/TOTP secret.*: ([A-Z2-7]{32})/)[1]) },
  });
  expect(r.status(), await r.text()).toBe(200);
  await caller(staff, (await r.json()).csrf_token)('POST', '/api/v1/boards', BOARD);
  await staff.dispose();
  who.a = await newMember(browser);
  who.b = await newMember(browser);
  who.bName = `Bob ${RUN}`;
  await who.b.api('PATCH', '/api/v1/me', { display_name: who.bName });
  const topic = await who.a.api('POST', `/api/v1/boards/${BOARD.slug}/topics`, { title: TITLE, body: 'Who ships 40HQ to Le Havre?' });
  who.topicId = topic.topic.id;
  who.firstPostId = topic.first_post.id;
});

test.afterAll(async () => {
  await who.a?.context.close();
  await who.b?.context.close();
});

async function openAs(browser, member) {
  const context = await browser.newContext({ baseURL: BASE, storageState: member?.state });
  const page = await context.newPage();
  const errors = await watchErrors(page);
  return { context, page, errors };
}

const badge = (page) => page.getByRole('navigation', { name: en['header.account'] }).locator('.inbox-link');
const notices = (page) => page.getByRole('list', { name: en['inbox.title'] }).getByRole('listitem');

test('a reply and a like reach the inbox; a kind switched off brings no notice; all read clears the badge', async ({ browser }) => {
  const reply = await who.b.api('POST', `/api/v1/topics/${who.topicId}/posts`, { body: 'We do, weekly.' });
  await who.b.api('POST', `/api/v1/posts/${who.firstPostId}/like`);
  const { context, page, errors } = await openAs(browser, who.a);
  await page.goto('/community');
  await expect(badge(page)).toHaveAttribute('aria-label', `${en['inbox.link']}, ${fill(en['inbox.badge'], { count: 2 })}`);
  await expect(badge(page).locator('.inbox-count')).toHaveText('2');
  await badge(page).click();
  await expect(page).toHaveURL(/\/inbox$/);
  await expect(h1(page)).toHaveText(en['inbox.title']);
  await expect(notices(page)).toHaveCount(2);
  const name = who.bName;
  await expect(notices(page).filter({ hasText: fill(en['inbox.kind.community.like'], { name, title: TITLE }) })).toHaveCount(1);
  const replied = notices(page).filter({ hasText: fill(en['inbox.kind.community.reply'], { name, title: TITLE }) });
  await expect(replied).toHaveCount(1);
  await expect(replied.getByRole('link')).toHaveAttribute('href', `/t/${who.topicId}#p${reply.id}`);
  await page.screenshot({ path: test.info().outputPath('inbox.png'), fullPage: true });

  // Likes off: the next like of A's post brings nothing.
  const likes = page.getByRole('checkbox', { name: en['inbox.settings.like'] });
  await expect(likes).toBeChecked();
  await likes.uncheck();
  await expect(page.getByRole('status').filter({ hasText: en['inbox.settings.saved'] })).toBeVisible();
  const mine = await who.a.api('POST', `/api/v1/topics/${who.topicId}/posts`, { body: 'Good to know.' });
  await who.b.api('POST', `/api/v1/posts/${mine.id}/like`);
  await who.b.api('POST', `/api/v1/topics/${who.topicId}/posts`, { body: 'Anytime.' });
  await page.reload();
  await expect(notices(page)).toHaveCount(3); // the second reply, not the like
  await expect(notices(page).filter({ hasText: fill(en['inbox.kind.community.like'], { name, title: TITLE }) })).toHaveCount(1);
  await expect(page.getByRole('checkbox', { name: en['inbox.settings.like'] })).not.toBeChecked();

  await page.getByRole('button', { name: en['inbox.mark-all'] }).click();
  await expect(page.getByRole('button', { name: en['inbox.mark-read'] })).toHaveCount(0);
  await expect(badge(page).locator('.inbox-count')).toHaveCount(0);
  await expect(badge(page)).toHaveAttribute('aria-label', en['inbox.link']);
  expect(errors).toEqual([]);
  await context.close();
});

test('with recommendations off the feed says "latest" and links to the switch; on, it is personalised', async ({ browser }) => {
  const { context, page, errors } = await openAs(browser, who.a);
  await page.goto('/community');
  await page.getByRole('navigation', { name: en['forum.sort.label'] }).getByRole('link', { name: en['feed.tab'] }).click();
  await expect(page).toHaveURL(/\/community\/feed$/);
  await expect(h1(page)).toHaveText(en['feed.title']);
  const note = page.locator('.feed-note');
  await expect(note).toContainText(en['feed.note.purpose_off']);
  await expect(note.getByRole('link', { name: en['feed.note.link'] })).toHaveAttribute('href', '/privacy#pc-purposes');
  await expect(page.locator('ul.topic-list')).toHaveAttribute('data-mode', 'latest');
  await page.screenshot({ path: test.info().outputPath('feed-latest.png'), fullPage: true });

  await who.a.api('PUT', '/api/v1/me/privacy/purposes/recommendations', { on: true });
  await who.a.api('POST', `/api/v1/boards/${BOARD.slug}/follow`);
  await page.reload();
  await expect(note).toHaveText(en['feed.mode.personalised']);
  await expect(page.locator('ul.topic-list')).toHaveAttribute('data-mode', 'personalised');
  const first = page.locator('ul.topic-list > li').first();
  await expect(first.getByRole('link', { name: TITLE })).toBeVisible();
  await expect(first.locator('.feed-why')).toContainText(en['feed.because.followed']);
  await who.a.api('PUT', '/api/v1/me/privacy/purposes/recommendations', { on: false });
  expect(errors).toEqual([]);
  await context.close();

  // A visitor gets the latest topics and an invitation to sign in.
  const visitor = await openAs(browser);
  await visitor.page.goto('/community/feed');
  await expect(visitor.page.locator('.feed-note')).toContainText(en['feed.note.visitor']);
  expect(visitor.errors).toEqual([]);
  await visitor.context.close();
});
