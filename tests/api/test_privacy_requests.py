"""The privacy center's requests over HTTP: complaints and objections with
deadlines from the working-day calendar, the staff queues that acknowledge,
answer and resolve them, escalation of what is overdue, corrections of
verified fields, a guardian's request that closes a minor's account, and
the breach register with its countdowns, notices and regulator report.

Tests that move the clock far or need a calendar of their own run a server
of their own (`own_server`); the others use the shared one.
"""
import calendar
import re

from harness import assert_problem, check, eq, own_server
from test_accounts import (PASSWORD, Client, _add_email, _create_admin, db_write, fresh, new_email,
                           new_phone, outbox, register, set_clock, totp)
from test_privacy import staff_client, user, wait_for

HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
CN2025 = {
    "ENTREPOT_WORKDAYS_HOLIDAYS": "2025-01-01,2025-01-28..2025-02-04,2025-04-04..2025-04-06,"
                                  "2025-05-01..2025-05-05,2025-05-31..2025-06-02,"
                                  "2025-10-01..2025-10-08",
    "ENTREPOT_WORKDAYS_MAKEUP_DAYS": "2025-01-26,2025-02-08,2025-04-27,2025-09-28,2025-10-11",
}
SUPPORT, OPERATIONS, COMPLIANCE = 1, 2, 4


def utc_ms(y, mo, d, h=0, mi=0):
    return calendar.timegm((y, mo, d, h, mi, 0)) * 1000


def beijing_midnight_after(y, mo, d):
    """The end of a local day in Beijing (UTC+8): the next local midnight."""
    return utc_ms(y, mo, d, 16)


def staff_now(t, srv, roles, now):
    """A staff member signed in on srv whose clock reads `now` (no clock reset)."""
    phone = new_phone()
    p = _create_admin(t, phone, data_dir=srv.data_dir, database=srv.database)
    eq(p.returncode, 0, f"create-admin ({p.stderr})")
    secret = re.search(r"TOTP secret.*: ([A-Z2-7]{32})", p.stdout).group(1)
    db_write(t, f"UPDATE users SET staff_roles = {roles} WHERE id = "
                f"(SELECT MAX(id) FROM users WHERE staff_roles <> 0)", database=srv.database)
    c = Client(t, http=srv.http())
    r = c.post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                       "totp": totp(secret, now)})
    eq(r.status, 200, f"staff sign-in ({r!r})")
    return c


def ok(r, status=200, what="request"):
    eq(r.status, status, f"{what} ({r!r})")
    return r.json() if r.content_type == "application/json" else r.text


def file_ticket(c, kind="complaint", body="You sent me marketing e-mail after I said no.",
                **extra):
    return ok(c.post("/api/v1/me/privacy/tickets", {"kind": kind, "body": body, **extra}), 201,
              "filing a ticket")


def inbox_kinds(c):
    return [n["kind"] for n in ok(c.get("/api/v1/me/inbox"), 200, "inbox")["items"]]


def scalar(t, sql, database=None):
    rows = t.sql(sql, database=database)
    return rows[0][0] if rows else None


# ---------------------------------------------------------------- the calendar

