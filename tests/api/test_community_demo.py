"""`entrepot demo --scale N` (src/cmd/demo.c, src/community/demo.c): a
synthetic community in a database of its own, written as the application
would have written it — counters that add up, search that finds its
Chinese and English words, pages that render — and the same text for the
same seed. Runs on both engines (a fresh PostgreSQL database of its own).
"""
import os
import re
import urllib.parse
import uuid

from harness import check, eq, psql
from test_accounts import Client


def _database(t):
    """A fresh, empty database and a data directory for the demo."""
    d = t.tmpdir("demo")
    if t.backend == "sqlite":
        return d, f"sqlite:{os.path.join(d, 'entrepot.db')}", None
    name = "demo_" + uuid.uuid4().hex[:10]
    psql(t.database, f"CREATE DATABASE {name}")
    return d, t.database.rsplit("/", 1)[0] + "/" + name, name


def _demo(t, d, db, *extra):
    p = t.run_bin(["demo", "--scale", "40", "--data-dir", d, "--database", db,
                   "--log-level", "warn", *extra], timeout=120)
    eq(p.returncode, 0, f"demo ({p.stderr[-400:]})")
    m = re.search(r"(\d+) boards, (\d+) members, (\d+) topics, (\d+) posts", p.stdout)
    check(m, f"the demo says what it wrote: {p.stdout!r}")
    return tuple(int(x) for x in m.groups())


def _one(t, sql, db):
    return int(t.sql(sql, database=db)[0][0])


def test_demo_writes_a_consistent_searchable_community(t):
    d, db, pgname = _database(t)
    try:
        eq(_demo(t, d, db), (12, 50, 40, 440), "what the demo reports")
        eq(_one(t, "SELECT COUNT(*) FROM topics", db), 40, "topics")
        eq(_one(t, "SELECT COUNT(*) FROM posts", db), 440, "posts: 10 replies each")
        eq(_one(t, "SELECT COUNT(*) FROM post_search", db), 440, "every post indexed")
        eq(_one(t, "SELECT SUM(topic_count) FROM boards", db), 40, "board topic counters")
        eq(_one(t, "SELECT SUM(post_count) FROM boards", db), 440, "board post counters")
        eq(_one(t, "SELECT COALESCE(SUM(like_count), 0) FROM posts", db),
           _one(t, "SELECT COUNT(*) FROM post_likes", db), "post like counters")
        eq(_one(t, "SELECT COUNT(*) FROM topics WHERE score <> reply_count + like_count", db), 0,
           "topic scores")
        eq(_one(t, "SELECT COUNT(*) FROM topics t WHERE like_count <> (SELECT "
                   "COALESCE(SUM(p.like_count), 0) FROM posts p WHERE p.topic_id = t.id)", db), 0,
           "topic like counters")
        eq(_one(t, "SELECT COUNT(*) FROM post_likes l JOIN posts p ON p.id = l.post_id "
                   "WHERE p.author_id = l.user_id", db), 0, "nobody likes their own post")
        eq(_one(t, "SELECT COUNT(*) FROM user_keys k JOIN users u ON u.id = k.user_id "
                   "WHERE u.username LIKE 'demo%'", db), 50, "every member has a data key")
        eq(_one(t, "SELECT COUNT(*) FROM users WHERE phone_enc IS NOT NULL OR password_hash "
                   "IS NOT NULL", db), 0, "members cannot sign in")
        srv = t.start_server(database=db)
        c = Client(t, http=srv.http())
        boards = c.get("/api/v1/boards").json()["boards"]
        eq(len(boards), 12, "boards listed")
        busiest = max(boards, key=lambda b: b["topic_count"])
        lst = c.get(f"/api/v1/boards/{busiest['slug']}/topics").json()["topics"]
        eq(len(lst), min(20, busiest["topic_count"]), "a board's topics")
        page = c.get(f"/api/v1/topics/{lst[0]['id']}").json()
        eq(len(page["replies"]), 10, "a topic page")
        check(page["first_post"]["body_html"].startswith("<"), "rendered Markdown")
        for q in ("报价", "样品", "工厂"):
            r = c.get("/api/v1/search?q=" + urllib.parse.quote(q)).json()["results"]
            check(r and all("<mark>" in x["snippet_html"] or "<mark>" in x["title_html"]
                            for x in r), f"search finds {q} with highlights")
        srv.stop()
        srv.checked = True
        # More of the same adds to it; a bad scale is refused.
        p = t.run_bin(["demo", "--scale", "0", "--data-dir", d, "--database", db])
        check(p.returncode != 0 and "scale" in p.stderr, f"--scale 0 refused: {p.stderr!r}")
        p = t.run_bin(["demo", "--data-dir", d, "--database", db])
        check(p.returncode != 0, "--scale is required")
    finally:
        if pgname:
            psql(t.database, f"DROP DATABASE {pgname} WITH (FORCE)")


def test_same_seed_same_text(t):
    if t.backend != "sqlite":
        return  # the text is made in C; one engine is enough to compare
    titles = []
    for seed in ("7", "7", "8"):
        d, db, _ = _database(t)
        _demo(t, d, db, "--seed", seed)
        titles.append([r[0] for r in t.sql("SELECT title FROM topics ORDER BY id LIMIT 10",
                                           database=db)])
    eq(titles[0], titles[1], "the same seed writes the same topics")
    check(titles[0] != titles[2], "another seed writes others")
