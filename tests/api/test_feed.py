"""The community feed and in-app notices over HTTP: the feed's modes (latest
for visitors and for members whose recommendations switch is off,
personalised when it is on), behaviour signals that the switch governs —
checked in the database — and notices of replies, mentions, likes and
follows in the inbox, with their switches, "mark all read" and no
duplicates. Runs on both engines.
"""
import contextlib
import uuid

from harness import assert_problem, check, eq, own_server
from test_accounts import Client, fresh
from test_community import member, new_board, reply, staff, topic


def user_id(c):
    r = c.get("/api/v1/me")
    eq(r.status, 200, f"me ({r!r})")
    return r.json()["id"]


def named_member(t):
    """A member with a username (for @mentions); returns (client, id, username)."""
    c = member(t)
    name = "m" + uuid.uuid4().hex[:10]
    r = c.request("PATCH", "/api/v1/me", {"username": name})
    eq(r.status, 200, f"username ({r!r})")
    return c, user_id(c), name


def recommendations(c, on):
    r = c.request("PUT", "/api/v1/me/privacy/purposes/recommendations", {"on": on})
    eq(r.status, 200, f"purpose switch ({r!r})")


def signal_rows(t, uid):
    return int(t.sql(f"SELECT COUNT(*) FROM feed_affinity WHERE user_id = {int(uid)}")[0][0])


def inbox(c, kind=None):
    r = c.get("/api/v1/me/inbox?limit=100")
    eq(r.status, 200, f"inbox ({r!r})")
    j = r.json()
    items = [n for n in j["items"] if kind is None or n["kind"] == kind]
    return items, j["unread"]


def first_post_id(tp):
    return tp["first_post"]["id"]


# ---------------------------------------------------------------- the feed

class _OwnCommunity:
    """The test context pointed at a server with a database of its own: the
    feed ranks every topic of the instance, so other tests' topics, pins and
    searches must not be there."""

    def __init__(self, t, srv, http):
        self._t, self.srv, self.http = t, srv, http
        self.staff = staff(t, http=http, data_dir=srv.data_dir, database=srv.database)

    def sql(self, query):
        return self._t.sql(query, database=self.srv.database)

    def __getattr__(self, name):
        return getattr(self._t, name)


@contextlib.contextmanager
def own_community(t):
    with own_server(t) as (srv, http):
        yield srv, _OwnCommunity(t, srv, http)


def test_feed_modes_follow_the_switch(t):
    with own_community(t) as (_, t):
        b = new_board(t, t.staff)
        other = new_board(t, t.staff)
        author = member(t, http=t.http)
        reader = member(t, http=t.http)
        followed = topic(author, b["slug"], title="Followed board topic")
        newest = topic(author, other["slug"], title="Newest elsewhere")
        # A visitor: the latest topics, said so.
        r = Client(t, http=t.http).get("/api/v1/feed")
        eq(r.status, 200, f"visitor feed ({r!r})")
        eq((r.json()["mode"], r.json()["reason"]), ("latest", "visitor"), "visitor mode")
        eq(r.json()["topics"][0]["id"], newest["topic"]["id"], "latest first")
        # A member with the switch off (the default): latest too, though they follow.
        eq(reader.post(f"/api/v1/boards/{b['slug']}/follow").status, 204, "follow the board")
        j = reader.get("/api/v1/feed").json()
        eq((j["mode"], j["reason"]), ("latest", "purpose_off"), "switch off")
        eq(j["topics"][0]["id"], newest["topic"]["id"], "follows unused while off")
        # On: personalised, the followed board first, with its reason.
        recommendations(reader, True)
        j = reader.get("/api/v1/feed").json()
        eq((j["mode"], j["reason"]), ("personalised", None), "switch on")
        eq(j["topics"][0]["id"], followed["topic"]["id"], "the followed board ranks first")
        check("followed" in j["topics"][0]["because"], f"reason given: {j['topics'][0]!r}")
        eq(j["topics"][0]["board"]["slug"], b["slug"], "topics carry their board")
        # Cursors belong to their mode; junk is a field error.
        for bad in ("123.4", "p1.2.3", "x" * 81):
            assert_problem(reader.get("/api/v1/feed?cursor=" + bad), 400)
        recommendations(reader, False)
        eq(reader.get("/api/v1/feed").json()["mode"], "latest", "off again: latest at once")