def test_deadlines_follow_the_configured_calendar(t):
    with own_server(t, env=CN2025) as (srv, h):
        s = staff_client(t, srv, roles=SUPPORT)
        cal = ok(s.get("/api/v1/staff/privacy/calendar"), 200, "calendar")
        eq(cal["utc_offset_minutes"], 480, "UTC+8 by default")
        check("2025-01-28" in cal["holidays"] and "2025-10-08" in cal["holidays"],
              f"holiday runs expanded: {cal['holidays'][:5]}")
        eq(cal["makeup_days"], ["2025-01-26", "2025-02-08", "2025-04-27", "2025-09-28",
                                "2025-10-11"], "make-up working days")
        eq(len(cal["next_days"]), 21, "three weeks ahead")

        # Friday 24 January 2025, 15:00 in Beijing: the Spring Festival week follows.
        target = utc_ms(2025, 1, 24, 7)
        real = set_clock(t, 0, http=h)
        now = set_clock(t, target - real, http=h)
        c = user(t, http=h)
        tk = file_ticket(c)
        check(abs(tk["created_at"] - now) < 60000, "filed now")
        # 5 working days: the worked Sunday 26, Monday 27, then 5, 6 and 7 Feb.
        eq(tk["ack_due_at"], beijing_midnight_after(2025, 2, 7), "acknowledge by the end of 7 Feb")
        eq(tk["resolve_due_at"], beijing_midnight_after(2025, 2, 20),
           "resolve by the end of 20 Feb")
        eq((tk["status"], tk["due_at"], tk["overdue"], tk["working_days_left"]),
           ("open", tk["ack_due_at"], False, 5), "next deadline")
        cr = ok(c.post("/api/v1/me/privacy/corrections",
                       {"field": "real_name", "value": "王小明", "evidence": "ID card"}), 201,
                "correction")
        eq(cr["due_at"], beijing_midnight_after(2025, 1, 27), "2 working days: Sunday 26, Monday 27")
        # The flags follow the clock: on time until the deadline, overdue from it.
        for at, late in ((beijing_midnight_after(2025, 2, 7) - 60000, False),
                         (beijing_midnight_after(2025, 2, 7), True)):
            set_clock(t, at - real, http=h)
            q = ok(s.get("/api/v1/staff/privacy/tickets"), 200, "queue")["tickets"]
            eq([(x["id"], x["overdue"]) for x in q], [(tk["id"], late)], f"overdue: {late}")
    p = t.run_bin(["config", "check", "--data-dir", t.tmpdir()],
                  env={"ENTREPOT_WORKDAYS_HOLIDAYS": "2025-10-01",
                       "ENTREPOT_WORKDAYS_MAKEUP_DAYS": "2025-10-01"})
    check(p.returncode != 0 and "2025-10-01" in p.stdout + p.stderr,
          f"config check refuses a day both holiday and worked ({p.returncode}: {p.stderr})")
    p = t.run_bin(["config", "check", "--data-dir", t.tmpdir()],
                  env={"ENTREPOT_WORKDAYS_HOLIDAYS": "2025-02-30"})
    check(p.returncode != 0 and "workdays_holidays" in (p.stdout + p.stderr).lower(),
          f"config check refuses a date that does not exist ({p.stderr})")


# ---------------------------------------------------------------- complaints

