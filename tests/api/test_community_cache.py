"""Visitors' answers are cached (src/community/cache.c): a board's topic
list and a topic's page. These tests hold the cache to its promise: a
visitor never sees an answer older than the last write made through the
API, whatever the write (topic, reply, edit, like, delete, moderation,
move), a change made behind the server's back with a version bump (another
node or process) shows within the recheck interval, and members are never
served a visitor's answer. Runs on both engines.
"""
import time

from harness import check, eq
from test_accounts import Client, db_write, fresh
from test_community import delete, member, new_board, reply, staff, topic


def listed(c, slug):
    r = c.get(f"/api/v1/boards/{slug}/topics")
    eq(r.status, 200, f"list ({r!r})")
    return r.json()["topics"]


def page(c, tid):
    r = c.get(f"/api/v1/topics/{tid}")
    return r.status, (r.json() if r.status == 200 else None)


def test_every_write_shows_at_once_to_visitors(t):
    fresh(t)
    b, other = new_board(t), new_board(t)
    m, fan = member(t), member(t)
    v = Client(t)
    eq(listed(v, b["slug"]), [], "empty board")
    eq(listed(v, b["slug"]), [], "and again (now from the cache)")
    tp = topic(m, b["slug"], title="缓存测试")
    tid = tp["topic"]["id"]
    eq([x["id"] for x in listed(v, b["slug"])], [tid], "a new topic is listed at once")
    eq(len(page(v, tid)[1]["replies"]), 0, "no reply yet")
    page(v, tid)
    rp = reply(fan, tid, "第一条回复")
    eq([x["body_html"] for x in page(v, tid)[1]["replies"]], ["<p>第一条回复</p>\n"], "the reply")
    eq(listed(v, b["slug"])[0]["reply_count"], 1, "the list counts it")
    eq(fan.post(f"/api/v1/posts/{tp['first_post']['id']}/like").status, 204, "like")
    eq(page(v, tid)[1]["first_post"]["like_count"], 1, "the like shows")
    eq(listed(v, b["slug"])[0]["like_count"], 1, "in the list too")
    r = m.request("PATCH", f"/api/v1/posts/{tp['first_post']['id']}", {"title": "新标题"})
    eq(r.status, 200, f"edit ({r!r})")
    eq(page(v, tid)[1]["topic"]["title"], "新标题", "the edit shows")
    eq(listed(v, b["slug"])[0]["title"], "新标题", "in the list too")
    eq(delete(fan, f"/api/v1/posts/{rp['id']}").status, 204, "delete the reply")
    eq(page(v, tid)[1]["replies"][0]["deleted"], True, "shown deleted")
    s = staff(t)
    eq(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "move", "board": other["slug"]})
       .status, 204, "move")
    eq(listed(v, b["slug"]), [], "gone from the old board")
    eq([x["id"] for x in listed(v, other["slug"])], [tid], "in the new one")
    eq(page(v, tid)[1]["topic"]["board"]["slug"], other["slug"], "the page says so")
    eq(s.post(f"/api/v1/topics/{tid}/moderation", {"action": "hide"}).status, 204, "hide")
    eq(page(v, tid)[0], 404, "a hidden topic is gone for visitors at once")
    eq(listed(v, other["slug"]), [], "and from the list")


def test_members_get_their_own_answer(t):
    fresh(t)
    b = new_board(t)
    m, fan = member(t), member(t)
    tp = topic(m, b["slug"])
    tid = tp["topic"]["id"]
    v = Client(t)
    page(v, tid)
    page(v, tid)  # cached for visitors now
    eq(fan.post(f"/api/v1/posts/{tp['first_post']['id']}/like").status, 204, "like")
    j = page(fan, tid)[1]
    eq(j["topic"]["liked_post_ids"], [tp["first_post"]["id"]], "the member's own likes")
    check("liked_post_ids" not in page(v, tid)[1]["topic"], "visitors never see them")
    eq(page(m, tid)[1]["topic"]["can_moderate"], False, "members get their rights")


def test_changes_from_elsewhere_show_within_the_recheck_interval(t):
    fresh(t)
    b = new_board(t)
    m = member(t)
    tid = topic(m, b["slug"], title="原来的标题")["topic"]["id"]
    v = Client(t)
    eq(page(v, tid)[1]["topic"]["title"], "原来的标题", "first read")
    # Another node (or process) changes the topic and bumps its version,
    # as every community write does in its transaction.
    db_write(t, f"UPDATE topics SET title = '别处改的标题', version = version + 1 WHERE id = {tid}")
    db_write(t, f"UPDATE boards SET version = version + 1 WHERE id = {b['id']}")
    time.sleep(0.3)  # CM_CACHE_RECHECK_MS is 250 ms
    eq(page(v, tid)[1]["topic"]["title"], "别处改的标题", "the page")
    eq(listed(v, b["slug"])[0]["title"], "别处改的标题", "the list")