def test_feed_pages_by_cursor_without_repeats(t):
    with own_community(t) as (_, t):
        b = new_board(t, t.staff)
        authors = [member(t, http=t.http) for _ in range(3)]
        reader = member(t, http=t.http)
        made = set()
        for i in range(23):  # 10 posts a minute per member: three authors
            tp = topic(authors[i % 3], b["slug"], title=f"Topic number {i}")
            made.add(tp["topic"]["id"])
        recommendations(reader, True)
        eq(reader.post(f"/api/v1/users/{user_id(authors[0])}/follow").status, 204, "follow")
        seen, cursor, pages = [], None, 0
        while True:
            r = reader.get("/api/v1/feed" + (f"?cursor={cursor}" if cursor else ""))
            eq(r.status, 200, f"feed page ({r!r})")
            j = r.json()
            eq(j["mode"], "personalised", "mode")
            check(len(j["topics"]) <= 20, "20 a page at most")
            seen += [x["id"] for x in j["topics"]]
            pages += 1
            cursor = j["next_cursor"]
            if not cursor or pages > 5:
                break
        eq(len(seen), len(set(seen)), "no topic twice")
        check(made <= set(seen), "every topic reached")
        eq(pages, 2, "pages")


def test_signals_are_recorded_only_with_the_purpose_on(t):
    with own_community(t) as (_, t):
        b = new_board(t, t.staff)
        author = member(t, http=t.http)
        reader = member(t, http=t.http)
        uid = user_id(reader)
        tp = topic(author, b["slug"], title="LED 面板灯 pricing", tags=["led"])
        tid, pid = tp["topic"]["id"], first_post_id(tp)
        # Off: browse, like, search, follow — nothing for the recommendations.
        eq(reader.get(f"/api/v1/topics/{tid}").status, 200, "view")
        eq(reader.post(f"/api/v1/posts/{pid}/like").status, 204, "like")
        eq(reader.get("/api/v1/search?q=led").status, 200, "search")
        eq(reader.post(f"/api/v1/boards/{b['slug']}/follow").status, 204, "follow")
        eq(signal_rows(t, uid), 0, "no signal while off")
        # The features still work: the like, the follow and the history are there.
        eq(reader.get("/api/v1/me/recent").json()["recent"][0]["id"], tid, "recently viewed works")
        eq(int(t.sql(f"SELECT COUNT(*) FROM post_likes WHERE user_id = {uid}")[0][0]), 1, "like kept")
        # On: the same acts are recorded.
        recommendations(reader, True)
        eq(reader.get(f"/api/v1/topics/{tid}").status, 200, "view")
        rows = t.sql(f"SELECT kind FROM feed_affinity WHERE user_id = {uid} ORDER BY kind")
        eq(sorted(r[0] for r in rows), ["author", "board", "tag"], "board, author and tag")
        eq(reader.get("/api/v1/search?q=led").status, 200, "search")
        eq(signal_rows(t, uid), 3, "the search adds to the same interests")
        # Off again: nothing more is written.
        recommendations(reader, False)
        before = t.sql(f"SELECT kind, weight FROM feed_affinity WHERE user_id = {uid} ORDER BY kind")
        eq(reader.get(f"/api/v1/topics/{tid}").status, 200, "view")
        eq(reader.get("/api/v1/search?q=led").status, 200, "search")
        eq(t.sql(f"SELECT kind, weight FROM feed_affinity WHERE user_id = {uid} ORDER BY kind"),
           before, "unchanged while off")
        # The author's own signals were never touched by the reader.
        eq(signal_rows(t, user_id(author)), 0, "nothing about the author")


    # ---------------------------------------------------------------- notices