def test_complaint_acknowledged_answered_and_resolved(t):
    fresh(t)
    c = user(t)
    uid = c.user["id"]
    email = new_email()
    _add_email(t, c, email)
    tk = file_ticket(c, kind="objection", purpose="marketing_email")
    eq((tk["kind"], tk["purpose"], tk["status"]), ("objection", "marketing_email", "open"), "filed")
    eq(tk["body"], "You sent me marketing e-mail after I said no.", "my text")
    check("privacy.ticket_received" in inbox_kinds(c), "a receipt in my inbox")
    # Bad input is named.
    assert_problem(c.post("/api/v1/me/privacy/tickets", {"kind": "rant", "body": "x"}), 400)
    assert_problem(c.post("/api/v1/me/privacy/tickets",
                          {"kind": "complaint", "body": "x", "purpose": "astrology"}), 400)
    assert_problem(c.post("/api/v1/me/privacy/tickets", {"kind": "complaint", "body": ""}), 400)
    # Nobody else reads it.
    other = user(t)
    assert_problem(other.get(f"/api/v1/me/privacy/tickets/{tk['id']}"), 404)
    assert_problem(other.post(f"/api/v1/me/privacy/tickets/{tk['id']}/messages", {"body": "hi"}),
                   404)

    # The queue: support sees it without its text, next deadline first.
    s = staff_client(t, roles=SUPPORT)
    q = ok(s.get("/api/v1/staff/privacy/tickets"), 200, "queue")
    row = next(x for x in q["tickets"] if x["id"] == tk["id"])
    check("body" not in row and row["user_id"] == uid and not row["overdue"], f"queue row {row}")
    dues = [x["due_at"] for x in q["tickets"]]
    eq(dues, sorted(dues), "next deadline first")
    check(q["counts"]["open"] >= 1, "counted")
    assert_problem(s.get("/api/v1/staff/privacy/tickets?state=someday"), 400)
    # Reading it is a read of personal data: audited, and shown to the user.
    full = ok(s.get(f"/api/v1/staff/privacy/tickets/{tk['id']}"), 200, "staff read")
    eq(full["body"], tk["body"], "staff read the text")
    acc = ok(c.get("/api/v1/me/privacy/staff-access"), 200, "staff access")["accesses"]
    check(any(a["role"] == "support" and "privacy_tickets.body" in a["fields"]
              and str(tk["id"]) in (a["purpose"] or "") for a in acc),
          f"the read is in my staff-access list: {acc[:2]}")
    eq(int(scalar(t, f"SELECT COUNT(*) FROM audit_log WHERE action = 'staff.read_personal_data' "
                     f"AND subject_user_id = {uid} AND actor_role = 'support'")), 1,
       "one audit entry")

    # Acknowledge with a first reply: status, message by role, inbox and e-mail.
    r = ok(s.post(f"/api/v1/staff/privacy/tickets/{tk['id']}/acknowledge",
                  {"body": "We are looking into it."}), 200, "acknowledge")
    eq(r["status"], "acknowledged", "acknowledged")
    assert_problem(s.post(f"/api/v1/staff/privacy/tickets/{tk['id']}/acknowledge", {}), 409)
    mine = ok(c.get(f"/api/v1/me/privacy/tickets/{tk['id']}"), 200, "my ticket")
    eq((mine["status"], mine["due_at"]), ("acknowledged", mine["resolve_due_at"]),
       "next deadline: the resolution")
    eq([(m["author"], m["role"], m["body"]) for m in mine["messages"]],
       [("staff", "support", "We are looking into it.")], "the reply, by role")
    check("privacy.ticket_acknowledged" in inbox_kinds(c), "told in-app")
    mails = wait_for("the acknowledgement e-mail",
                     lambda: [m for m in outbox(t, email) if m["template"] ==
                              "privacy.ticket_acknowledged"])
    check(f"#{tk['id']}" in mails[0]["body"], f"the e-mail names the ticket: {mails[0]['body']}")
    check("{" not in mails[0]["subject"] + mails[0]["body"], "every placeholder filled")

    # Conversation, then the outcome.
    ok(c.post(f"/api/v1/me/privacy/tickets/{tk['id']}/messages", {"body": "Thank you."}), 201,
       "my follow-up")
    ok(s.post(f"/api/v1/staff/privacy/tickets/{tk['id']}/reply", {"body": "Found the cause."}),
       200, "reply")
    assert_problem(s.post(f"/api/v1/staff/privacy/tickets/{tk['id']}/resolve", {}), 400)
    r = ok(s.post(f"/api/v1/staff/privacy/tickets/{tk['id']}/resolve",
                  {"body": "Your address is off every marketing list."}), 200, "resolve")
    eq((r["status"], r["due_at"], r["overdue"]), ("resolved", None, False), "resolved")
    mine = ok(c.get(f"/api/v1/me/privacy/tickets/{tk['id']}"), 200, "my ticket")
    eq([m["author"] for m in mine["messages"]], ["staff", "user", "staff", "staff"], "the thread")
    assert_problem(c.post(f"/api/v1/me/privacy/tickets/{tk['id']}/messages", {"body": "again"}),
                   409)
    assert_problem(s.post(f"/api/v1/staff/privacy/tickets/{tk['id']}/reply", {"body": "x"}), 409)
    check(tk["id"] in [x["id"] for x in ok(s.get("/api/v1/staff/privacy/tickets?state=closed"),
                                           200, "closed")["tickets"]], "in the closed list")
    # What I wrote is sealed at rest.
    text = str(t.sql(f"SELECT * FROM privacy_tickets WHERE id = {tk['id']}")) + \
        str(t.sql(f"SELECT * FROM privacy_ticket_messages WHERE ticket_id = {tk['id']}"))
    check("marketing e-mail" not in text and "Found the cause" not in text, "no text in clear")


