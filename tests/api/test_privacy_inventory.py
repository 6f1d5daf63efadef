"""What is held about me (GET /api/v1/me/privacy/inventory): the
personal-data registry read for the signed-in account. A fresh account
holds its identity, contact details and credentials since it registered;
uploading a picture or posting a topic shows up in its category; nothing
of another account ever appears; visitors get 401.
"""
import time

from harness import assert_problem, check, eq
from test_accounts import Client, fresh, register
from test_avatar import png, uploaded
from test_community import new_board, topic

PATH = "/api/v1/me/privacy/inventory"


def inventory(c):
    r = c.get(PATH)
    eq(r.status, 200, f"inventory ({r!r})")
    return r.json()


def held(inv):
    return {h["category"]: h for h in inv["held"]}


def tables_of(entry):
    return {t["table"]: t for t in entry["tables"]}


def test_fresh_account_holds_identity_contact_credentials(t):
    fresh(t)
    before = int(time.time() * 1000) - 60_000
    c, _ = register(t)
    after = int(time.time() * 1000) + 60_000
    inv = inventory(c)
    h = held(inv)
    for cat in ("identity", "contact", "credentials"):
        check(cat in h, f"{cat} is held by a fresh account: {sorted(h)}")
        e = h[cat]
        check(isinstance(e["title"], str) and e["title"], f"{cat} has a title")
        check(e["purposes"] and all(p["name"] and p["label"] for p in e["purposes"]),
              f"{cat} has purposes: {e['purposes']}")
        check(e["legal_bases"] and all(b["name"] and b["label"] for b in e["legal_bases"]),
              f"{cat} has legal bases: {e['legal_bases']}")
        check(e["since"] is not None and before <= e["since"] <= after,
              f"{cat} since is the registration time: {e['since']}")
        users = tables_of(e).get("users")
        check(users is not None, f"{cat} comes from the users table")
        eq(users["rows"], 1, f"{cat}: one users row")
        check(users["fields"], f"{cat}: users fields listed")
        for f in users["fields"]:
            check(isinstance(f["encrypted"], bool) and isinstance(f["in_export"], bool),
                  f"field flags {f}")
        check(users["retention_text"], f"{cat}: retention in words")
        check("kept_until" in users, f"{cat}: kept_until present")
    contact = tables_of(h["contact"])["users"]
    check(any(f["name"] == "phone_enc" and f["encrypted"] for f in contact["fields"]),
          f"the phone number is listed as encrypted: {contact['fields']}")
    nh = {n["category"] for n in inv["not_held"]}
    check("content" in nh, f"content could be held but is not yet: {sorted(nh)}")
    check(not (nh & set(h)), "a category is either held or not held")


def test_avatar_and_topic_appear(t):
    fresh(t)
    c, _ = register(t)
    inv = inventory(c)
    check("avatars" not in tables_of(held(inv)["identity"]), "no picture yet")
    uploaded(c, png(40, 30))
    inv = inventory(c)
    av = tables_of(held(inv)["identity"]).get("avatars")
    check(av is not None and av["rows"] == 1, f"the picture is held: {av}")
    check(any(f["encrypted"] for f in av["fields"]), "the picture is sealed")

    b = new_board(t)
    topic(c, b["slug"])
    inv = inventory(c)
    h = held(inv)
    check("content" in h, f"posting a topic holds content: {sorted(h)}")
    check("topics" in tables_of(h["content"]), f"topics listed: {list(tables_of(h['content']))}")
    check(h["content"]["since"] is not None, "content has a since")
    check("content" not in {n["category"] for n in inv["not_held"]}, "no longer not held")


def test_other_accounts_never_show_and_visitors_get_401(t):
    fresh(t)
    a, _ = register(t)
    b, _ = register(t)
    uploaded(a, png(20, 20))
    topic(a, new_board(t)["slug"])
    inv = inventory(b)
    h = held(inv)
    check("content" not in h, "another account's topic is not mine")
    check("avatars" not in tables_of(h["identity"]), "another account's picture is not mine")
    eq(tables_of(h["identity"])["users"]["rows"], 1, "only my own users row")
    assert_problem(Client(t).get(PATH), 401)
