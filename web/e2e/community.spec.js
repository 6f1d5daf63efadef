// Community journeys: a visitor browses boards and reads a topic; a member
// posts a topic (after an over-long title is refused next to its field)
// and replies quoting it; a Traditional-Chinese search finds the
// Simplified text with its match highlighted; a like and a favourite show
// up in the member's space; and a topic page reads with JavaScript off.
//
// One staff account (made with `entrepot user create-admin` against the
// server's own database: scripts/test.sh passes E2E_BIN, E2E_DATA_DIR and
// E2E_DATABASE) creates the board and a first topic; one member, registered
// once through the API (codes are rate-limited per address), does the rest
// in browser contexts that share its signed-in state.
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { PASSWORD, en, newPhone, registerByApi } from './account-helpers.js';
import { expect, test, watchErrors } from './fixtures.js';

const BASE = process.env.E2E_BASE_URL;
const RUN = Date.now().toString(36);
const BOARD = { slug: `trade-${RUN}`, name: `外贸交流 ${RUN}`, description: 'Export, import and logistics' };
const STAFF_TOPIC = { title: `LED面板灯报价 ${RUN}`, body: '请问 **FOB宁波** 的报价？MOQ 500pcs。', tags: ['照明'] };
const MEMBER_TITLE = `深圳外贸展会 ${RUN}`;
const MEMBER_BODY = '**下周**深圳外贸展会开幕，欢迎同行交流。';

const shared = { staffTopicId: 0, storage: null, memberTopicId: 0 };

test.describe.configure({ mode: 'serial' });

/* RFC 6238 code of a base32 secret now (30 s steps, 6 digits). */
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

/* A signed-in staff API client (its own cookie jar) and its CSRF header. */
async function staffClient(playwright) {
  const phone = newPhone();
  const { E2E_BIN, E2E_DATA_DIR, E2E_DATABASE } = process.env;
  const out = execFileSync(
    E2E_BIN,
    ['user', 'create-admin', '--phone', phone, '--password', PASSWORD, '--data-dir', E2E_DATA_DIR, '--database', E2E_DATABASE],
    { encoding: 'utf8' },
  );
  const secret = out.match(/TOTP secret.*: ([A-Z2-7]{32})/)[1];
  const request = await playwright.request.newContext({ baseURL: BASE });
  const r = await request.post('/api/v1/staff/login', { data: { login: phone, password: PASSWORD, totp: totp(secret) } });
  expect(r.status(), await r.text()).toBe(200);
  return { request, headers: { 'X-CSRF-Token': (await r.json()).csrf_token } };
}

test.beforeAll(async ({ browser, playwright }) => {
  test.skip(!process.env.E2E_BIN, 'needs E2E_BIN, E2E_DATA_DIR and E2E_DATABASE (scripts/test.sh e2e sets them)');
  const staff = await staffClient(playwright);
  let r = await staff.request.post('/api/v1/boards', { data: BOARD, headers: staff.headers });
  expect(r.status(), await r.text()).toBe(201);
  r = await staff.request.post(`/api/v1/boards/${BOARD.slug}/topics`, { data: STAFF_TOPIC, headers: staff.headers });
  expect(r.status(), await r.text()).toBe(201);
  shared.staffTopicId = (await r.json()).topic.id;
  await staff.request.dispose();
  // The member: registered once, its session shared by the journeys below.
  const context = await browser.newContext({ baseURL: BASE });
  await registerByApi(context.request);
  shared.storage = await context.storageState();
  shared.storage.origins = [{ origin: new URL(BASE).origin, localStorage: [{ name: 'entrepot.signed-in', value: '1' }] }];
  await context.close();
});

/* A page in a context of its own: a visitor's, or the member's (signed in). */
async function open(browser, { member = false, javaScriptEnabled = true } = {}) {
  const context = await browser.newContext({
    baseURL: BASE,
    javaScriptEnabled,
    storageState: member ? shared.storage : undefined,
  });
  const page = await context.newPage();
  const errors = await watchErrors(page);
  return { context, page, errors };
}

const h1 = (page) => page.getByRole('heading', { level: 1 });

test('a visitor browses the boards and reads a topic; member actions ask to sign in', async ({ browser }) => {
  const { context, page, errors } = await open(browser);
  await page.goto('/');
  await page.getByRole('navigation', { name: en['nav.label'] }).getByRole('link', { name: en['nav.community'] }).click();
  await expect(h1(page)).toHaveText(en['nav.community']);
  await expect(page.locator('#ssr')).toHaveCount(0); // the app has replaced the server's markup
  await page.getByRole('region', { name: en['forum.boards'] }).getByRole('link', { name: BOARD.name }).click();
  await expect(page).toHaveURL(new RegExp(`/b/${BOARD.slug}$`));
  await expect(h1(page)).toHaveText(BOARD.name);
  await expect(page.getByText(BOARD.description)).toBeVisible();
  await page.getByRole('link', { name: STAFF_TOPIC.title }).click();
  await expect(page).toHaveURL(new RegExp(`/t/${shared.staffTopicId}$`));
  await expect(h1(page)).toHaveText(STAFF_TOPIC.title);
  await expect(page.locator('.post-body strong')).toHaveText('FOB宁波');
  await expect(page).toHaveTitle(`${STAFF_TOPIC.title} · entrepot`);
  await expect(page.getByRole('link', { name: en['forum.reply.sign-in'] })).toBeVisible();
  await page.getByRole('button', { name: en['forum.like'] }).click();
  await expect(page).toHaveURL(new RegExp(`/sign-in\\?next=${encodeURIComponent(`/t/${shared.staffTopicId}`)}$`));
  await expect(h1(page)).toHaveText(en['signin.title']);
  expect(errors).toEqual([]);
  await context.close();
});

