"""The community forum over HTTP: boards, topics, replies, edits and their
history, soft deletes, likes, favourites, follows, recently viewed, staff
moderation, posting limits and search — as visitors, members and staff.

Boards are made by staff (password + TOTP sign-in of an administrator made
with `entrepot user create-admin`); members register through the accounts
API. Every test clears the rate-limit counters first (all requests come
from 127.0.0.1) and runs on both engines.
"""
import re
import time
import urllib.parse
import uuid

from harness import assert_problem, check, eq
from test_accounts import (PASSWORD, Client, _create_admin, fresh, new_phone, register, set_clock,
                           totp)

_STAFF = {}


def staff(t, http=None, data_dir=None, database=None):
    """A signed-in administrator for the server (one per server)."""
    key = (http or t.http).port if hasattr(http or t.http, "port") else id(http)
    if key in _STAFF:
        return _STAFF[key]
    phone = new_phone()
    p = _create_admin(t, phone, data_dir=data_dir, database=database)
    eq(p.returncode, 0, f"create-admin ({p.stderr})")
    secret = re.search(r"TOTP secret.*: ([A-Z2-7]{32})", p.stdout).group(1)
    c = Client(t, http=http)
    now = int(time.time() * 1000)
    r = c.post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                       "totp": totp(secret, now)})
    eq(r.status, 200, f"staff sign-in ({r!r})")
    _STAFF[key] = c
    return c


def new_board(t, s=None, http=None):
    slug = "b-" + uuid.uuid4().hex[:10]
    r = (s or staff(t, http)).post("/api/v1/boards", {"slug": slug, "name": "Board " + slug,
                                                     "description": "外贸交流"})
    eq(r.status, 201, f"board creation ({r!r})")
    return r.json()


def member(t, http=None):
    c, _ = register(t, client=Client(t, http=http) if http else None)
    return c


def topic(c, slug, title="求购LED面板灯", body="**MOQ** 500pcs, FOB深圳", tags=None, expect=201):
    body_obj = {"title": title, "body": body}
    if tags is not None:
        body_obj["tags"] = tags
    r = c.post(f"/api/v1/boards/{slug}/topics", body_obj)
    eq(r.status, expect, f"topic creation ({r!r})")
    return r.json()


def reply(c, topic_id, body="有兴趣，请联系", expect=201, **extra):
    r = c.post(f"/api/v1/topics/{topic_id}/posts", {"body": body, **extra})
    eq(r.status, expect, f"reply ({r!r})")
    return r.json()


def delete(c, path):
    return c.request("DELETE", path)


def patch(c, path, body):
    return c.request("PATCH", path, body)


# ---------------------------------------------------------------- browsing and posting

