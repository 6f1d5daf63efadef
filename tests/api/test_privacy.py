"""The privacy center over HTTP: policy versions and the consent gate,
receipts, notices (in-app and e-mail), purpose switches and their history,
who received my data (disclosure ledger) and staff access (audit log).

A material policy version closes the gate for every account of its
database, so the tests that publish one run a server of their own with an
empty database (`own_server`); the others use the shared server.
"""
import re
import time
import urllib.parse

from harness import assert_problem, check, eq, own_server
from test_accounts import (PASSWORD, UA_PHONE, Client, _create_admin, db_write, fresh,
                           last_code, new_email, new_phone, outbox, register, set_clock, totp)

PURPOSES = ["recommendations", "marketing_email", "marketing_sms", "marketing_calls",
            "contact_matching", "model_improvement"]


# ---------------------------------------------------------------- helpers


def staff_client(t, srv=None, roles=None):
    """A signed-in staff member (administrator, or the given role bits)."""
    phone = new_phone()
    kw = {"data_dir": srv.data_dir, "database": srv.database} if srv else {}
    p = _create_admin(t, phone, **kw)
    eq(p.returncode, 0, f"create-admin ({p.stderr})")
    secret = re.search(r"TOTP secret.*: ([A-Z2-7]{32})", p.stdout).group(1)
    if roles is not None:
        db = srv.database if srv else t.database
        db_write(t, f"UPDATE users SET staff_roles = {roles} WHERE id = "
                    f"(SELECT MAX(id) FROM users WHERE staff_roles <> 0)", database=db)
    c = Client(t, http=srv.http() if srv else None)
    now = set_clock(t, 0, http=c.http)
    r = c.post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                       "totp": totp(secret, now)})
    eq(r.status, 200, f"staff sign-in ({r!r})")
    return c


def user(t, http=None, **kw):
    c, _ = register(t, client=Client(t, http=http, **kw) if (http or kw) else None)
    return c


def publish(s, document="privacy", material=True, lang="en", title="Privacy policy",
            body="We keep your data safe.", expect=201, **extra):
    r = s.request("POST", "/api/v1/staff/policies",
                  {"document": document, "material": material, "lang": lang, "title": title,
                   "body": body, **extra})
    eq(r.status, expect, f"publishing ({r!r})")
    return r.json()


def consent(c):
    r = c.get("/api/v1/me/privacy/consent")
    eq(r.status, 200, f"consent state ({r!r})")
    return r.json()


def doc_state(c, document="privacy"):
    return next(d for d in consent(c)["documents"] if d["document"] == document)


def add_email(t, c, email):
    r = c.post("/api/v1/me/email", {"email": email, "current_password": PASSWORD})
    eq(r.status, 202, f"e-mail change ({r!r})")
    attempt = r.json()["attempt"]
    r = c.post("/api/v1/me/email/verify", {"email": email, "attempt": attempt,
                                           "code": last_code(t, email, c.http)})
    eq(r.status, 200, f"e-mail verify ({r!r})")