test('a member posts a topic (an over-long title is refused next to its field) and replies quoting it', async ({ browser }) => {
  const { context, page, errors } = await open(browser, { member: true });
  await page.setViewportSize({ width: 360, height: 780 });
  await page.goto(`/b/${BOARD.slug}`);
  await page.getByRole('link', { name: en['forum.topic.new'] }).click();
  await expect(h1(page)).toHaveText(en['forum.topic.new-in'].replace('{board}', BOARD.name));
  const title = page.getByLabel(en['forum.topic.title'], { exact: true });
  await title.fill('长'.repeat(151));
  await page.getByLabel(en['forum.topic.body']).fill(MEMBER_BODY);
  await page.getByRole('button', { name: en['forum.topic.submit'] }).click();
  await expect(title).toHaveAttribute('aria-invalid', 'true');
  await expect(title).toBeFocused();
  const titleError = page.locator('.field-invalid').filter({ has: title }).locator('.field-error');
  await expect(titleError).toContainText(en['field.too_long'].replace('{max}', '150'));
  expect(errors.splice(0).filter((e) => !/status of 400/.test(e))).toEqual([]);

  await title.fill(MEMBER_TITLE);
  await page.getByLabel(en['forum.topic.tags']).fill('展会, 深圳');
  await page.getByRole('button', { name: en['forum.editor.preview'] }).click();
  await expect(page.locator('.md-preview strong')).toHaveText('下周');
  await page.getByRole('button', { name: en['forum.topic.submit'] }).click();
  await expect(page).toHaveURL(/\/t\/\d+$/);
  shared.memberTopicId = Number(page.url().match(/\/t\/(\d+)$/)[1]);
  await expect(h1(page)).toHaveText(MEMBER_TITLE);
  await expect(page.getByRole('link', { name: '#展会' })).toBeVisible();

  const first = page.locator('article.post-first');
  await first.getByRole('button', { name: en['forum.quote'] }).click();
  const box = page.locator('#reply-box');
  await expect(box.getByLabel(en['forum.post.body'])).toBeFocused();
  await expect(box).toContainText(en['forum.reply.quoting'].split('{name}')[0].trim());
  await box.getByLabel(en['forum.post.body']).fill('期待参加，*届时见*。');
  await box.getByRole('button', { name: en['forum.reply.submit'] }).click();
  const reply = page.locator('ol.replies article.post').last();
  await expect(reply.locator('.post-body em')).toHaveText('届时见');
  await expect(reply.locator('blockquote.post-quote')).toContainText('深圳外贸展会开幕');
  await expect(box.getByLabel(en['forum.post.body'])).toHaveValue('');
  await page.reload(); // stored, not just shown
  await expect(page.locator('ol.replies blockquote.post-quote')).toContainText('深圳外贸展会开幕');
  await expect(page.getByRole('heading', { level: 2, name: en['forum.replies.count'].replace('{count}', '1') })).toBeVisible();
  expect(errors).toEqual([]);
  await context.close();
});

test('a search in Traditional Chinese finds the Simplified topic, highlighted', async ({ browser }) => {
  const { context, page, errors } = await open(browser);
  await page.goto('/community');
  await page.getByRole('searchbox', { name: en['forum.search.label'] }).fill('外貿展會');
  await page.getByRole('search').getByRole('button', { name: en['forum.search'] }).click();
  await expect(page).toHaveURL(/\/community\/search\?q=/);
  const results = page.locator('ol.results li');
  await expect(results).toHaveCount(1);
  await expect(results.getByRole('link', { name: MEMBER_TITLE })).toHaveAttribute('href', `/t/${shared.memberTopicId}`);
  await expect(results.locator('.snippet mark').first()).toHaveText('外贸展会');
  await expect(results.locator('.result-title mark')).toHaveText('外贸展会');
  // The snippet is text with marks, never markup of its own.
  expect(await results.locator('.snippet > span > :not(mark)').count()).toBe(0);
  // Filters are part of the address, so a search can be shared.
  await page.getByLabel(en['forum.board']).selectOption(BOARD.slug);
  await page.getByLabel(en['forum.search.sort']).selectOption('latest');
  await page.locator('form.search-form').getByRole('button', { name: en['forum.search'] }).click();
  await expect(page).toHaveURL(new RegExp(`board=${BOARD.slug}.*sort=latest`));
  await expect(results).toHaveCount(1);
  expect(errors).toEqual([]);
  await context.close();
});

