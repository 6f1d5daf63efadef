"""The user's rights over HTTP: the export of everything about me (a zip,
announced in the inbox and by e-mail, downloadable by its owner only and
only for a while), the cancellation of the account with its cooling-off
period and take-back, the erasure by crypto-shredding checked in the
database afterwards, the retention rules staff see, and the job runner's
counters in /metrics.

Jobs run in the server's own worker; the tests move the server clock and
wait for them.
"""
import io
import json
import os
import time
import zipfile

from harness import assert_problem, check, eq
from test_accounts import (PASSWORD, UA_PHONE, Client, _add_email, e164, fresh, login, new_email,
                           outbox, register, set_clock)
from test_avatar import png, put_avatar
from test_community import member, new_board, reply, topic
from test_privacy import staff_client, wait_for as _wait

DAY_MS = 86400000


def _export_ready(c, export_id):
    def ready():
        r = c.get("/api/v1/me/exports")
        eq(r.status, 200, f"export list ({r!r})")
        for e in r.json()["exports"]:
            if e["id"] == export_id and e["status"] == "ready":
                return e
        return None
    return _wait("the export job", ready)


def _scalar(t, sql):
    rows = t.sql(sql)
    return rows[0][0] if rows else None


# ---------------------------------------------------------------- export

def test_export_holds_everything_and_only_its_owner_downloads_it(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    eq(c.request("PATCH", "/api/v1/me", {"company": "Ningbo Export Co", "title": "Buyer"}).status,
       200, "profile")
    eq(put_avatar(c, png(40, 30)).status, 200, "avatar")
    b = new_board(t)
    topic(c, b["slug"], title="求购太阳能板 export-marker")
    me = c.get("/api/v1/me").json()

    r = c.post("/api/v1/me/export")
    eq(r.status, 202, f"export request ({r!r})")
    ex = r.json()["export"]
    eq(ex["status"], "queued", "queued at first")
    r = c.post("/api/v1/me/export")
    assert_problem(r, 409, "conflict")
    ready = _export_ready(c, ex["id"])
    check(ready["expires_at"] - ready["ready_at"] == 7 * DAY_MS, f"7 days to download: {ready}")

    r = c.get(f"/api/v1/me/exports/{ex['id']}/download")
    eq(r.status, 200, f"download ({r.status} {r.text[:200]})")
    eq(r.header("Content-Type"), "application/zip", "a zip")
    check(f"entrepot-export-{ex['id']}.zip" in (r.header("Content-Disposition") or ""),
          "named as an attachment")
    z = zipfile.ZipFile(io.BytesIO(r.body))
    names = z.namelist()
    manifest = json.loads(z.read("manifest.json"))
    eq(manifest["account_id"], me["id"], "the manifest names the account")
    for cat in ("identity", "contact", "profile", "credentials", "behaviour", "content", "account"):
        check(f"categories/{cat}.json" in names, f"category {cat} in the zip: {names}")
        check(cat in manifest["categories"], f"category {cat} in the manifest")
    contact = json.loads(z.read("categories/contact.json"))
    user_row = contact["tables"]["users"][0]
    eq(user_row["phone_enc"], e164(phone), "the phone number, decrypted")
    eq(user_row["email_enc"], email.lower(), "the e-mail address, decrypted")
    check("phone_bidx" not in user_row, "blind indexes are left out")
    cred = json.loads(z.read("categories/credentials.json"))["tables"]["users"][0]
    eq(cred["password_hash"], True, "the password only as presence")
    content = json.loads(z.read("categories/content.json"))
    check(any(x["title"] == "求购太阳能板 export-marker" for x in content["tables"]["topics"]),
          "my topic is in the export")
    pictures = [n for n in names if n.startswith("files/avatars/")]
    eq(len(pictures), 1, f"the avatar file ({names})")
    pic = z.read(pictures[0])
    check(pic[:4] == b"RIFF" and pic[8:12] == b"WEBP", "the avatar as WebP")
    check(any(o["column"] == "phone_bidx" and o["reason"] for o in manifest["omitted"]),
          "what is left out says why")

    # Announced in the inbox and by e-mail.
    items = c.get("/api/v1/me/inbox").json()["items"]
    check(any(i["kind"] == "privacy.export_ready" for i in items), f"inbox notice: {items}")
    check(any("export is ready" in (m["subject"] or "") for m in outbox(t, email.lower())),
          "e-mail notice")

    # Stored sealed under a random name: no zip, no phone number on disk.
    d = os.path.join(t.server.data_dir, "exports")
    files = os.listdir(d)
    check(files, "the archive is on disk")
    for f in files:
        raw = open(os.path.join(d, f), "rb").read()
        check(not raw.startswith(b"PK"), "the file is sealed, not a plain zip")
        check(e164(phone).encode() not in raw, "the phone number is not readable on disk")

    # Another account sees nothing of it.
    other, _ = register(t, client=Client(t, ua=UA_PHONE))
    eq(other.get(f"/api/v1/me/exports/{ex['id']}/download").status, 404, "not another user's")
    eq(other.get("/api/v1/me/exports").json()["exports"], [], "nor in their list")
    eq(t.http.get(f"/api/v1/me/exports/{ex['id']}/download").status, 401, "nor anonymous")

    # Downloadable for a limited time only.
    set_clock(t, 8 * DAY_MS)
    login(c, phone)  # the session itself timed out meanwhile
    r = c.get(f"/api/v1/me/exports/{ex['id']}/download")
    p = assert_problem(r, 410, "export-expired")
    check(p["detail"], "the problem says what to do")
    set_clock(t, 0)


# ---------------------------------------------------------------- cancellation

def test_cancel_needs_reauth_and_a_choice_and_can_be_taken_back(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    r = c.post("/api/v1/me/cancel", {"content": "delete"})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "reauth_required", "re-authentication is needed")
    r = c.post("/api/v1/me/cancel", {"content": "delete", "current_password": "wrong password"})
    p = assert_problem(r, 400, "invalid")
    eq((p["errors"][0]["field"], p["errors"][0]["code"]), ("current_password", "incorrect"),
       "wrong password")
    r = c.post("/api/v1/me/cancel", {"content": "burn", "current_password": PASSWORD})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["field"], "content", "the choice is checked")
    r = c.post("/api/v1/me/cancel", {"current_password": PASSWORD})
    assert_problem(r, 400, "invalid")

    r = c.post("/api/v1/me/cancel", {"content": "delete", "current_password": PASSWORD})
    eq(r.status, 202, f"cancel ({r!r})")
    k = r.json()["cancellation"]
    eq(k["status"], "pending", "pending")
    eq(k["effective_at"] - k["requested_at"], 7 * DAY_MS, "7 days of cooling-off")
    eq(k["withdraw"]["path"], "/api/v1/me/cancel/withdraw", "told how to take it back")
    check(k["withdraw"]["how"], "in words too")
    mail = [m for m in outbox(t, email.lower()) if "will be closed" in (m["subject"] or "")]
    check(mail and "/api/v1/me/cancel/withdraw" in mail[0]["body"], "and by e-mail")
    eq(c.get("/api/v1/me/cancel").json()["cancellation"]["id"], k["id"], "status shows it")
    assert_problem(c.post("/api/v1/me/cancel", {"content": "delete",
                                                "current_password": PASSWORD}), 409, "conflict")
    r = c.post("/api/v1/me/cancel/withdraw")
    eq(r.status, 200, f"withdraw ({r!r})")
    eq(r.json()["cancellation"]["status"], "withdrawn", "withdrawn")
    eq(c.get("/api/v1/me/cancel").json()["cancellation"], None, "nothing pending")
    assert_problem(c.post("/api/v1/me/cancel/withdraw"), 404, "not-found")
    # Past the cooling-off period nothing happens: it was taken back.
    set_clock(t, 8 * DAY_MS)
    time.sleep(1.5)
    login(c, phone)  # the session timed out meanwhile; the account did not
    eq(c.get("/api/v1/me").json()["status"], "active", "the account is still there")
    set_clock(t, 0)


