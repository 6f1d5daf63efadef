"""Community moderation over HTTP: board owners appoint moderators;
moderators (of that board only) and staff moderators lock, hide, pin and
move topics, hide replies and suspend members from posting; members report
posts once; moderators work through their board's report queue; every
action lands in the moderator log that staff read.

Each refusal is checked twice: the status and problem, and that nothing
changed in the database. Runs on both engines.
"""
import re
import time
import uuid

from harness import assert_problem, check, eq
from test_accounts import (PASSWORD, Client, _create_admin, db_write, fresh, new_phone,
                           set_clock, totp)
from test_community import delete, member, new_board, reply, staff, topic

ROLE_SUPPORT, ROLE_OPERATIONS, ROLE_COMPLIANCE = 1, 2, 4


def rows(t, sql):
    """Query rows as tuples of strings on both engines (NULL as '')."""
    return [tuple("" if v is None else str(v) for v in r) for r in t.sql(sql)]


def one(t, sql):
    return rows(t, sql)[0][0]


def staff_with(t, roles):
    """A signed-in staff member holding exactly roles (bit set)."""
    phone = new_phone()
    p = _create_admin(t, phone)
    eq(p.returncode, 0, f"create-admin ({p.stderr})")
    secret = re.search(r"TOTP secret.*: ([A-Z2-7]{32})", p.stdout).group(1)
    uid = re.search(r"admin-(\d+)", p.stdout).group(1)
    db_write(t, f"UPDATE users SET staff_roles = {roles} WHERE id = {uid}")
    c = Client(t)
    r = c.post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                       "totp": totp(secret, int(time.time() * 1000))})
    eq(r.status, 200, f"staff sign-in ({r!r})")
    return c


def owned_board(t):
    """A board and its owner (ownership set in the database: members
    become owners by creating a board once verified, tested elsewhere)."""
    b = new_board(t)
    owner = member(t)
    db_write(t, f"UPDATE boards SET owner_id = {owner.user['id']} WHERE id = {b['id']}")
    return b, owner


def with_moderator(t):
    b, owner = owned_board(t)
    mod = member(t)
    r = owner.post(f"/api/v1/boards/{b['slug']}/moderators", {"user_id": mod.user["id"]})
    eq(r.status, 204, f"appointment ({r!r})")
    return b, owner, mod


def log_actions(t, board_id):
    return [r[0] for r in rows(t, f"SELECT action FROM moderator_actions WHERE board_id = "
                                  f"{board_id} ORDER BY id")]


def moderate(c, tid, action, **extra):
    return c.post(f"/api/v1/topics/{tid}/moderation", {"action": action, **extra})


# ---------------------------------------------------------------- moderators

def test_owner_appoints_and_removes_moderators(t):
    fresh(t)
    b, owner = owned_board(t)
    m, other = member(t), member(t)
    path = f"/api/v1/boards/{b['slug']}/moderators"
    before = t.db_counts()
    assert_problem(other.post(path, {"user_id": m.user["id"]}), 403, "forbidden")
    assert_problem(Client(t).post(path, {"user_id": m.user["id"]}), 401, "unauthorized")
    t.assert_storage_unchanged(before, "appointments by a non-owner")
    eq(owner.post(path, {"user_id": m.user["id"]}).status, 204, "the owner appoints")
    assert_problem(owner.post(path, {"user_id": m.user["id"]}), 409, "conflict")
    assert_problem(owner.post(path, {"user_id": 999999999}), 404, "not-found")
    # A moderator may not appoint others.
    assert_problem(m.post(path, {"user_id": other.user["id"]}), 403, "forbidden")
    j = Client(t).get(path).json()
    eq(j["owner"]["id"], owner.user["id"], "owner listed")
    eq([x["id"] for x in j["moderators"]], [m.user["id"]], "moderators listed")
    assert_problem(delete(other, f"{path}/{m.user['id']}"), 403, "forbidden")
    eq(delete(owner, f"{path}/{m.user['id']}").status, 204, "the owner removes")
    assert_problem(delete(owner, f"{path}/{m.user['id']}"), 409, "conflict")
    eq(Client(t).get(path).json()["moderators"], [], "no moderator left")
    # Staff moderators appoint on any board; support staff do not.
    ops = staff_with(t, ROLE_OPERATIONS)
    eq(ops.post(path, {"user_id": other.user["id"]}).status, 204, "operations staff appoint")
    sup = staff_with(t, ROLE_SUPPORT)
    assert_problem(sup.post(path, {"user_id": m.user["id"]}), 403, "forbidden")
    eq(log_actions(t, b["id"]), ["board.create", "moderator.appoint", "moderator.remove",
                                 "moderator.appoint"], "appointments are logged")
    assert_problem(Client(t).get("/api/v1/boards/no-such-board/moderators"), 404, "not-found")