test('a like and a favourite show up in the member space', async ({ browser }) => {
  const { context, page, errors } = await open(browser, { member: true });
  await page.goto(`/t/${shared.staffTopicId}`);
  await expect(h1(page)).toHaveText(STAFF_TOPIC.title);
  const like = page.getByRole('button', { name: en['forum.like'] });
  await expect(like).toHaveAttribute('aria-pressed', 'false');
  await like.click();
  await expect(like).toHaveAttribute('aria-pressed', 'true');
  await expect(page.locator('.like-count').first()).toHaveText(en['forum.likes.count'].replace('{count}', '1'));
  const fav = page.getByRole('button', { name: en['forum.favourite'] });
  await fav.click();
  await expect(fav).toHaveAttribute('aria-pressed', 'true');
  await page.goto('/community');
  await page.getByRole('link', { name: en['forum.me.title'] }).click();
  await expect(h1(page)).toHaveText(en['forum.me.title']);
  for (const section of ['forum.me.favourites', 'forum.me.likes', 'forum.me.recent']) {
    const region = page.getByRole('region', { name: en[section] });
    await expect(region.getByRole('link', { name: STAFF_TOPIC.title })).toBeVisible();
  }
  await page.reload();
  await expect(page.getByRole('region', { name: en['forum.me.likes'] }).getByRole('link', { name: STAFF_TOPIC.title })).toBeVisible();
  expect(errors).toEqual([]);
  await context.close();
});

test('with JavaScript off a topic page and its board still show their text', async ({ browser }) => {
  const { context, page } = await open(browser, { javaScriptEnabled: false });
  await page.goto(`/t/${shared.memberTopicId}`);
  await expect(h1(page)).toHaveText(MEMBER_TITLE);
  await expect(page.locator('#ssr .post-body strong').first()).toHaveText('下周');
  await expect(page.getByText('期待参加')).toBeVisible();
  await expect(page).toHaveTitle(`${MEMBER_TITLE} · entrepot`);
  await expect(page.locator('link[rel="canonical"]')).toHaveAttribute('href', `/t/${shared.memberTopicId}`);
  await page.getByRole('link', { name: BOARD.name }).click();
  await expect(h1(page)).toHaveText(BOARD.name);
  await expect(page.getByRole('link', { name: MEMBER_TITLE })).toBeVisible();
  await expect(page.getByRole('link', { name: STAFF_TOPIC.title })).toBeVisible();
  await page.goto('/t/999999999');
  await expect(h1(page)).toHaveText(en['problem.not-found.title']);
  await context.close();
});

test('the author edits a reply (its history shows the old text), shares and deletes it; follows the board', async ({ browser }) => {
  const { context, page, errors } = await open(browser, { member: true });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(BASE).origin });
  await page.goto(`/t/${shared.memberTopicId}`);
  const reply = page.locator('ol.replies article.post').last();
  await reply.getByRole('button', { name: en['forum.edit'] }).click();
  const text = reply.getByLabel(en['forum.post.body']);
  await expect(text).toHaveValue('期待参加，*届时见*。'); // the Markdown source, not the HTML
  await text.fill('期待参加，*下周见*。');
  await reply.getByRole('button', { name: en['forum.save'] }).click();
  await expect(reply.locator('.post-body em')).toHaveText('下周见');
  await reply.getByRole('button', { name: en['forum.post.edited'] }).click();
  await expect(reply.locator('pre.revision')).toHaveText('期待参加，*届时见*。');

  await reply.getByRole('button', { name: en['forum.share'] }).click();
  await expect(reply.getByRole('status')).toHaveText(en['forum.share.copied']);
  const id = (await reply.getAttribute('id')).slice(1);
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${new URL(BASE).origin}/t/${shared.memberTopicId}#p${id}`);

  await reply.getByRole('button', { name: en['forum.delete'] }).click();
  await reply.getByRole('group', { name: en['forum.delete'] }).getByRole('button', { name: en['forum.delete'] }).click();
  await expect(reply.getByText(en['forum.post.deleted'])).toBeVisible();
  await page.reload();
  await expect(page.locator('ol.replies article.post').last().getByText(en['forum.post.deleted'])).toBeVisible();

  await page.goto(`/b/${BOARD.slug}`);
  await page.getByRole('button', { name: en['forum.follow'], exact: true }).click();
  await expect(page.getByRole('button', { name: en['forum.unfollow'] })).toBeVisible();
  await page.goto('/community/me');
  await expect(page.getByRole('region', { name: en['forum.me.following'] }).getByRole('link', { name: BOARD.name })).toBeVisible();
  expect(errors).toEqual([]);
  await context.close();
});