def test_cancellation_erases_the_account_as_the_database_shows(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    c.request("PATCH", "/api/v1/me", {"username": "leaving_" + phone[-6:], "company": "Gone Ltd"})
    eq(put_avatar(c, png(32, 32)).status, 200, "avatar")
    b = new_board(t)
    tp = topic(c, b["slug"], title="将被删除的帖子 erase-marker")["topic"]
    kept = member(t)
    rp = reply(kept, tp["id"], body="别人的回复 stays")
    uid = c.get("/api/v1/me").json()["id"]
    r = c.post("/api/v1/me/cancel", {"content": "delete", "current_password": PASSWORD})
    eq(r.status, 202, f"cancel ({r!r})")
    effective = r.json()["cancellation"]["effective_at"]
    token = c.session_token()

    set_clock(t, effective - int(time.time() * 1000) + 60000)
    _wait("the erasure", lambda: _scalar(t, f"SELECT status FROM users WHERE id = {uid}")
          == "closed")
    set_clock(t, 0)

    # Every session ended; the number signs in to nothing.
    eq(t.http.get("/api/v1/me", headers={"Cookie": f"entrepot_session={token}"}).status, 401,
       "the session ended")
    login(Client(t), phone, expect=401)
    # The database: the tombstone and only what the law keeps.
    row = t.sql(f"SELECT username, display_name, phone_enc, phone_bidx, email_enc, email_bidx, "
                f"company, password_hash FROM users WHERE id = {uid}")[0]
    check(all(v in (None, "", "NULL") for v in row[2:]) and row[0] in (None, ""),
          f"the account's personal columns are cleared: {row}")
    eq(int(_scalar(t, f"SELECT COUNT(*) FROM user_keys WHERE user_id = {uid}")), 0,
       "the data key is destroyed")
    for table, col in (("avatars", "user_id"), ("devices", "user_id"), ("outbox", "user_id"),
                       ("inbox", "user_id"), ("privacy_exports", "user_id"),
                       ("purpose_settings", "user_id"), ("otp_attempts", "user_id")):
        eq(int(_scalar(t, f"SELECT COUNT(*) FROM {table} WHERE {col} = {uid}")), 0,
           f"nothing of the account left in {table}")
    eq(int(_scalar(t, f"SELECT COUNT(*) FROM topics WHERE author_id = {uid}")), 0,
       "topics detached")
    eq(_scalar(t, f"SELECT title FROM topics WHERE id = {tp['id']}"), "",
       "the topic's text is deleted, as chosen")
    check(_scalar(t, f"SELECT body_md FROM posts WHERE id = {rp['id']}") == "别人的回复 stays",
          "another member's reply stays")
    check(int(_scalar(t, f"SELECT COUNT(*) FROM audit_log WHERE subject_user_id = {uid} AND "
                         f"action = 'privacy.account_erased'")) == 1, "the erasure is audited")
    eq(_scalar(t, f"SELECT status FROM account_cancellations WHERE user_id = {uid}"),
       "completed", "the proof of the request is kept")
    check(any("closed" in (m["subject"] or "") for m in outbox(t, email.lower())),
          "the last message went to the address")
    # The number is free again: a new account, not the old one.
    c2, _ = register(t, phone=phone)
    check(c2.get("/api/v1/me").json()["id"] != uid, "a new account")


# ---------------------------------------------------------------- retention, metrics

def test_staff_see_the_retention_rules(t):
    fresh(t)
    s = staff_client(t)
    r = s.get("/api/v1/staff/privacy/retention")
    eq(r.status, 200, f"rules ({r!r})")
    rules = {x["table"]: x for x in r.json()["rules"]}
    eq(rules["sessions"]["retention"]["kind"], "after", "sessions have a period")
    eq(rules["sessions"]["retention"]["keep_ms"], 180 * DAY_MS, "six months")
    eq(rules["recently_viewed"]["retention"]["kind"], "latest", "history is capped")
    check(rules["outbox"]["by_module"], "the outbox rule is the module's")
    u = member(t)
    eq(u.get("/api/v1/staff/privacy/retention").status, 403, "not for members")


def test_metrics_show_the_job_runner(t):
    fresh(t)
    c, _ = register(t)
    r = c.post("/api/v1/me/export")
    eq(r.status, 202, f"export ({r!r})")
    _export_ready(c, r.json()["export"]["id"])
    m = t.http.get("/metrics").text
    check("entrepot_jobs_completed_total" in m, "job counters in /metrics")
    n = [ln for ln in m.splitlines() if ln.startswith("entrepot_jobs_completed_total ")]
    check(n and int(n[0].split()[1]) >= 1, f"a completed job counted: {n}")