def test_visitor_browses_boards_topics_and_replies(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    tp = topic(m, b["slug"], tags=["LED", "照明"])
    eq(tp["topic"]["tags"], ["led", "照明"], "tags are stored lower-cased")
    eq(tp["first_post"]["body_html"], "<p><strong>MOQ</strong> 500pcs, FOB深圳</p>\n",
       "Markdown rendered")
    reply(m, tp["topic"]["id"])
    visitor = Client(t)
    r = visitor.get("/api/v1/boards")
    eq(r.status, 200, f"boards ({r!r})")
    mine = [x for x in r.json()["boards"] if x["slug"] == b["slug"]]
    eq(len(mine), 1, "the board is listed")
    eq((mine[0]["topic_count"], mine[0]["post_count"]), (1, 2), "board counters")
    r = visitor.get(f"/api/v1/boards/{b['slug']}/topics")
    eq(r.status, 200, f"board topics ({r!r})")
    eq([x["id"] for x in r.json()["topics"]], [tp["topic"]["id"]], "topic list")
    eq(r.json()["topics"][0]["reply_count"], 1, "reply count")
    r = visitor.get(f"/api/v1/topics/{tp['topic']['id']}")
    eq(r.status, 200, f"topic page ({r!r})")
    j = r.json()
    eq(j["topic"]["title"], "求购LED面板灯", "title")
    eq(len(j["replies"]), 1, "replies")
    eq(j["replies"][0]["body_html"], "<p>有兴趣，请联系</p>\n", "reply body")
    check("liked_post_ids" not in j["topic"], "visitors have no personal fields")
    r = visitor.get("/api/v1/topics?tag=led&board=" + b["slug"])
    eq([x["id"] for x in r.json()["topics"]], [tp["topic"]["id"]], "by tag")
    r = visitor.get("/api/v1/topics?tag=nothing-" + uuid.uuid4().hex[:6])
    eq(r.json()["topics"], [], "unknown tag: empty list")
    eq(visitor.get("/api/v1/boards/no-such-board/topics").status, 404, "unknown board")
    eq(visitor.get("/api/v1/topics/999999999").status, 404, "unknown topic")


def test_posting_needs_an_account_and_csrf(t):
    fresh(t)
    b = new_board(t)
    visitor = Client(t)
    r = visitor.post(f"/api/v1/boards/{b['slug']}/topics", {"title": "标题", "body": "正文"})
    assert_problem(r, 401, "unauthorized")
    m = member(t)
    r = m.post(f"/api/v1/boards/{b['slug']}/topics", {"title": "标题", "body": "正文"},
               csrf=False)
    check(r.status == 403, f"a cookie session without the CSRF token is refused ({r!r})")
    eq(t.sql(f"SELECT COUNT(*) FROM topics t JOIN boards b ON b.id = t.board_id "
             f"WHERE b.slug = '{b['slug']}'")[0][0] in (0, "0"), True, "nothing stored")


def test_board_creation_is_staff_only(t):
    fresh(t)
    m = member(t)
    r = m.post("/api/v1/boards", {"slug": "mine-" + uuid.uuid4().hex[:6], "name": "x"})
    check(r.status in (401, 403), f"members cannot create boards ({r!r})")
    b = new_board(t)
    r = staff(t).post("/api/v1/boards", {"slug": b["slug"], "name": "again"})
    p = assert_problem(r, 409, "conflict")
    eq(p["errors"][0]["field"], "slug", "the field named")
    r = staff(t).post("/api/v1/boards", {"slug": "Bad Slug!", "name": "x"})
    assert_problem(r, 400, "invalid")


def test_script_and_handlers_come_out_inert(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    body = ("<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n"
            "[x](javascript:alert(1)) [y](https://example.com)")
    tp = topic(m, b["slug"], title="<b onmouseover=x>hi</b>", body=body)
    html = tp["first_post"]["body_html"]
    check("<script" not in html and "<img" not in html, f"raw HTML is escaped: {html!r}")
    check("javascript:" not in html.split("href=")[-1] or 'href="javascript' not in html,
          f"no javascript: link: {html!r}")
    check('<a href="https://example.com"' in html, f"the safe link stays: {html!r}")
    eq(tp["topic"]["title"], "<b onmouseover=x>hi</b>", "titles are plain text (JSON-escaped)")
    stored = t.sql(f"SELECT length(body_md), substr(body_md, 1, 25) FROM posts "
                   f"WHERE id = {tp['first_post']['id']}")[0]
    eq((int(stored[0]), stored[1]), (len(body), body[:25]), "the Markdown source is stored")


def test_limits_on_titles_bodies_and_tags(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    before = t.db_counts()
    path = f"/api/v1/boards/{b['slug']}/topics"
    cases = [
        ({"title": "x" * 151, "body": "b"}, "title", "too_long"),
        ({"title": "x", "body": "b"}, "title", "too_short"),
        ({"title": "   ", "body": "b"}, "title", "too_short"),
        ({"title": "ok title", "body": "b" * 20001}, "body", "too_long"),
        ({"title": "ok title", "body": " \n "}, "body", "too_short"),
        ({"title": "ok title", "body": "b", "tags": ["a", "b", "c", "d", "e", "f"]}, "tags",
         "too_many"),
        ({"title": "ok title", "body": "b", "tags": ["x" * 25]}, "tags", "too_long"),
        ({"title": "ok title", "body": "b", "tags": ["<script>"]}, "tags", "invalid_tag"),
        ({"title": "ok title", "body": "b", "extra": 1}, "extra", "unknown"),
    ]
    for body, field, code in cases:
        r = m.post(path, body)
        p = assert_problem(r, 400, "invalid")
        errs = [(e["field"].split("/")[0], e["code"]) for e in p.get("errors", [])]
        check(any(f == field and c == code for f, c in errs),
              f"{body!r}: expected {field}/{code}, got {errs!r}")
    t.assert_storage_unchanged(before, "rejected topics")


def test_replies_thread_one_level_and_quote(t):
    fresh(t)
    b = new_board(t)
    a, c = member(t), member(t)
    tp = topic(a, b["slug"])
    tid = tp["topic"]["id"]
    r1 = reply(c, tid, "first reply")
    r2 = reply(a, tid, "answer to the reply", parent_id=r1["id"])
    eq(r2["parent_id"], r1["id"], "threaded under the reply")
    r3 = reply(c, tid, "answer to the answer", parent_id=r2["id"], quote_post_id=r2["id"])
    eq(r3["parent_id"], r1["id"], "one level: hangs under the top-level reply")
    eq(r3["quote_post_id"], r2["id"], "quote kept")
    eq((r1["position"], r2["position"], r3["position"]), (1, 2, 3), "positions")
    other = topic(a, b["slug"], title="另一个主题")
    r = c.post(f"/api/v1/topics/{tid}/posts", {"body": "x", "quote_post_id":
                                               other["first_post"]["id"]})
    assert_problem(r, 400, "invalid")
    r = c.post(f"/api/v1/topics/{tid}/posts", {"body": "x", "parent_id": tp["first_post"]["id"]})
    assert_problem(r, 400, "invalid")


def test_topic_pages_and_lists_page_by_twenty(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    tp = topic(m, b["slug"])
    tid = tp["topic"]["id"]
    offset = 0
    try:
        for i in range(45):
            if i and i % 9 == 0:  # stay under the posting limit by moving the clock
                offset += 61000
                set_clock(t, offset)
            reply(m, tid, f"reply {i}")
        pages, cursor, seen = 0, None, []
        while True:
            r = Client(t).get(f"/api/v1/topics/{tid}" + (f"?cursor={cursor}" if cursor else ""))
            eq(r.status, 200, f"page ({r!r})")
            j = r.json()
            seen += [p["position"] for p in j["replies"]]
            pages += 1
            check(len(j["replies"]) <= 20, "20 a page")
            cursor = j["next_cursor"]
            if not cursor:
                break
        eq(pages, 3, "45 replies make 3 pages")
        eq(seen, list(range(1, 46)), "every reply once, in order")
        # Topic list: 25 topics, pages of 20, newest activity first.
        for i in range(24):
            offset += 61000 if i % 9 == 0 else 0
            if i % 9 == 0:
                set_clock(t, offset)
            topic(m, b["slug"], title=f"topic {i}")
        r = Client(t).get(f"/api/v1/boards/{b['slug']}/topics")
        j = r.json()
        eq(len(j["topics"]), 20, "first page")
        check(j["next_cursor"], "a cursor to the rest")
        r2 = Client(t).get(f"/api/v1/boards/{b['slug']}/topics?cursor="
                           + urllib.parse.quote(j["next_cursor"]))
        j2 = r2.json()
        eq(len(j2["topics"]), 5, "second page")
        eq(j2["next_cursor"], None, "the end")
        ids = [x["id"] for x in j["topics"] + j2["topics"]]
        eq(len(set(ids)), 25, "no topic twice")
        r = Client(t).get(f"/api/v1/boards/{b['slug']}/topics?cursor=garbage")
        assert_problem(r, 400, "invalid")
        r = Client(t).get(f"/api/v1/boards/{b['slug']}/topics?sort=top")
        eq(r.json()["topics"][0]["id"], tid, "top: the topic with 45 replies first")
    finally:
        set_clock(t, 0)


# ---------------------------------------------------------------- edits and deletes

def test_edit_keeps_history_and_only_the_author_may(t):
    fresh(t)
    b = new_board(t)
    a, other = member(t), member(t)
    tp = topic(a, b["slug"], title="原标题", body="原文")
    pid = tp["first_post"]["id"]
    r = patch(a, f"/api/v1/posts/{pid}", {"title": "新标题", "body": "新的正文"})
    eq(r.status, 200, f"edit ({r!r})")
    eq(r.json()["topic"]["title"], "新标题", "title changed")
    eq(r.json()["first_post"]["body_html"], "<p>新的正文</p>\n", "body changed")
    eq(r.json()["first_post"]["edit_count"], 1, "edit count")
    h = Client(t).get(f"/api/v1/posts/{pid}/revisions").json()["revisions"]
    eq([(x["title"], x["body_md"]) for x in h], [("原标题", "原文")], "history")
    # Another member can neither edit nor delete it, and nothing changes.
    before = t.sql(f"SELECT body_md, edit_count, deleted_at FROM posts WHERE id = {pid}")
    r = patch(other, f"/api/v1/posts/{pid}", {"body": "hijacked"})
    assert_problem(r, 403, "forbidden")
    r = delete(other, f"/api/v1/posts/{pid}")
    assert_problem(r, 403, "forbidden")
    eq(t.sql(f"SELECT body_md, edit_count, deleted_at FROM posts WHERE id = {pid}"), before,
       "the post is unchanged")
    rp = reply(other, tp["topic"]["id"], "a reply")
    r = patch(other, f"/api/v1/posts/{rp['id']}", {"title": "titles are for first posts"})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "first_post_only", "code")


def test_delete_is_soft_and_hides_the_text(t):
    fresh(t)
    b = new_board(t)
    a, c = member(t), member(t)
    tp = topic(a, b["slug"], body="删除测试 zebraword")
    rp = reply(c, tp["topic"]["id"], "回复将被删除 quaggaword")
    r = delete(c, f"/api/v1/posts/{rp['id']}")
    eq(r.status, 204, f"delete ({r!r})")
    r = delete(c, f"/api/v1/posts/{rp['id']}")
    assert_problem(r, 404, "not-found")
    page = Client(t).get(f"/api/v1/topics/{tp['topic']['id']}").json()
    eq(page["replies"][0]["deleted"], True, "shown as deleted")
    eq(page["replies"][0]["body_html"], None, "without its text")
    rows = t.sql(f"SELECT body_md FROM posts WHERE id = {rp['id']}")
    eq(rows[0][0], "回复将被删除 quaggaword", "the row stays (soft delete)")
    eq(Client(t).get("/api/v1/search?q=quaggaword").json()["results"], [],
       "a deleted post is not found")
    # Deleting the first post deletes the topic.
    eq(delete(a, f"/api/v1/posts/{tp['first_post']['id']}").status, 204, "delete first post")
    eq(Client(t).get(f"/api/v1/topics/{tp['topic']['id']}").status, 404, "topic gone")
    eq(Client(t).get("/api/v1/search?q=zebraword").json()["results"], [], "not searchable")


# ---------------------------------------------------------------- reactions

def test_like_unlike_favourite_and_their_conflicts(t):
    fresh(t)
    b = new_board(t)
    a, c = member(t), member(t)
    tp = topic(a, b["slug"])
    pid, tid = tp["first_post"]["id"], tp["topic"]["id"]
    eq(c.post(f"/api/v1/posts/{pid}/like").status, 204, "like")
    assert_problem(c.post(f"/api/v1/posts/{pid}/like"), 409, "conflict")
    j = c.get(f"/api/v1/topics/{tid}").json()
    eq(j["first_post"]["like_count"], 1, "like counted once")
    eq(j["topic"]["liked_post_ids"], [pid], "liked by me")
    assert_problem(a.post(f"/api/v1/posts/{pid}/like"), 422, "unprocessable")
    eq(delete(c, f"/api/v1/posts/{pid}/like").status, 204, "unlike")
    assert_problem(delete(c, f"/api/v1/posts/{pid}/like"), 409, "conflict")
    eq(Client(t).get(f"/api/v1/topics/{tid}").json()["first_post"]["like_count"], 0, "uncounted")
    assert_problem(c.post("/api/v1/posts/999999999/like"), 404, "not-found")
    eq(c.post(f"/api/v1/topics/{tid}/favourite").status, 204, "favourite")
    assert_problem(c.post(f"/api/v1/topics/{tid}/favourite"), 409, "conflict")
    favs = c.get("/api/v1/me/favourites").json()["favourites"]
    eq([x["id"] for x in favs], [tid], "my favourites")
    eq(a.get("/api/v1/me/favourites").json()["favourites"], [], "not someone else's")
    eq(delete(c, f"/api/v1/topics/{tid}/favourite").status, 204, "unfavourite")
    eq(c.get("/api/v1/me/favourites").json()["favourites"], [], "removed")


def test_follow_users_and_boards(t):
    fresh(t)
    b = new_board(t)
    a, c = member(t), member(t)
    aid, cid = a.user["id"], c.user["id"]
    r = a.post(f"/api/v1/users/{aid}/follow")
    p = assert_problem(r, 422, "unprocessable")
    check(p["detail"], "the problem says why")
    eq(t.sql(f"SELECT COUNT(*) FROM user_follows WHERE follower_id = {aid}")[0][0] in (0, "0"),
       True, "nothing stored")
    eq(a.post(f"/api/v1/users/{cid}/follow").status, 204, "follow")
    assert_problem(a.post(f"/api/v1/users/{cid}/follow"), 409, "conflict")
    assert_problem(a.post("/api/v1/users/999999999/follow"), 404, "not-found")
    eq(a.post(f"/api/v1/boards/{b['slug']}/follow").status, 204, "follow board")
    assert_problem(a.post(f"/api/v1/boards/{b['slug']}/follow"), 409, "conflict")
    f = a.get("/api/v1/me/following").json()
    eq([u["id"] for u in f["users"]], [cid], "users I follow")
    eq([x["slug"] for x in f["boards"]], [b["slug"]], "boards I follow")
    eq(a.get(f"/api/v1/boards/{b['slug']}").json()["following"], True, "board says so")
    eq(delete(a, f"/api/v1/users/{cid}/follow").status, 204, "unfollow")
    eq(delete(a, f"/api/v1/boards/{b['slug']}/follow").status, 204, "unfollow board")
    eq(a.get("/api/v1/me/following").json(), {"users": [], "boards": []}, "nothing followed")


def test_recently_viewed_is_mine_only(t):
    fresh(t)
    b = new_board(t)
    a, c = member(t), member(t)
    t1 = topic(a, b["slug"], title="第一个")["topic"]["id"]
    t2 = topic(a, b["slug"], title="第二个")["topic"]["id"]
    c.get(f"/api/v1/topics/{t1}")
    c.get(f"/api/v1/topics/{t2}")
    c.get(f"/api/v1/topics/{t1}")
    eq([x["id"] for x in c.get("/api/v1/me/recent").json()["recent"]][:2], [t1, t2],
       "most recent first")
    Client(t).get(f"/api/v1/topics/{t2}")
    eq(t.sql(f"SELECT COUNT(*) FROM recently_viewed WHERE topic_id = {t2}")[0][0] in (1, "1"),
       True, "visitors leave no history")


# ---------------------------------------------------------------- moderation and limits

def test_locked_and_hidden_topics_refuse_replies(t):
    fresh(t)
    b = new_board(t)
    a, c = member(t), member(t)
    tp = topic(a, b["slug"])
    tid = tp["topic"]["id"]
    s = staff(t)
    r = c.post(f"/api/v1/topics/{tid}/moderation", {"action": "lock"})
    check(r.status in (401, 403), f"members cannot moderate ({r!r})")
    eq(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "lock", "reason": "off topic"})
       .status, 204, "lock")
    assert_problem(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "lock"}), 409)
    before = t.db_counts()
    p = assert_problem(c.post(f"/api/v1/topics/{tid}/posts", {"body": "late"}), 409, "conflict")
    check("lock" in p["detail"].lower(), f"the detail says locked: {p['detail']!r}")
    t.assert_storage_unchanged(before, "a reply to a locked topic")
    eq(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "unlock"}).status, 204, "")
    eq(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "hide"}).status, 204, "hide")
    assert_problem(c.post(f"/api/v1/topics/{tid}/posts", {"body": "x"}), 403, "forbidden")
    eq(Client(t).get(f"/api/v1/topics/{tid}").status, 404, "hidden from visitors")
    eq(a.get(f"/api/v1/topics/{tid}").status, 200, "its author still sees it")
    log = t.sql(f"SELECT action, reason FROM moderator_actions WHERE topic_id = {tid} ORDER BY id")
    eq([tuple(x) for x in log], [("topic.lock", "off topic"), ("topic.unlock", ""),
                                 ("topic.hide", "")], "every action logged")
    assert_problem(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "explode"}), 400)