def test_complaint_queues_are_for_staff_with_a_role(t):
    fresh(t)
    c = user(t)
    tk = file_ticket(c, kind="access", body="What do you hold about me?")
    assert_problem(c.get("/api/v1/staff/privacy/tickets"), 403)
    ops = staff_client(t, roles=OPERATIONS)
    assert_problem(ops.get("/api/v1/staff/privacy/tickets"), 403)
    assert_problem(ops.get(f"/api/v1/staff/privacy/tickets/{tk['id']}"), 403)
    ok(ops.get("/api/v1/staff/privacy/calendar"), 200, "any staff reads the calendar")
    sup = staff_client(t, roles=SUPPORT)
    for path in ("/api/v1/staff/privacy/minors", "/api/v1/staff/privacy/breaches"):
        assert_problem(sup.get(path), 403)
    assert_problem(Client(t).get("/api/v1/me/privacy/tickets"), 401)
    # Ten tickets a day at most.
    for i in range(9):
        file_ticket(c, kind="other", body=f"question {i}")
    assert_problem(c.post("/api/v1/me/privacy/tickets", {"kind": "other", "body": "11th"}), 429)


def test_overdue_requests_are_flagged_and_escalated_once(t):
    with own_server(t) as (srv, h):
        set_clock(t, 0, http=h)
        c = user(t, http=h)
        uid = c.user["id"]
        tk = file_ticket(c)
        cr = ok(c.post("/api/v1/me/privacy/corrections",
                       {"field": "company_name", "value": "宁波进出口有限公司",
                        "evidence": "business licence"}), 201, "correction")
        # Eight days on: past the acknowledgement (5 working days) and the
        # correction (2), not past the resolution (15).
        now = set_clock(t, 8 * DAY_MS, http=h)
        dpo = staff_now(t, srv, COMPLIANCE, now)
        q = ok(dpo.get("/api/v1/staff/privacy/tickets?state=overdue"), 200, "overdue tickets")
        eq([(x["id"], x["overdue"]) for x in q["tickets"]], [(tk["id"], True)], "flagged")
        eq(q["counts"]["overdue"], 1, "counted")
        q = ok(dpo.get("/api/v1/staff/privacy/corrections?state=overdue"), 200, "overdue corr.")
        eq([x["id"] for x in q["corrections"]], [cr["id"]], "correction flagged")

        def escalated():
            n = [x for x in ok(dpo.get("/api/v1/me/inbox"), 200, "inbox")["items"]
                 if x["kind"] == "staff.request_overdue"]
            return n if len(n) >= 2 else None
        notes = wait_for("the escalation job", escalated, timeout=30)
        eq(sorted((n["params"]["type"], n["params"]["id"]) for n in notes),
           sorted([("ticket_acknowledgement", tk["id"]), ("correction", cr["id"])]),
           "compliance staff told of each missed deadline")
        q = ok(dpo.get("/api/v1/staff/privacy/tickets"), 200, "queue")
        check(next(x for x in q["tickets"] if x["id"] == tk["id"])["escalated"], "marked escalated")
        audit = t.sql(f"SELECT detail FROM audit_log WHERE action = 'privacy.request_overdue' "
                      f"AND subject_user_id = {uid}", database=srv.database)
        eq(len(audit), 2, f"audited once each: {audit}")
        # Later runs do not repeat it; the resolution deadline (15 working days) comes later.
        runs = "SELECT COUNT(*) FROM jobs WHERE kind = 'privacy.requests_overdue' AND state = 'done'"
        before = int(scalar(t, runs, database=srv.database))
        now = set_clock(t, 8 * DAY_MS + HOUR_MS, http=h)
        wait_for("another run", lambda: int(scalar(t, runs, database=srv.database)) > before,
                 timeout=30)
        eq(len(t.sql("SELECT id FROM audit_log WHERE action = 'privacy.request_overdue'",
                     database=srv.database)), 2, "not escalated twice")
        now = set_clock(t, 30 * DAY_MS, http=h)
        dpo = staff_now(t, srv, COMPLIANCE, now)
        wait_for("the resolution escalation", lambda: len(t.sql(
            "SELECT id FROM audit_log WHERE action = 'privacy.request_overdue'",
            database=srv.database)) == 3, timeout=30)
        # A platform-wide incident reaches every open account that is not staff.
        b = ok(dpo.post("/api/v1/staff/privacy/breaches",
                        {"title": "Backup exposed", "description": "A backup was public.",
                         "detected_at": now - HOUR_MS, "major": True,
                         "categories": ["contact"], "contact": "dpo@example.com",
                         "all_users": True}), 201, "incident for everyone")
        eq(b["users"]["affected"], 1, "the one user")