# ---------------------------------------------------------------- topics

def test_moderators_act_on_their_own_board_only(t):
    fresh(t)
    a, _, mod_a = with_moderator(t)
    bb, _, mod_b = with_moderator(t)
    author, other = member(t), member(t)
    ta = topic(author, a["slug"], title="A 版主题")["topic"]["id"]
    tb = topic(author, bb["slug"], title="B 版主题")["topic"]["id"]
    # Neither a plain member nor another board's moderator, and nothing changes.
    before = rows(t, f"SELECT locked, hidden, pinned, board_id FROM topics WHERE id = {tb}")
    counts = t.db_counts()
    for c, who in ((other, "a member"), (mod_a, "another board's moderator"),
                   (author, "the author")):
        for action in ("lock", "hide", "pin"):
            p = assert_problem(moderate(c, tb, action), 403, "forbidden")
            check(p.get("detail"), f"{who}: the problem says why")
        assert_problem(moderate(c, tb, "move", board=a["slug"]), 403, "forbidden")
    eq(rows(t, f"SELECT locked, hidden, pinned, board_id FROM topics WHERE id = {tb}"), before,
       "the topic is unchanged")
    t.assert_storage_unchanged(counts, "refused moderation")
    # Their own board's topic: every action, each logged with its reason.
    for action in ("lock", "unlock", "pin", "unpin", "hide", "unhide"):
        eq(moderate(mod_a, ta, action, reason="r-" + action).status, 204, action)
    assert_problem(moderate(mod_a, ta, "unhide"), 409, "conflict")
    p = assert_problem(moderate(mod_a, ta, "move"), 400, "invalid")
    eq(p["errors"][0]["field"], "board", "move needs a board")
    p = assert_problem(moderate(mod_a, ta, "move", board="no-such-board"), 400, "invalid")
    eq(p["errors"][0]["field"], "board", "an unknown board is named")
    assert_problem(moderate(mod_a, ta, "move", board=a["slug"]), 409, "conflict")
    eq(moderate(mod_a, ta, "move", board=bb["slug"], reason="wrong board").status, 204, "move")
    eq(Client(t).get(f"/api/v1/topics/{ta}").json()["topic"]["board"]["slug"], bb["slug"],
       "the topic is in the new board")
    counts = {r[0]: (int(r[1]), int(r[2])) for r in
              rows(t, f"SELECT id, topic_count, post_count FROM boards WHERE id IN "
                      f"({a['id']}, {bb['id']})")}
    eq((counts[str(a["id"])], counts[str(bb["id"])]), ((0, 0), (2, 2)), "board counters follow")
    # Now it is board B's topic: A's moderator has lost it, B's has it.
    assert_problem(moderate(mod_a, ta, "lock"), 403, "forbidden")
    eq(moderate(mod_b, ta, "lock").status, 204, "the new board's moderator")
    # Staff: operations moderate anywhere, support staff do not.
    eq(moderate(staff_with(t, ROLE_OPERATIONS), tb, "pin").status, 204, "operations staff")
    assert_problem(moderate(staff_with(t, ROLE_SUPPORT), tb, "unpin"), 403, "forbidden")
    got = rows(t, f"SELECT action, reason, detail FROM moderator_actions WHERE topic_id = {ta} "
                  f"ORDER BY id")
    eq([g[0] for g in got], ["topic.lock", "topic.unlock", "topic.pin", "topic.unpin",
                             "topic.hide", "topic.unhide", "topic.move", "topic.lock"],
       "every action logged")
    eq(got[0][1], "r-lock", "with its reason")
    eq(got[6][2].replace(" ", ""), f'{{"from":{a["id"]},"to":{bb["id"]}}}', "move detail")
    assert_problem(moderate(mod_a, 999999999, "lock"), 404, "not-found")


def test_hidden_topic_and_moderator_view(t):
    fresh(t)
    b, _, mod = with_moderator(t)
    author, other = member(t), member(t)
    tid = topic(author, b["slug"])["topic"]["id"]
    eq(moderate(mod, tid, "hide").status, 204, "hide")
    eq(Client(t).get(f"/api/v1/topics/{tid}").status, 404, "visitors: gone")
    eq(other.get(f"/api/v1/topics/{tid}").status, 404, "other members: gone")
    eq(author.get(f"/api/v1/topics/{tid}").json()["topic"]["hidden"], True, "author: marked")
    j = mod.get(f"/api/v1/topics/{tid}").json()
    eq((j["topic"]["hidden"], j["topic"]["can_moderate"]), (True, True), "moderator sees it")
    eq(other.get(f"/api/v1/boards/{b['slug']}/topics").json()["topics"], [], "not listed")


