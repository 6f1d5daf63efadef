"""The shared search corpus over HTTP (shared/corpus/search: 240 forum posts in
eight languages, 80 queries with their exact expected posts).

Every post becomes a topic in a fresh board of a server started without
posting limits; every query then goes through GET /api/v1/search, limited
to that board. The test prints the score (recall@10, MRR) and requires each
query to return exactly its expected posts — on SQLite (FTS5 and the
`entrepot` tokenizer) and on PostgreSQL (pg_trgm) alike, so the two engines
return the same results. The unit tier (test_community.c) compares the two
engines side by side as well.
"""
import json
import os
import urllib.parse

from harness import REPO, Skip, check, eq
from test_accounts import fresh
from test_community import member, new_board, staff, topic

CORPUS_DIRS = [os.environ.get("ENTREPOT_CORPUS", ""),
               os.path.join(REPO, "..", "shared", "corpus", "search"),
               "/work/shared/corpus/search"]


def _corpus():
    for d in CORPUS_DIRS:
        if d and os.path.exists(os.path.join(d, "posts.jsonl")):
            with open(os.path.join(d, "posts.jsonl"), encoding="utf-8") as f:
                posts = [json.loads(x) for x in f if x.strip()]
            with open(os.path.join(d, "queries.jsonl"), encoding="utf-8") as f:
                queries = [json.loads(x) for x in f if x.strip()]
            return posts, queries
    raise Skip("the shared search corpus is not there")


def test_search_corpus_exact_on_this_engine(t):
    posts, queries = _corpus()
    fresh(t)
    srv = t.start_server(env={"ENTREPOT_COMMUNITY_POSTS_PER_MINUTE": "0",
                              "ENTREPOT_COMMUNITY_TOPICS_PER_HOUR": "0"})
    http = srv.http(timeout=30)
    s = staff(t, http=http, data_dir=srv.data_dir, database=srv.database)
    board = new_board(t, s)["slug"]
    m = member(t, http=http)
    corpus_of = {}
    for p in posts:
        tp = topic(m, board, title=p["title"], body=p["body"])
        corpus_of[tp["first_post"]["id"]] = p["id"]
    recall = mrr = 0.0
    scored = 0
    wrong = []
    for q in queries:
        qs = urllib.parse.urlencode({"q": q["q"], "board": board, "limit": 50})
        r = http.get("/api/v1/search?" + qs)
        eq(r.status, 200, f"search {q['q']!r} ({r!r})")
        got = [corpus_of.get(x["post_id"]) for x in r.json()["results"]]
        expect = set(q["expect"])
        if set(got) != expect or len(got) != len(expect):
            wrong.append((q["q"], sorted(x for x in got if x), sorted(expect)))
        for x in r.json()["results"]:
            if expect:
                check("<mark>" in x["snippet_html"] + x["title_html"],
                      f"{q['q']!r}: result without a highlight: {x!r}")
        if expect:
            top = got[:10]
            recall += len([x for x in top if x in expect]) / min(10, len(expect))
            ranks = [i for i, x in enumerate(top) if x in expect]
            mrr += 1.0 / (ranks[0] + 1) if ranks else 0.0
            scored += 1
    print(f"# corpus score ({t.backend}): recall@10 {recall / scored:.3f}, "
          f"MRR {mrr / scored:.3f} over {scored} queries, {len(wrong)} inexact")
    check(not wrong, f"queries with other results than expected: {wrong[:5]!r}")
    check(recall / scored >= 0.99 and mrr / scored >= 0.99, "minimum score")