# ---------------------------------------------------------------- corrections

def test_correction_of_a_verified_field(t):
    fresh(t)
    c = user(t)
    uid = c.user["id"]
    body = {"field": "real_name", "value": "李雷", "evidence": "Passport page scanned"}
    cr = ok(c.post("/api/v1/me/privacy/corrections", body), 201, "correction")
    eq((cr["field"], cr["value"], cr["status"], cr["overdue"]),
       ("real_name", "李雷", "pending", False), "pending")
    check(cr["working_days_left"] in (1, 2), f"2 working days: {cr}")
    assert_problem(c.post("/api/v1/me/privacy/corrections", body), 409)
    assert_problem(c.post("/api/v1/me/privacy/corrections", dict(body, field="nickname")), 400)
    s = staff_client(t, roles=SUPPORT)
    q = ok(s.get("/api/v1/staff/privacy/corrections"), 200, "queue")
    row = next(x for x in q["corrections"] if x["id"] == cr["id"])
    check("value" not in row and "evidence" not in row, "the queue shows no values")
    got = ok(s.get(f"/api/v1/staff/privacy/corrections/{cr['id']}"), 200, "staff read")
    eq((got["value"], got["evidence"], got["current"]), ("李雷", "Passport page scanned", None),
       "staff see value and evidence")
    assert_problem(s.post(f"/api/v1/staff/privacy/corrections/{cr['id']}/reject", {}), 400)
    ok(s.post(f"/api/v1/staff/privacy/corrections/{cr['id']}/approve"), 200, "approve")
    assert_problem(s.post(f"/api/v1/staff/privacy/corrections/{cr['id']}/approve"), 409)
    mine = ok(c.get("/api/v1/me/privacy/corrections"), 200, "mine")
    eq([(v["field"], v["value"]) for v in mine["verified"]], [("real_name", "李雷")], "verified")
    eq(mine["requests"][0]["status"], "approved", "approved")
    check("privacy.correction_approved" in inbox_kinds(c), "told")
    # A second one is rejected with a reason the user reads.
    cr2 = ok(c.post("/api/v1/me/privacy/corrections", dict(body, value="李磊")), 201, "again")
    ok(s.post(f"/api/v1/staff/privacy/corrections/{cr2['id']}/reject",
              {"reason": "The passport disagrees."}), 200, "reject")
    mine = ok(c.get("/api/v1/me/privacy/corrections"), 200, "mine")
    eq((mine["requests"][0]["status"], mine["requests"][0]["reason"]),
       ("rejected", "The passport disagrees."), "rejected with its reason")
    eq([v["value"] for v in mine["verified"]], ["李雷"], "the verified value stays")
    check("privacy.correction_rejected" in inbox_kinds(c), "told")
    eq(int(scalar(t, f"SELECT COUNT(*) FROM audit_log WHERE subject_user_id = {uid} AND action IN "
                     f"('privacy.correction_approved', 'privacy.correction_rejected')")), 2,
       "decisions audited")
    text = str(t.sql(f"SELECT * FROM correction_requests WHERE user_id = {uid}")) + \
        str(t.sql(f"SELECT * FROM verified_fields WHERE user_id = {uid}"))
    check("李雷" not in text and "李磊" not in text and "Passport page" not in text,
          f"values sealed at rest: {text[:300]}")


# ---------------------------------------------------------------- minors