# ---------------------------------------------------------------- posts

def test_hidden_reply_is_marked_for_its_author_and_blank_for_others(t):
    fresh(t)
    b, _, mod = with_moderator(t)
    author, replier, other = member(t), member(t), member(t)
    mark = uuid.uuid4().hex[:10]
    tp = topic(author, b["slug"])
    tid = tp["topic"]["id"]
    rp = reply(replier, tid, f"广告 {mark}")
    path = f"/api/v1/posts/{rp['id']}/moderation"
    assert_problem(other.post(path, {"action": "hide"}), 403, "forbidden")
    eq(rows(t, f"SELECT hidden FROM posts WHERE id = {rp['id']}"), [("0",)], "unchanged")
    assert_problem(mod.post(f"/api/v1/posts/{tp['first_post']['id']}/moderation",
                            {"action": "hide"}), 422, "unprocessable")
    eq(mod.post(path, {"action": "hide", "reason": "spam"}).status, 204, "hide")
    assert_problem(mod.post(path, {"action": "hide"}), 409, "conflict")

    def seen_by(c):
        j = c.get(f"/api/v1/topics/{tid}").json()
        return j["replies"][0]

    mine = seen_by(replier)
    eq((mine["hidden"], mine["body_html"]), (True, f"<p>广告 {mark}</p>\n"),
       "its author still reads it, marked hidden")
    for c, who in ((other, "another member"), (Client(t), "a visitor"), (author, "topic author")):
        r = seen_by(c)
        eq((r["hidden"], r["body_html"], r["author"]), (True, None, None), f"{who}: placeholder")
    eq(seen_by(mod)["body_html"], f"<p>广告 {mark}</p>\n", "the moderator reads it")
    eq(Client(t).get(f"/api/v1/search?q={mark}").json()["results"], [], "not searchable")
    assert_problem(other.post(f"/api/v1/posts/{rp['id']}/like"), 404, "not-found")
    eq(mod.post(path, {"action": "unhide"}).status, 204, "unhide")
    eq(seen_by(other)["body_html"], f"<p>广告 {mark}</p>\n", "visible again")
    eq(len(Client(t).get(f"/api/v1/search?q={mark}").json()["results"]), 1, "searchable again")
    eq([r for r in log_actions(t, b["id"]) if r.startswith("post.")], ["post.hide", "post.unhide"],
       "logged")
    got = rows(t, f"SELECT target_user_id, reason FROM moderator_actions WHERE post_id = "
                  f"{rp['id']} ORDER BY id")
    eq(got[0], (str(replier.user["id"]), "spam"), "the author acted upon and the reason")


# ---------------------------------------------------------------- suspensions

def test_suspension_bars_posting_in_that_board_until_its_end(t):
    fresh(t)
    b, owner, mod = with_moderator(t)
    other_board = new_board(t)
    m, bystander = member(t), member(t)
    tid = topic(bystander, b["slug"])["topic"]["id"]
    own = reply(m, tid, "my reply before")
    path = f"/api/v1/boards/{b['slug']}/suspensions"
    now = int(time.time() * 1000)
    hour = now + 20 * 60 * 1000  # sessions end after 30 idle minutes: stay under
    before = t.db_counts()
    assert_problem(bystander.post(path, {"user_id": m.user["id"], "until": hour}), 403)
    p = assert_problem(mod.post(path, {"user_id": m.user["id"], "until": now - 1000}), 400)
    eq((p["errors"][0]["field"], p["errors"][0]["code"]), ("until", "future"), "a past end")
    assert_problem(mod.post(path, {"user_id": mod.user["id"], "until": hour}), 422, "unprocessable")
    assert_problem(mod.post(path, {"user_id": owner.user["id"], "until": hour}), 403)
    assert_problem(mod.post(path, {"user_id": 999999999, "until": hour}), 404)
    t.assert_storage_unchanged(before, "refused suspensions")
    r = mod.post(path, {"user_id": m.user["id"], "until": hour, "reason": "flooding"})
    eq(r.status, 204, f"suspend ({r!r})")
    before = t.db_counts()
    p = assert_problem(m.post(f"/api/v1/topics/{tid}/posts", {"body": "still here"}), 403)
    check("suspend" in p["detail"].lower(), f"the detail says why: {p['detail']!r}")
    assert_problem(m.post(f"/api/v1/boards/{b['slug']}/topics",
                          {"title": "new topic", "body": "text"}), 403)
    r = m.request("PATCH", f"/api/v1/posts/{own['id']}", {"body": "edited"})
    assert_problem(r, 403)
    t.assert_storage_unchanged(before, "posts of a suspended member")
    topic(m, other_board["slug"], title="elsewhere is fine")
    lst = mod.get(path).json()["suspensions"]
    eq([(x["user"]["id"], x["until"], x["reason"]) for x in lst],
       [(m.user["id"], hour, "flooding")], "the moderators' list")
    assert_problem(bystander.get(path), 403, "forbidden")
    try:
        set_clock(t, 20 * 60 * 1000 + 1000)
        reply(m, tid, "after the suspension")
        eq(mod.get(path).json()["suspensions"], [], "an ended suspension is not listed")
        assert_problem(delete(mod, f"{path}/{m.user['id']}"), 409, "conflict")
    finally:
        set_clock(t, 0)
    eq(mod.post(path, {"user_id": m.user["id"], "until": hour}).status, 204, "again")
    eq(delete(mod, f"{path}/{m.user['id']}").status, 204, "lifted early")
    reply(m, tid, "lifted")
    eq([a for a in log_actions(t, b["id"]) if a.startswith("member.")],
       ["member.suspend", "member.suspend", "member.unsuspend"], "logged")
    # Staff may suspend a moderator; the owner's moderator may not.
    eq(staff_with(t, ROLE_OPERATIONS).post(path, {"user_id": mod.user["id"], "until": hour})
       .status, 204, "staff suspend a moderator")