def wait_for(what, fn, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        check(time.monotonic() < deadline, f"timed out waiting for {what}")
        time.sleep(0.1)


def stopped(r):
    """The gate's answer: 403 consent-required, readable."""
    return assert_problem(r, 403, "consent-required")


def put(c, path, body):
    return c.request("PUT", path, body)


# ---------------------------------------------------------------- publishing

def test_publishing_is_for_compliance_staff_and_checked(t):
    with own_server(t) as (srv, h):
        u = user(t, http=h)
        body = {"document": "privacy", "material": False, "lang": "en", "title": "P",
                "body": "Text"}
        assert_problem(Client(t, http=h).request("POST", "/api/v1/staff/policies", body), 401)
        assert_problem(u.request("POST", "/api/v1/staff/policies", body), 403)
        support = staff_client(t, srv, roles=1)
        assert_problem(support.request("POST", "/api/v1/staff/policies", body), 403)
        s = staff_client(t, srv, roles=4)  # compliance alone is enough

        for bad, field in (({"document": "cookies"}, "document"), ({"lang": "de"}, "lang"),
                           ({"effective_at": int(time.time() * 1000) - 60000}, "effective_at"),
                           ({"material": "yes"}, "material"), ({"extra": 1}, "extra")):
            r = s.request("POST", "/api/v1/staff/policies", {**body, **bad})
            p = assert_problem(r, 400, "invalid")
            check(any(e["field"] == field for e in p.get("errors", [])),
                  f"{bad}: the problem names {field}: {p}")
        eq(t.sql("SELECT COUNT(*) FROM policy_versions", database=srv.database)[0][0] in (0, "0"),
           True, "nothing published by refused requests")

        v1 = publish(s, material=False, body="Version one.")
        eq((v1["document"], v1["version"], v1["material"], v1["in_force"]),
           ("privacy", 1, False, True), "version 1")
        later = int(time.time() * 1000) + 3600_000
        v2 = publish(s, body="Version two.", effective_at=later)
        eq((v2["version"], v2["in_force"], v2["effective_at"]), (2, False, later),
           "version 2, taking effect later")
        # Another language is added once and never rewritten.
        r = put(s, f"/api/v1/staff/policies/{v2['id']}/texts/zh-Hans",
                {"title": "隐私政策", "body": "第二版。"})
        eq(r.status, 201, f"translation ({r!r})")
        eq(sorted(r.json()["languages"]), ["en", "zh-Hans"], "languages")
        r = put(s, f"/api/v1/staff/policies/{v2['id']}/texts/zh-Hans",
                {"title": "隐私政策", "body": "改写"})
        assert_problem(r, 409, "conflict")
        assert_problem(put(s, "/api/v1/staff/policies/999999/texts/fr",
                           {"title": "P", "body": "x"}), 404)

        # Anyone may read every version (the archive), in their language.
        anon = Client(t, http=h)
        r = anon.get("/api/v1/policies")
        eq(r.status, 200, f"archive ({r!r})")
        eq([v["version"] for v in r.json()["versions"]], [2, 1], "newest first")
        r = anon.get(f"/api/v1/policies/{v2['id']}?lang=zh-CN")
        eq((r.json()["lang"], r.json()["body"]), ("zh-Hans", "第二版。"), "Chinese text")
        r = anon.request("GET", f"/api/v1/policies/{v1['id']}", headers={"Accept-Language": "fr"})
        eq((r.json()["lang"], r.json()["body"]), ("en", "Version one."), "English fallback")
        assert_problem(anon.get("/api/v1/policies/424242"), 404)
        assert_problem(anon.get(f"/api/v1/policies/{v1['id']}?lang=xx"), 400)

        rows = t.sql("SELECT actor_role, detail FROM audit_log WHERE action = "
                     "'privacy.policy.publish' ORDER BY id", database=srv.database)
        eq(len(rows), 2, "each publication is audited")
        eq(rows[0][0], "compliance", "in the publisher's role")


# ---------------------------------------------------------------- the gate

def test_material_version_asks_everyone_to_accept_before_going_on(t):
    with own_server(t) as (srv, h):
        s = staff_client(t, srv)
        v1 = publish(s, material=False, body="We collect your phone number.")
        web = user(t, http=h)
        app = user(t, http=h, app=True, ua=UA_PHONE)
        eq(web.get("/api/v1/me/sessions").status, 200, "no gate yet")
        eq(doc_state(web)["accepted"]["implicit"], True, "accepted by registering")

        v2 = publish(s, body="We collect your phone number.\nWe also collect your e-mail.")
        for c in (web, app):
            stopped(c.get("/api/v1/me/sessions"))
        stopped(web.request("PATCH", "/api/v1/me", {"display_name": "x"}))  # writes too
        # What stays open: the privacy center, reading my account, signing out.
        eq(web.get("/api/v1/me").status, 200, "GET /me")
        for path in ("/api/v1/me/privacy/purposes", "/api/v1/me/privacy/receipts",
                     "/api/v1/me/privacy/disclosures", "/api/v1/me/privacy/staff-access",
                     "/api/v1/me/inbox"):
            eq(web.get(path).status, 200, path)
        # Public routes and staff routes are not gated.
        eq(Client(t, http=h).get("/api/v1/policies").status, 200, "public")
        eq(s.get("/api/v1/staff/session").status, 200, "staff")

        d = doc_state(web)
        eq((d["must_accept"], d["up_to_date"]), (True, False), "must accept")
        eq(d["in_force"]["id"], v2["id"], "in force")
        eq(d["accepted"]["id"], v1["id"], "the version accepted at sign-up, for the diff")
        check("e-mail" in d["in_force"]["body"] and "e-mail" not in d["accepted"]["body"],
              "both texts are there to compare")
        check(consent(web)["consent_required"], "consent_required")

        # Someone who registers now agrees to the version in force.
        late = user(t, http=h)
        eq(late.get("/api/v1/me/sessions").status, 200, "a new account is not stopped")

        # The superseded version and unknown versions or languages do not do.
        assert_problem(web.post("/api/v1/me/privacy/consent", {"version_id": v1["id"]}), 409)
        assert_problem(web.post("/api/v1/me/privacy/consent", {"version_id": 999999}), 400)
        assert_problem(web.post("/api/v1/me/privacy/consent",
                                {"version_id": v2["id"], "lang": "fr"}), 400)
        assert_problem(web.post("/api/v1/me/privacy/consent", {"version_id": v2["id"]},
                                csrf=False), 403, "csrf")
        r = web.post("/api/v1/me/privacy/consent", {"version_id": v2["id"]})
        eq(r.status, 201, f"accepted ({r!r})")
        receipt = r.json()["receipt"]
        eq((receipt["version_id"], receipt["document"], receipt["version"], receipt["lang"],
            receipt["channel"], receipt["ip"]), (v2["id"], "privacy", 2, "en", "web", "127.0.0.1"),
           "the receipt")
        check("Firefox" in receipt["user_agent"], f"device kept: {receipt}")
        r = web.post("/api/v1/me/privacy/consent", {"version_id": v2["id"]})
        eq((r.status, r.json()["receipt"]["id"]), (200, receipt["id"]), "accepting again")
        eq(web.get("/api/v1/me/sessions").status, 200, "through the gate at once")
        stopped(app.get("/api/v1/me/sessions"))  # the other account still waits
        r = app.post("/api/v1/me/privacy/consent", {"version_id": v2["id"]})
        eq((r.status, r.json()["receipt"]["channel"]), (201, "app"), "accepted from the app")
        eq(app.get("/api/v1/me/sessions").status, 200, "the app goes on")

        r = web.get("/api/v1/me/privacy/receipts")
        eq([x["id"] for x in r.json()["receipts"]], [receipt["id"]], "my receipts only")
        rows = t.sql(f"SELECT COUNT(*) FROM policy_acceptances WHERE version_id = {v2['id']}",
                     database=srv.database)
        eq(int(rows[0][0]), 2, "one receipt per account")

        # A non-material version stops nobody, but the account is told it is behind.
        publish(s, material=False, body="Reworded.")
        eq(web.get("/api/v1/me/sessions").status, 200, "non-material")
        d = doc_state(web)
        eq((d["must_accept"], d["up_to_date"]), (False, False), "not up to date, not stopped")

        # A material version taking effect later stops people only then.
        now = set_clock(t, 0, http=h)
        v4 = publish(s, document="terms", title="Terms", body="Terms.",
                     effective_at=now + 120_000)
        eq(web.get("/api/v1/me/sessions").status, 200, "before it takes effect")
        try:
            set_clock(t, 121_000, http=h)
            stopped(web.get("/api/v1/me/sessions"))
            r = web.post("/api/v1/me/privacy/consent", {"version_id": v4["id"]})
            eq(r.status, 201, f"accepting the terms ({r!r})")
            eq(web.get("/api/v1/me/sessions").status, 200, "through again")
            # Signing out is always possible.
            stopped(app.get("/api/v1/me/sessions"))
            eq(app.post("/api/v1/auth/logout").status, 204, "sign-out while stopped")
        finally:
            set_clock(t, 0, http=h)


def test_new_versions_are_announced_in_app_and_by_email(t):
    with own_server(t) as (srv, h):
        s = staff_client(t, srv)
        a = user(t, http=h)
        email = new_email()
        add_email(t, a, email)
        b = user(t, http=h)  # no e-mail: in-app only
        r = a.request("PATCH", "/api/v1/me", {"lang": "fr"})
        eq(r.status, 200, f"language ({r!r})")
        v = publish(s, body="Nouveau texte.")
        items = wait_for("the in-app notice",
                         lambda: a.get("/api/v1/me/inbox").json()["items"])
        eq(len(items), 1, "one notice")
        n = items[0]
        eq((n["kind"], n["params"]["version_id"], n["params"]["document"], n["params"]["material"],
            n["read_at"]), ("policy.published", v["id"], "privacy", True, None), "the notice")
        eq(a.get("/api/v1/me/inbox").json()["unread"], 1, "unread")
        eq(len(wait_for("b's notice", lambda: b.get("/api/v1/me/inbox").json()["items"])), 1,
           "b too")
        mail = wait_for("the e-mail", lambda: [m for m in outbox(t, email, http=h)
                                               if m["template"] == "policy.published"])
        eq(len(mail), 1, "one e-mail")
        check("version 1" in mail[0]["body"] and "requiert votre accord" in mail[0]["body"],
              f"the material notice, in French: {mail[0]['body']!r}")
        check("Politique de confidentialité" in mail[0]["subject"],
              f"subject in the account's language: {mail[0]['subject']!r}")
        eq(mail[0]["purpose"], "service", "a service message, whatever the marketing choices")
        # Marking read; someone else's notice is not mine to mark.
        assert_problem(b.post(f"/api/v1/me/inbox/{n['id']}/read"), 404)
        eq(a.post(f"/api/v1/me/inbox/{n['id']}/read").status, 204, "marked read")
        eq(a.post(f"/api/v1/me/inbox/{n['id']}/read").status, 204, "again: no error")
        got = a.get("/api/v1/me/inbox").json()
        check(got["items"][0]["read_at"], "read_at set")
        eq(got["unread"], 0, "nothing unread")
        # The delivery of that e-mail is in my disclosure ledger, newest first.
        ledger = wait_for("the e-mail's disclosure", lambda: [
            d for d in a.get("/api/v1/me/privacy/disclosures").json()["disclosures"]
            if "email" in d["data_types"] and d["purpose"] == "service"])
        eq(ledger[0]["legal_basis"], "contract", "legal basis")


# ---------------------------------------------------------------- purposes

def test_purposes_are_off_until_turned_on_and_keep_a_history(t):
    fresh(t)
    c = user(t)
    other = user(t)
    r = c.get("/api/v1/me/privacy/purposes")
    eq(r.status, 200, f"purposes ({r!r})")
    eq([(p["purpose"], p["on"], p["updated_at"]) for p in r.json()["purposes"]],
       [(p, False, None) for p in PURPOSES], "all off, never set")
    r = put(c, "/api/v1/me/privacy/purposes/marketing_email", {"on": True})
    eq((r.status, r.json()["on"]), (200, True), f"on ({r!r})")
    # The next request sees it (nothing is cached).
    eq(c.get("/api/v1/me/privacy/purposes/marketing_email").json()["on"], True, "read back")
    eq(other.get("/api/v1/me/privacy/purposes/marketing_email").json()["on"], False,
       "someone else's switch")
    eq(put(c, "/api/v1/me/privacy/purposes/marketing_email", {"on": True}).status, 200, "same")
    r = put(c, "/api/v1/me/privacy/purposes/marketing_email", {"on": False})
    eq(r.json()["on"], False, "off")
    eq(c.get("/api/v1/me/privacy/purposes/marketing_email").json()["on"], False, "off at once")

    app = Client(t, app=True)
    login = app.post("/api/v1/auth/login", {"login": c.user["phone"], "password": PASSWORD})
    if login.status == 202:  # a new device needs the code
        j = login.json()
        app.post("/api/v1/auth/login/verify",
                 {"attempt": j["attempt"], "code": last_code(t, c.user["phone"])})
    eq(put(app, "/api/v1/me/privacy/purposes/contact_matching", {"on": True}).status, 200, "app")

    h = c.get("/api/v1/me/privacy/purpose-history?limit=2").json()
    eq([(x["purpose"], x["from"], x["to"], x["channel"]) for x in h["changes"]],
       [("contact_matching", False, True, "app"), ("marketing_email", True, False, "web")],
       "newest first, old → new, channel")
    check(h["next_before"], "a next page")
    h2 = c.get(f"/api/v1/me/privacy/purpose-history?limit=2&before={h['next_before']}").json()
    eq([(x["purpose"], x["to"]) for x in h2["changes"]], [("marketing_email", True)], "page 2")
    eq(h2["next_before"], None, "last page")
    eq(other.get("/api/v1/me/privacy/purpose-history").json()["changes"], [], "not shared")

    assert_problem(c.get("/api/v1/me/privacy/purposes/telepathy"), 404)
    assert_problem(put(c, "/api/v1/me/privacy/purposes/telepathy", {"on": True}), 404)
    for bad in ({}, {"on": "yes"}, {"on": True, "why": "x"}):
        assert_problem(put(c, "/api/v1/me/privacy/purposes/recommendations", bad), 400)
    assert_problem(Client(t).get("/api/v1/me/privacy/purposes"), 401)
    rows = t.sql(f"SELECT COUNT(*) FROM purpose_changes WHERE user_id = {c.user['id']}")
    eq(int(rows[0][0]), 3, "three changes stored")


# ---------------------------------------------------------------- who received my data

def test_disclosures_show_code_deliveries_newest_first(t):
    fresh(t)
    c = user(t)
    add_email(t, c, new_email())  # a code by e-mail, to my account
    r = c.post("/api/v1/me/codes", {"channel": "sms"})  # and one by SMS
    eq(r.status, 202, f"reauth code ({r!r})")
    def codes():
        d = c.get("/api/v1/me/privacy/disclosures").json()["disclosures"]
        kinds = [sorted(x["data_types"]) for x in d]
        return d if ["otp", "phone"] in kinds and ["email", "otp"] in kinds else None
    got = wait_for("both code deliveries", codes)
    eq([d["id"] for d in got], sorted((d["id"] for d in got), reverse=True), "newest first")
    kinds = [sorted(d["data_types"]) for d in got]
    check(kinds.index(["otp", "phone"]) < kinds.index(["email", "otp"]),
          f"the SMS code came after the e-mail code: {kinds}")
    for d in got:
        if "otp" in d["data_types"]:
            eq((d["purpose"], d["legal_basis"]), ("security", "contract"), "why")
        check(d["recipient_system"] and d["reference"].startswith("outbox:"), f"to whom: {d}")
    r = c.get("/api/v1/me/privacy/disclosures?limit=1").json()
    eq([d["id"] for d in r["disclosures"]], [got[0]["id"]], "one per page")
    r2 = c.get(f"/api/v1/me/privacy/disclosures?limit=1&before={r['next_before']}").json()
    eq(r2["disclosures"][0]["id"], got[1]["id"], "page 2")
    eq(user(t).get("/api/v1/me/privacy/disclosures").json()["disclosures"], [],
       "another account sees none of them")


def test_staff_access_is_shown_by_role_and_purpose(t):
    fresh(t)
    c = user(t)
    uid = c.user["id"]
    eq(c.get("/api/v1/me/privacy/staff-access").json()["accesses"], [], "none yet")
    s = staff_client(t, roles=1)  # support
    assert_problem(s.get(f"/api/v1/staff/users/{uid}/consent"), 400)  # a reason is required
    assert_problem(c.get(f"/api/v1/staff/users/{uid}/consent?reason=curious"), 403)
    reason = "ticket 4711: asks why she gets e-mails"
    r = s.get(f"/api/v1/staff/users/{uid}/consent?reason=" + urllib.parse.quote(reason))
    eq(r.status, 200, f"staff view ({r!r})")
    eq(len(r.json()["purposes"]), len(PURPOSES), "the switches")
    assert_problem(s.get("/api/v1/staff/users/999999999/consent?reason=check"), 404)
    a = c.get("/api/v1/me/privacy/staff-access").json()["accesses"]
    eq(len(a), 1, f"one access: {a}")
    eq((a[0]["role"], a[0]["action"], a[0]["purpose"]),
       ("support", "staff.read_personal_data", reason), "role, action, purpose")
    eq(a[0]["fields"], ["policy_acceptances", "purpose_settings"], "fields")
    check("actor_id" not in a[0] and "ip" not in a[0], f"not who: {a[0]}")
    eq(user(t).get("/api/v1/me/privacy/staff-access").json()["accesses"], [], "mine only")