def test_guardian_request_closes_and_erases_the_minor_account(t):
    fresh(t)
    minor = user(t)
    mid = minor.user["id"]
    file_ticket(minor, body="I am 15")
    ok(minor.get("/api/v1/me"), 200, "signed in")
    sup = staff_client(t, roles=SUPPORT)
    body = {"user_id": mid, "guardian_contact": "mother: +86 139 0000 0000",
            "evidence": "birth certificate and the mother's ID card, checked by video call"}
    assert_problem(sup.post("/api/v1/staff/privacy/minors", body), 403)
    dpo = staff_client(t, roles=COMPLIANCE)
    assert_problem(dpo.post("/api/v1/staff/privacy/minors", dict(body, user_id=10 ** 12)), 400)
    r = ok(dpo.post("/api/v1/staff/privacy/minors", body), 201, "guardian's request")
    eq((r["user_id"], r["status"]), (mid, "closing"), "closing at once")
    assert_problem(dpo.post("/api/v1/staff/privacy/minors", body), 409)
    # The service ends now, before the erasure job even runs.
    assert_problem(minor.get("/api/v1/me"), 401)

    def closed():
        rows = ok(dpo.get("/api/v1/staff/privacy/minors"), 200, "list")["requests"]
        row = next(x for x in rows if x["id"] == r["id"])
        return row if row["status"] == "closed" else None
    row = wait_for("the erasure", closed, timeout=30)
    check("guardian_contact" not in row, "the list shows no guardian data")
    eq(str(scalar(t, f"SELECT status FROM users WHERE id = {mid}")), "closed", "a tombstone")
    eq(t.sql(f"SELECT user_id FROM user_keys WHERE user_id = {mid}"), [], "key destroyed")
    # The ticket row stays as proof, its text shredded with the key.
    rows = t.sql(f"SELECT body_enc FROM privacy_tickets WHERE user_id = {mid}")
    check(rows and all(v[0] in (None, "") for v in rows), f"text cleared: {rows}")
    got = ok(dpo.get(f"/api/v1/staff/privacy/minors/{r['id']}"), 200, "staff read")
    eq(got["guardian_contact"], body["guardian_contact"], "the guardian's contact kept")
    eq(int(scalar(t, f"SELECT COUNT(*) FROM audit_log WHERE subject_user_id = {mid} AND action "
                     f"IN ('privacy.minor_request', 'privacy.account_erased', "
                     f"'staff.read_personal_data')")), 3, "request, erasure and read audited")
    # Staff accounts are not closed this way.
    staff_id = int(scalar(t, "SELECT MAX(id) FROM users WHERE staff_roles <> 0"))
    assert_problem(dpo.post("/api/v1/staff/privacy/minors", dict(body, user_id=staff_id)), 409)


# ---------------------------------------------------------------- breaches