# ---------------------------------------------------------------- reports

def test_reports_once_per_member_and_the_board_queue(t):
    fresh(t)
    a, _, mod_a = with_moderator(t)
    bb, _, mod_b = with_moderator(t)
    author, r1, r2 = member(t), member(t), member(t)
    tid = topic(author, a["slug"])["topic"]["id"]
    bad = reply(author, tid, "买粉丝加微信")
    ok = reply(author, tid, "正常回复")
    path = f"/api/v1/posts/{bad['id']}/reports"
    assert_problem(Client(t).post(path, {"reason": "spam"}), 401, "unauthorized")
    p = assert_problem(r1.post(path, {"reason": "because"}), 400, "invalid")
    eq(p["errors"][0]["field"], "reason", "reason named")
    assert_problem(author.post(path, {"reason": "spam"}), 422, "unprocessable")
    r = r1.post(path, {"reason": "spam", "detail": "广告"})
    eq(r.status, 201, f"report ({r!r})")
    rid = r.json()["id"]
    before = t.db_counts()
    assert_problem(r1.post(path, {"reason": "abuse"}), 409, "conflict")
    t.assert_storage_unchanged(before, "a second report")
    r = r2.post(path, {"reason": "abuse"})
    eq(r.status, 201, "another member")
    rid2 = r.json()["id"]
    rid_ok = r1.post(f"/api/v1/posts/{ok['id']}/reports", {"reason": "other"}).json()["id"]
    assert_problem(r1.post("/api/v1/posts/999999999/reports", {"reason": "spam"}), 404)
    # The queue: A's moderator sees it, B's moderator and members do not.
    q = mod_a.get(f"/api/v1/boards/{a['slug']}/reports").json()
    eq([x["id"] for x in q["reports"]], [rid_ok, rid2, rid], "newest first")
    eq(q["reports"][2]["post"]["id"], bad["id"], "the post")
    eq(q["reports"][2]["reporter"]["id"], r1.user["id"], "the reporter")
    for c in (mod_b, r1, author):
        assert_problem(c.get(f"/api/v1/boards/{a['slug']}/reports"), 403, "forbidden")
    assert_problem(mod_a.get("/api/v1/staff/reports"), 403, "forbidden")
    # Handling: another board's moderator cannot even see the report.
    before = rows(t, "SELECT id, status FROM reports ORDER BY id")
    assert_problem(mod_b.post(f"/api/v1/reports/{rid}/decision", {"decision": "uphold"}), 404)
    assert_problem(r1.post(f"/api/v1/reports/{rid}/decision", {"decision": "dismiss"}), 404)
    eq(rows(t, "SELECT id, status FROM reports ORDER BY id"), before, "unchanged")
    assert_problem(mod_a.post(f"/api/v1/reports/{rid}/decision", {"decision": "ban"}), 400)
    eq(mod_a.post(f"/api/v1/reports/{rid}/decision", {"decision": "uphold", "note": "广告"})
       .status, 204, "uphold")
    eq(rows(t, f"SELECT status FROM reports WHERE post_id = {bad['id']} ORDER BY id"),
       [("upheld",), ("upheld",)], "every open report of the post is closed")
    eq(one(t, f"SELECT hidden FROM posts WHERE id = {bad['id']}"), "1", "upholding hides")
    assert_problem(mod_a.post(f"/api/v1/reports/{rid2}/decision", {"decision": "dismiss"}),
                   409, "conflict")
    eq(mod_a.post(f"/api/v1/reports/{rid_ok}/decision", {"decision": "dismiss"}).status, 204, "")
    eq(one(t, f"SELECT hidden FROM posts WHERE id = {ok['id']}"), "0", "dismissing keeps it")
    eq(mod_a.get(f"/api/v1/boards/{a['slug']}/reports").json()["reports"], [], "queue empty")
    done = mod_a.get(f"/api/v1/boards/{a['slug']}/reports?status=upheld").json()["reports"]
    eq([(x["id"], x["handled_by"]["id"]) for x in done],
       [(rid2, mod_a.user["id"]), (rid, mod_a.user["id"])], "handled list")
    # A hidden post takes no more reports; staff see every board's queue.
    assert_problem(r1.post(f"/api/v1/posts/{bad['id']}/reports", {"reason": "spam"}), 404)
    s = staff_with(t, ROLE_OPERATIONS)
    tid_b = topic(author, bb["slug"])["topic"]["id"]
    pb = reply(author, tid_b, "B 版回复")
    rid_b = r2.post(f"/api/v1/posts/{pb['id']}/reports", {"reason": "off_topic"}).json()["id"]
    ids = [x["id"] for x in s.get("/api/v1/staff/reports").json()["reports"]]
    check(rid_b in ids, f"staff see board B's report: {ids}")
    eq([x["id"] for x in s.get(f"/api/v1/staff/reports?board={bb['slug']}").json()["reports"]],
       [rid_b], "board filter")
    assert_problem(staff_with(t, ROLE_SUPPORT).get("/api/v1/staff/reports"), 403, "forbidden")
    eq([x for x in log_actions(t, a["id"]) if x.startswith("report.")],
       ["report.uphold", "report.dismiss"], "decisions logged")