def test_posting_is_rate_limited_with_retry_after(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    tid = topic(m, b["slug"])["topic"]["id"]
    for i in range(9):
        reply(m, tid, f"reply {i}")
    before = t.db_counts()
    r = m.post(f"/api/v1/topics/{tid}/posts", {"body": "one too many"})
    p = assert_problem(r, 429, "rate-limited")
    secs = int(r.header("Retry-After"))
    check(1 <= secs <= 60, f"Retry-After {secs}")
    eq(p["retry_after_s"], secs, "the problem says the same")
    t.assert_storage_unchanged(before, "a rate-limited reply")
    try:
        set_clock(t, 61000)
        reply(m, tid, "after the wait")
    finally:
        set_clock(t, 0)


# ---------------------------------------------------------------- search

def test_search_chinese_latin_filters_and_snippets(t):
    fresh(t)
    b1, b2 = new_board(t), new_board(t)
    a, c = member(t), member(t)
    mark = uuid.uuid4().hex[:8]
    t1 = topic(a, b1["slug"], title="包裝機械出口", body=f"我們生產包裝機械，{mark}樣品可寄",
               tags=["机械"])
    t2 = topic(c, b2["slug"], title="Packaging machines", body=f"Plástico {mark} sample")
    q = lambda s: Client(t).get("/api/v1/search?" + urllib.parse.urlencode(s))  # noqa: E731
    r = q({"q": "包装机械 " + mark})
    eq(r.status, 200, f"search ({r!r})")
    res = r.json()["results"]
    eq([x["post_id"] for x in res], [t1["first_post"]["id"]], "simplified finds traditional")
    check("<mark>機械</mark>" in res[0]["snippet_html"] or "<mark>包裝機械</mark>"
          in res[0]["snippet_html"], f"highlight on the original text: {res[0]['snippet_html']!r}")
    eq([x["post_id"] for x in q({"q": "plastico " + mark}).json()["results"]],
       [t2["first_post"]["id"]], "accents removed")
    eq(q({"q": mark + " 械"}).json()["results"][0]["post_id"], t1["first_post"]["id"],
       "one character")
    both = q({"q": mark, "sort": "latest"}).json()["results"]
    eq([x["post_id"] for x in both], [t2["first_post"]["id"], t1["first_post"]["id"]],
       "latest first")
    eq([x["post_id"] for x in q({"q": mark, "board": b2["slug"]}).json()["results"]],
       [t2["first_post"]["id"]], "board filter")
    eq([x["post_id"] for x in q({"q": mark, "tag": "机械"}).json()["results"]],
       [t1["first_post"]["id"]], "tag filter")
    eq([x["post_id"] for x in q({"q": mark, "author": c.user["id"]}).json()["results"]],
       [t2["first_post"]["id"]], "author filter")
    eq(q({"q": mark, "from": int(time.time() * 1000) + 3600000}).json()["results"], [],
       "date filter")
    p = assert_problem(q({"q": "!!! ..."}), 400, "invalid")
    eq(p["errors"][0]["code"], "no_terms", "a query without terms")
    assert_problem(q({"q": mark, "sort": "best"}), 400, "invalid")
    assert_problem(Client(t).get("/api/v1/search"), 400, "invalid")