def test_breach_register_countdowns_notices_and_report(t):
    fresh(t)
    a, b = user(t), user(t)
    email = new_email()
    _add_email(t, a, email)
    bystander = user(t)
    dpo = staff_client(t, roles=COMPLIANCE)
    now = set_clock(t, 0)
    base = {"title": "Support mailbox exposed", "description": "A support mailbox was readable.",
            "detected_at": now - 5 * HOUR_MS, "major": True,
            "categories": ["contact", "communication"], "contact": "dpo@example.com",
            "measures": "Access closed, passwords rotated.",
            "user_advice": "Beware of phishing e-mail quoting your tickets.",
            "user_ids": [str(a.user["id"]), str(b.user["id"])]}
    for bad, field in ((dict(base, detected_at=now + HOUR_MS), "detected_at"),
                       (dict(base, categories=["horoscope"]), "categories"),
                       (dict(base, user_ids=["999999999999"]), "user_ids"),
                       (dict(base, occurred_at=now), "occurred_at")):
        p = assert_problem(dpo.post("/api/v1/staff/privacy/breaches", bad), 400)
        check(field in str(p), f"names {field}: {p}")
    count = len(ok(dpo.get("/api/v1/staff/privacy/breaches"), 200, "list")["incidents"])
    inc = ok(dpo.post("/api/v1/staff/privacy/breaches", base), 201, "open")
    eq(len(ok(dpo.get("/api/v1/staff/privacy/breaches"), 200, "list")["incidents"]), count + 1,
       "refused ones were not registered")
    reg = inc["regulator"]
    eq((reg["initial_due_at"], reg["due_at"]),
       (base["detected_at"] + 4 * HOUR_MS, base["detected_at"] + 72 * HOUR_MS), "countdowns")
    check(reg["overdue"] and reg["reported_at"] is None, "a major one untold after 5 h is overdue")
    eq(inc["users"], {"affected": 2, "notified": 0, "pending": 2, "notices_sent_at": None},
       "two affected")
    minor_one = ok(dpo.post("/api/v1/staff/privacy/breaches",
                            dict(base, major=False, user_ids=[])), 201, "not major")
    check(not minor_one["regulator"]["overdue"] and minor_one["regulator"]["initial_due_at"]
          is None, "72 hours for one that is not major")

    # Notices: in-app and by e-mail, each delivery in the ledger.
    eq(ok(dpo.post(f"/api/v1/staff/privacy/breaches/{inc['id']}/notify"), 202, "notify"),
       {"queued": 2}, "two queued")
    wait_for("the notices", lambda: ok(dpo.get(f"/api/v1/staff/privacy/breaches/{inc['id']}"),
                                       200, "incident")["users"]["notified"] == 2)
    assert_problem(dpo.post(f"/api/v1/staff/privacy/breaches/{inc['id']}/notify"), 409)
    for u in (a, b):
        check("privacy.breach_notice" in inbox_kinds(u), "in-app notice")
        mine = ok(u.get("/api/v1/me/privacy/breaches"), 200, "my incidents")["incidents"]
        eq([(x["id"], x["measures"], x["contact"]) for x in mine],
           [(inc["id"], base["measures"], "dpo@example.com")], "what happened, what was done")
    eq(ok(bystander.get("/api/v1/me/privacy/breaches"), 200, "not affected")["incidents"], [],
       "others are not told")
    mail = wait_for("the e-mail", lambda: [m for m in outbox(t, email)
                                           if m["template"] == "privacy.breach_notice"])[0]
    for part in (base["title"], base["description"], base["measures"], base["user_advice"], "dpo@example.com"):
        check(part in mail["body"], f"the e-mail says {part!r}: {mail['body'][:400]}")
    wait_for("the ledger", lambda: any(
        "email" in d["data_types"] for d in ok(a.get("/api/v1/me/privacy/disclosures"), 200,
                                               "ledger")["disclosures"]))

    # The regulator report, in Chinese and English.
    r = dpo.get(f"/api/v1/staff/privacy/breaches/{inc['id']}/report")
    eq(r.status, 200, f"report ({r!r})")
    check(r.header("Content-Type").startswith("text/html"), "HTML")
    check(f"breach-{inc['id']}-report.html" in r.header("Content-Disposition"), "a download")
    for part in ("个人信息安全事件报告", "Personal information security incident report",
                 base["title"], base["measures"], "dpo@example.com", "联系方式",
                 "Contact details", "2 / 2"):
        check(part in r.text, f"the report has {part!r}")
    txt = dpo.get(f"/api/v1/staff/privacy/breaches/{inc['id']}/report?format=text")
    eq(txt.status, 200, "text report")
    check(txt.header("Content-Type").startswith("text/plain") and base["title"] in txt.text,
          "plain text too")
    assert_problem(dpo.get(f"/api/v1/staff/privacy/breaches/{inc['id']}/report?format=pdf"), 400)
    done = ok(dpo.post(f"/api/v1/staff/privacy/breaches/{inc['id']}/regulator-report",
                       {"reference": "CAC-2025-001"}), 200, "reported")
    check(done["regulator"]["reported_at"] and not done["regulator"]["overdue"], "told")
    assert_problem(dpo.post(f"/api/v1/staff/privacy/breaches/{inc['id']}/regulator-report", {}),
                   409)
    upd = ok(dpo.request("PATCH", f"/api/v1/staff/privacy/breaches/{inc['id']}",
                         {"status": "closed", "measures": "Fixed for good."}), 200, "close")
    eq((upd["status"], upd["measures"]), ("closed", "Fixed for good."), "closed")
    check(upd["closed_at"], "closing time")
    assert_problem(dpo.request("PATCH", f"/api/v1/staff/privacy/breaches/{inc['id']}",
                               {"status": "forgotten"}), 400)
    eq(int(scalar(t, f"SELECT COUNT(*) FROM audit_log WHERE action LIKE 'privacy.breach%' AND "
                     f"detail LIKE '%\"incident_id\":{inc['id']}}}%'")), 6,
       "opened, notices, two reports, reported, updated: audited")