def test_report_queue_pages(t):
    fresh(t)
    b, _, mod = with_moderator(t)
    author = member(t)
    reporters = [member(t) for _ in range(3)]
    tid = topic(author, b["slug"])["topic"]["id"]
    posts = []
    for i in range(8):
        posts.append(reply(author, tid, f"reply {i}"))
    n = 0
    for p in posts:
        for c in reporters:
            eq(c.post(f"/api/v1/posts/{p['id']}/reports", {"reason": "spam"}).status, 201, "")
            n += 1
    seen, cursor = [], None
    while True:
        q = f"/api/v1/boards/{b['slug']}/reports" + (f"?cursor={cursor}" if cursor else "")
        j = mod.get(q).json()
        check(len(j["reports"]) <= 20, "20 a page")
        seen += [x["id"] for x in j["reports"]]
        cursor = j["next_cursor"]
        if not cursor:
            break
    eq(len(seen), n, "every report once")
    eq(seen, sorted(seen, reverse=True), "newest first across pages")
    assert_problem(mod.get(f"/api/v1/boards/{b['slug']}/reports?cursor=x"), 400, "invalid")


# ---------------------------------------------------------------- the log

def test_staff_read_the_moderator_log(t):
    fresh(t)
    b, owner, mod = with_moderator(t)
    author = member(t)
    tid = topic(author, b["slug"])["topic"]["id"]
    eq(moderate(mod, tid, "lock", reason="heated").status, 204, "lock")
    path = f"/api/v1/staff/moderation-log?board={b['slug']}"
    for c in (mod, owner, author, staff_with(t, ROLE_SUPPORT)):
        assert_problem(c.get(path), 403, "forbidden")
    assert_problem(Client(t).get(path), 401, "unauthorized")
    for roles in (ROLE_OPERATIONS, ROLE_COMPLIANCE):
        j = staff_with(t, roles).get(path).json()
        eq([a["action"] for a in j["actions"]], ["topic.lock", "moderator.appoint",
                                                 "board.create"], "newest first")
        last = j["actions"][0]
        eq((last["actor"]["id"], last["target_user"]["id"], last["reason"], last["topic_id"]),
           (mod.user["id"], author.user["id"], "heated", tid), "who, whom, why, what")
        eq(last["board"]["slug"], b["slug"], "where")
    j = staff(t).get("/api/v1/staff/moderation-log").json()
    check(len(j["actions"]) >= 2, "the whole log for administrators")
    assert_problem(staff(t).get("/api/v1/staff/moderation-log?board=nope"), 404, "not-found")