# ---------------------------------------------------------------- notices

def test_replies_mentions_likes_and_follows_reach_the_inbox(t):
    fresh(t)
    b = new_board(t)
    a, a_id, _ = named_member(t)
    bob, _, _ = named_member(t)
    carol, _, carol_name = named_member(t)
    tp = topic(a, b["slug"], title="Who ships to Lyon?")
    tid, pid = tp["topic"]["id"], first_post_id(tp)
    _, unread0 = inbox(a)
    rp = reply(bob, tid, body=f"We do. cc @{carol_name}")
    eq(bob.post(f"/api/v1/posts/{pid}/like").status, 204, "like")
    # Unlike and like again: still one notice.
    eq(bob.request("DELETE", f"/api/v1/posts/{pid}/like").status, 204, "unlike")
    eq(bob.post(f"/api/v1/posts/{pid}/like").status, 204, "like again")
    replies, _ = inbox(a, "community.reply")
    likes, unread = inbox(a, "community.like")
    eq((len(replies), len(likes)), (1, 1), "one reply and one like notice")
    eq(unread, unread0 + 2, "unread count")
    n = replies[0]["params"]
    eq((n["topic_id"], n["post_id"], n["title"]), (tid, rp["id"], "Who ships to Lyon?"),
       "what the notice points at")
    eq(n["by"]["id"], user_id(bob), "who")
    check("Lyon" not in str(likes[0]["params"].get("body", "")), "no post text")
    eq(len(inbox(carol, "community.mention")[0]), 1, "the mentioned member is told")
    # Replying to one's own topic tells nobody.
    reply(a, tid, body="Thanks!")
    eq(len(inbox(a, "community.reply")[0]), 1, "no notice to oneself")
    # Follows, once.
    for method in ("POST", "DELETE", "POST"):
        eq(bob.request(method, f"/api/v1/users/{a_id}/follow").status, 204, f"{method} follow")
    eq(len(inbox(a, "community.follow")[0]), 1, "one follow notice")
    # Mark all read.
    eq(a.post("/api/v1/me/inbox/read-all").status, 204, "read all")
    items, unread = inbox(a)
    eq(unread, 0, "nothing unread")
    check(all(x["read_at"] for x in items), "every notice read")


def test_notification_switches(t):
    fresh(t)
    b = new_board(t)
    a, _, a_name = named_member(t)
    bob = member(t)
    r = a.get("/api/v1/me/notification-settings")
    eq(r.status, 200, f"settings ({r!r})")
    eq(r.json(), {"reply": True, "mention": True, "like": True, "follow": True}, "all on")
    r = a.request("PUT", "/api/v1/me/notification-settings", {"like": False})
    eq(r.status, 200, f"switch off ({r!r})")
    eq(r.json()["like"], False, "like off")
    eq(r.json()["reply"], True, "others untouched")
    # Bad input: a field error naming the field, nothing stored.
    before = t.db_counts()
    assert_problem(a.request("PUT", "/api/v1/me/notification-settings", {"like": "no"}), 400)
    assert_problem(a.request("PUT", "/api/v1/me/notification-settings", {"likes": False}), 400)
    t.assert_storage_unchanged(before)
    assert_problem(Client(t).get("/api/v1/me/notification-settings"), 401)
    tp = topic(a, b["slug"])
    eq(bob.post(f"/api/v1/posts/{first_post_id(tp)}/like").status, 204, "like")
    eq(len(inbox(a, "community.like")[0]), 0, "no like notice when off")
    reply(bob, tp["topic"]["id"], body=f"@{a_name} see this")
    eq(len(inbox(a, "community.reply")[0]), 1, "replies still on")
    eq(len(inbox(a, "community.mention")[0]), 0, "mentioned in a reply: told once")
