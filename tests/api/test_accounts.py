"""Accounts, sign-in, sessions and the security core, end to end over HTTP.

Codes are read from the outbox through the test-mode route
GET /api/v1/test/outbox?to=... (the dev provider keeps every message; the
outbox itself is sealed). Each test starts by clearing the rate-limit
counters, since every request of the suite comes from 127.0.0.1, and
resets the server clock when it moved it.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import re
import struct
import subprocess
import time
import urllib.parse
import uuid

from harness import Skip, assert_problem, check, eq, psql, self_signed_cert, sqlite_path

PASSWORD = "correct horse battery staple"
UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
UA_PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
CODE_RE = re.compile(r"\b(\d{6})\b")


# ---------------------------------------------------------------- helpers

def new_phone():
    """A national Chinese mobile number nobody else in this run uses."""
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def e164(national):
    return "+86" + national


def new_email():
    return f"u{uuid.uuid4().hex[:12]}@example.com"


def db_write(t, sql, database=None):
    """Runs a write against the test database (committed)."""
    url = database or t.database
    if t.backend == "sqlite":
        import sqlite3
        con = sqlite3.connect(sqlite_path(url), timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        psql(url, sql)


def fresh(t):
    """Every test starts with no rate-limit counters and the real clock."""
    reset_limits(t)
    set_clock(t, 0)


def reset_limits(t, http=None):
    """Forgets every rate-limit counter (test-mode route); returns how many there were."""
    r = (http or t.http).post_json("/api/v1/test/rate-limits/reset", {})
    eq(r.status, 200, f"resetting the rate limits ({r!r})")
    return r.json()["cleared"]


def set_clock(t, offset_ms, http=None):
    r = (http or t.http).post_json("/api/v1/test/clock", {"offset_ms": offset_ms})
    eq(r.status, 200, f"moving the clock ({r!r})")
    return r.json()["now_ms"]


def outbox(t, to, http=None):
    r = (http or t.http).get("/api/v1/test/outbox?to=" + urllib.parse.quote(to, safe=""))
    eq(r.status, 200, f"outbox ({r!r})")
    return r.json()["messages"]


def last_message(t, to, http=None):
    msgs = outbox(t, to, http)
    check(msgs, f"no message was sent to {to}")
    return msgs[0]


def last_code(t, to, http=None):
    body = last_message(t, to, http)["body"]
    m = CODE_RE.search(body)
    check(m, f"no code in the last message to {to}: {body!r}")
    return m.group(1)


def wrong(code):
    return f"{(int(code) + 1) % 1000000:06d}"


class Client:
    """A browser (cookies, CSRF header) or an app (bearer token)."""

    def __init__(self, t, ua=UA_FIREFOX, app=False, http=None, xff=None):
        self.t = t
        self.http = http or t.http
        self.ua = ua
        self.app = app
        self.cookies = {}
        self.csrf = None
        self.token = None
        self.device_token = None
        self.xff = xff
        self.user = None

    def request(self, method, path, body=None, csrf=True, headers=None):
        h = {"User-Agent": self.ua}
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if self.device_token:
            h["X-Device-Token"] = self.device_token
        if self.xff:
            h["X-Forwarded-For"] = self.xff
        if csrf and self.csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
        data = None
        if body is not None:
            if self.app and isinstance(body, dict) and path.startswith("/api/v1/auth") \
                    and path not in ("/api/v1/auth/codes", "/api/v1/auth/password-reset",
                                     "/api/v1/auth/logout", "/api/v1/auth/logout-all"):
                body = dict(body, client="app")
            data = json.dumps(body, ensure_ascii=False).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        r = self.http.request(method, path, body=data, headers=h)
        for sc in r.headers.get_all("Set-Cookie"):
            name, _, rest = sc.partition("=")
            value = rest.split(";")[0]
            if "Max-Age=0" in sc:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        if r.status in (200, 201) and r.content_type == "application/json":
            j = r.json()
            if isinstance(j, dict) and j.get("status") == "signed_in":
                self.csrf = j.get("csrf_token")
                self.user = j["user"]
                if j.get("token"):
                    self.token = j["token"]
            if isinstance(j, dict) and j.get("device_token"):
                self.device_token = j["device_token"]
        return r

    def get(self, path):
        return self.request("GET", path)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body if body is not None else None, **kw)

    def session_token(self):
        return self.token or self.cookies.get("entrepot_session")


def request_code(t, purpose, phone=None, email=None, client=None):
    body = {"purpose": purpose}
    if phone:
        body["phone"] = phone
    if email:
        body["email"] = email
    r = (client or Client(t)).post("/api/v1/auth/codes", body)
    eq(r.status, 202, f"code request ({r!r})")
    return r.json()["attempt"]


def register(t, client=None, phone=None, password=PASSWORD, **extra):
    """Registers a fresh account; returns (client, national phone)."""
    c = client or Client(t)
    phone = phone or new_phone()
    attempt = request_code(t, "register", phone=phone, client=c)
    code = last_code(t, e164(phone), c.http)
    body = {"phone": phone, "attempt": attempt, "code": code, **extra}
    if password:
        body["password"] = password
    r = c.post("/api/v1/auth/register", body)
    eq(r.status, 201, f"registration ({r!r})")
    return c, phone


def login(c, login_text, password=PASSWORD, expect=200, **extra):
    r = c.post("/api/v1/auth/login", {"login": login_text, "password": password, **extra})
    eq(r.status, expect, f"sign-in as {login_text} ({r!r})")
    return r


def login_with_code(t, c, phone, **extra):
    """Password sign-in that needs the second step; completes it."""
    r = login(c, phone, expect=202, **extra)
    j = r.json()
    eq(j["status"], "code_required", "sign-in status")
    code = last_code(t, e164(phone), c.http)
    r = c.post("/api/v1/auth/login/verify", {"attempt": j["attempt"], "code": code, **extra})
    eq(r.status, 200, f"second step ({r!r})")
    return r


def strip_volatile(p):
    """A problem or answer without what differs on every request."""
    p = dict(p)
    for k in ("request_id", "instance", "attempt"):
        p.pop(k, None)
    return p


def totp(secret_b32, at_ms):
    key = base64.b32decode(secret_b32.upper() + "=" * (-len(secret_b32) % 8))
    step = at_ms // 1000 // 30
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    n = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000
    return f"{n:06d}"


# ---------------------------------------------------------------- registration

def test_register_sets_a_safe_session_cookie_and_me_shows_the_account(t):
    fresh(t)
    c = Client(t)
    phone = new_phone()
    attempt = request_code(t, "register", phone=phone, client=c)
    msg = last_message(t, e164(phone))
    eq(msg["channel"], "sms", "channel")
    eq(msg["template"], "otp.register", "template")
    code = CODE_RE.search(msg["body"]).group(1)
    r = c.post("/api/v1/auth/register", {"phone": phone, "attempt": attempt, "code": code,
                                         "password": PASSWORD, "username": "Trader_" +
                                         uuid.uuid4().hex[:6], "account_type": "enterprise",
                                         "display_name": "Li Wei 李伟"})
    eq(r.status, 201, f"register ({r!r})")
    cookies = r.headers.get_all("Set-Cookie")
    sess = [x for x in cookies if x.startswith("entrepot_session=")]
    check(sess, f"no session cookie: {cookies!r}")
    attrs = [a.strip().lower() for a in sess[0].split(";")]
    for want in ("path=/", "httponly", "samesite=lax"):
        check(want in attrs, f"session cookie lacks {want}: {sess[0]!r}")
    check("secure" not in attrs, "plain HTTP must not mark the cookie Secure")
    check(not any(a.startswith("domain") for a in attrs), "no Domain attribute")
    token = sess[0].split(";")[0].split("=", 1)[1]
    check(re.fullmatch(r"[A-Za-z0-9_-]{43}", token), f"token is 256-bit base64url: {token!r}")
    j = r.json()
    eq(j["user"]["phone"], e164(phone), "phone in the answer")
    eq(j["user"]["account_type"], "enterprise", "account type")
    check(j["user"]["username"].startswith("trader_"), "user name is stored lower-cased")
    check("token" not in j, "a web sign-in must not put the token in the JSON")
    me = c.get("/api/v1/me")
    eq(me.status, 200, f"GET /me ({me!r})")
    eq(me.json()["csrf_token"], j["csrf_token"], "GET /me returns the session's CSRF token")
    eq(me.json()["display_name"], "Li Wei 李伟", "display name")
    check(me.json()["has_password"], "has_password")


def test_register_rejects_common_short_and_bad_input(t):
    fresh(t)
    phone = new_phone()
    attempt = request_code(t, "register", phone=phone)
    code = last_code(t, e164(phone))
    c = Client(t)
    for pw, want in [("iloveyou", "password_common"), ("Password1", "password_common"),
                     ("short", "too_short"), ("x" * 257, "too_long")]:
        r = c.post("/api/v1/auth/register", {"phone": phone, "attempt": attempt, "code": code,
                                             "password": pw})
        p = assert_problem(r, 400, "invalid", "/api/v1/auth/register")
        check(any(e["field"] == "password" and e["code"] in (want, "too_long") for e in
                  p["errors"]), f"password {pw[:12]!r}: expected {want}, got {p['errors']!r}")
    r = c.post("/api/v1/auth/register", {"phone": "12", "attempt": attempt, "code": code})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "invalid_phone", "bad number")
    r = c.post("/api/v1/auth/register", {"phone": phone, "attempt": attempt, "code": code,
                                         "username": "9lives"})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "invalid_username", "user name must start with a letter")
    # The code survived the rejected attempts (nothing was checked yet)...
    r = c.post("/api/v1/auth/register", {"phone": phone, "attempt": attempt, "code": code,
                                         "password": "长城长城长城长城好"})
    eq(r.status, 201, f"any Unicode, no composition rules ({r!r})")


def test_registering_a_registered_number_signs_in_to_it(t):
    fresh(t)
    c1, phone = register(t)
    uid = c1.user["id"]
    c2 = Client(t, ua=UA_PHONE)
    attempt = request_code(t, "register", phone=phone, client=c2)
    msg = last_message(t, e164(phone))
    check("already has an account" in msg["body"], f"the SMS says so: {msg['body']!r}")
    code = CODE_RE.search(msg["body"]).group(1)
    r = c2.post("/api/v1/auth/register", {"phone": phone, "attempt": attempt, "code": code,
                                          "password": "another password entirely"})
    eq(r.status, 200, f"existing number: signed in, not created ({r!r})")
    eq(r.json()["user"]["id"], uid, "the same account")
    # The other fields were ignored: the old password still works (new device: 202).
    login(Client(t), phone, expect=202)


# ---------------------------------------------------------------- enumeration

def test_code_requests_answer_the_same_for_registered_and_unknown_targets(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    unknown_phone, unknown_email = new_phone(), new_email()
    for purpose in ("login", "reset", "unfreeze", "register"):
        for known, unknown, key in ((phone, unknown_phone, "phone"),
                                    (email, unknown_email, "email")):
            if purpose == "register" and key == "email":
                continue
            a = Client(t).post("/api/v1/auth/codes", {"purpose": purpose, key: known})
            b = Client(t).post("/api/v1/auth/codes", {"purpose": purpose, key: unknown})
            eq((a.status, b.status), (202, 202), f"{purpose}/{key} statuses")
            eq(strip_volatile(a.json()), strip_volatile(b.json()), f"{purpose}/{key} bodies")
            eq(sorted(a.headers.get_all("Set-Cookie")), sorted(b.headers.get_all("Set-Cookie")),
               f"{purpose}/{key} cookies")
            check(len(a.json()["attempt"]) == len(b.json()["attempt"]), "attempt tokens alike")
        reset_limits(t)
    # Only the registered number got messages (login/reset/unfreeze go to accounts only).
    check(not [m for m in outbox(t, e164(unknown_phone)) if m["template"] != "otp.register"],
          "no sign-in or reset code went to an unknown number")
    check(not outbox(t, unknown_email), "nothing went to an unknown e-mail address")


def test_password_failures_answer_the_same_and_cost_the_same(t):
    fresh(t)
    c, phone = register(t, username="enum" + uuid.uuid4().hex[:8])
    username = c.user["username"]
    answers = []
    for login_text in (phone, new_phone(), username, "nobody" + uuid.uuid4().hex[:8],
                       new_email(), "not a login at all!"):
        r = Client(t).post("/api/v1/auth/login", {"login": login_text, "password": "wrong pass 1"})
        p = assert_problem(r, 401, "unauthorized", "/api/v1/auth/login")
        answers.append(strip_volatile(p))
        eq(r.headers.get_all("Set-Cookie"), [], f"no cookie for a failure ({login_text})")
    for a in answers[1:]:
        eq(a, answers[0], "every failed sign-in says the same")
    # In the caller's language, from the shared catalogue.
    for lang, want in (("zh-CN", "账号或密码错误。"), ("fr-FR", "Identifiant ou mot de passe "
                                                          "incorrect.")):
        r = Client(t).request("POST", "/api/v1/auth/login",
                              {"login": new_phone(), "password": "wrong pass 1"},
                              headers={"Accept-Language": lang})
        eq(assert_problem(r, 401)["detail"], want, f"detail in {lang}")
    reset_limits(t)
    # Unknown accounts still pay for one Argon2id verification.
    known, unknown = [], []
    for _ in range(3):
        t0 = time.monotonic()
        Client(t).post("/api/v1/auth/login", {"login": phone, "password": "wrong pass 2"})
        known.append(time.monotonic() - t0)
        t0 = time.monotonic()
        Client(t).post("/api/v1/auth/login", {"login": new_phone(), "password": "wrong pass 2"})
        unknown.append(time.monotonic() - t0)
    check(min(unknown) >= 0.5 * min(known),
          f"an unknown account answers much faster ({min(unknown):.3f}s vs {min(known):.3f}s)")


def test_password_reset_answers_the_same_and_works(t):
    fresh(t)
    c, phone = register(t)
    a_known = request_code(t, "reset", phone=phone)
    a_unknown = request_code(t, "reset", phone=new_phone())
    r1 = Client(t).post("/api/v1/auth/password-reset", {"attempt": a_unknown, "code": "123456",
                                                        "new_password": "brand new secret 1"})
    r2 = Client(t).post("/api/v1/auth/password-reset",
                        {"attempt": a_known, "code": wrong(last_code(t, e164(phone))),
                         "new_password": "brand new secret 1"})
    p1 = assert_problem(r1, 401, "unauthorized")
    p2 = assert_problem(r2, 401, "unauthorized")
    eq(strip_volatile(p1), strip_volatile(p2), "a wrong code reads the same either way")
    code = last_code(t, e164(phone))
    r = Client(t).post("/api/v1/auth/password-reset", {"attempt": a_known, "code": code,
                                                       "new_password": "brand new secret 1"})
    eq(r.status, 200, f"reset ({r!r})")
    eq(c.get("/api/v1/me").status, 401, "a reset ends every session")
    login(c, phone, password=PASSWORD, expect=401)
    login(c, phone, password="brand new secret 1", expect=200)
    check(any("reset" in m["body"] for m in outbox(t, e164(phone))), "a reset notice was sent")


# ---------------------------------------------------------------- sign-in

def test_known_device_signs_in_with_password_alone(t):
    fresh(t)
    c, phone = register(t)
    eq(c.post("/api/v1/auth/logout").status, 204, "logout")
    login(c, phone, expect=200)
    eq(c.get("/api/v1/me").status, 200, "signed in again")


def test_signing_in_again_replaces_the_old_session(t):
    fresh(t)
    c, phone = register(t)
    old = c.session_token()
    login(c, phone, expect=200)
    check(c.session_token() != old, "a new token at every sign-in")
    r = t.http.get("/api/v1/me", headers={"Cookie": f"entrepot_session={old}"})
    eq(r.status, 401, "the replaced session ended")
    eq(c.get("/api/v1/me").status, 200, "the new one works")
    eq(len(c.get("/api/v1/me/sessions").json()["sessions"]), 1, "one live session")


def test_new_device_needs_a_code_and_gets_a_notice(t):
    fresh(t)
    c, phone = register(t)
    other = Client(t, ua=UA_PHONE)
    r = login(other, phone, expect=202)
    j = r.json()
    eq(j["status"], "code_required", "second step needed")
    check(j["sent_to"].startswith("+86139") and "****" in j["sent_to"]
          and phone not in j["sent_to"], f"masked destination: {j['sent_to']!r}")
    eq(other.get("/api/v1/me").status, 401, "not signed in yet")
    msg = last_message(t, e164(phone))
    eq(msg["template"], "otp.login_2fa", "code message")
    check("Safari on iOS" in msg["body"], f"the SMS names the device: {msg['body']!r}")
    code = CODE_RE.search(msg["body"]).group(1)
    r = other.post("/api/v1/auth/login/verify", {"attempt": j["attempt"], "code": wrong(code)})
    assert_problem(r, 401, "unauthorized")
    r = other.post("/api/v1/auth/login/verify", {"attempt": j["attempt"], "code": code})
    eq(r.status, 200, f"second step ({r!r})")
    eq(other.get("/api/v1/me").status, 200, "signed in on the new device")
    notice = last_message(t, e164(phone))
    check("new sign-in" in notice["body"].lower(), f"notice sent: {notice['body']!r}")
    # The device is known now: next time the password is enough.
    other.post("/api/v1/auth/logout")
    login(other, phone, expect=200)


def test_new_network_needs_a_code(t):
    srv = t.start_server(extra_args=["--trusted-proxies", "127.0.0.1"])
    h = srv.http()
    c = Client(t, http=h, xff="198.51.100.7")
    c, phone = register(t, client=c)
    c.post("/api/v1/auth/logout")
    c.xff = "198.51.100.99"  # same /24
    login(c, phone, expect=200)
    c.post("/api/v1/auth/logout")
    c.xff = "203.0.113.5"  # another network, same device
    r = login(c, phone, expect=202)
    eq(r.json()["status"], "code_required", "a new network needs a code")


def test_sign_in_by_code_with_phone_or_email(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    for key, target, to in (("phone", phone, e164(phone)), ("email", email, email)):
        d = Client(t)
        attempt = request_code(t, "login", **{key: target})
        code = last_code(t, to)
        r = d.post("/api/v1/auth/login/verify", {"attempt": attempt, "code": code})
        eq(r.status, 200, f"code sign-in by {key} ({r!r})")
        eq(d.get("/api/v1/me").json()["id"], c.user["id"], "the right account")


def test_login_with_email_and_username(t):
    fresh(t)
    name = "user" + uuid.uuid4().hex[:8]
    c, phone = register(t, username=name)
    email = new_email()
    _add_email(t, c, email)
    c.post("/api/v1/auth/logout")
    login(c, email.upper(), expect=200)
    c.post("/api/v1/auth/logout")
    login(c, name.upper(), expect=200)
    c.post("/api/v1/auth/logout")
    login(c, "+86 " + phone[:3] + "-" + phone[3:], expect=200)


# ---------------------------------------------------------------- one-time codes

def test_codes_are_single_use_and_bound_to_purpose_and_attempt(t):
    fresh(t)
    c, phone = register(t)
    # Single use.
    attempt = request_code(t, "login", phone=phone)
    code = last_code(t, e164(phone))
    eq(Client(t).post("/api/v1/auth/login/verify", {"attempt": attempt, "code": code}).status,
       200, "first use")
    assert_problem(Client(t).post("/api/v1/auth/login/verify",
                                  {"attempt": attempt, "code": code}), 401)
    reset_limits(t)  # five codes an hour per number
    # Bound to the purpose: a reset code does not sign in, a login code does not register.
    attempt = request_code(t, "reset", phone=phone)
    code = last_code(t, e164(phone))
    assert_problem(Client(t).post("/api/v1/auth/login/verify",
                                  {"attempt": attempt, "code": code}), 401)
    attempt = request_code(t, "login", phone=phone)
    code = last_code(t, e164(phone))
    assert_problem(Client(t).post("/api/v1/auth/register",
                                  {"phone": phone, "attempt": attempt, "code": code}), 401)
    assert_problem(Client(t).post("/api/v1/auth/unfreeze",
                                  {"attempt": attempt, "code": code}), 401)
    reset_limits(t)
    # Bound to the attempt: the right code under another attempt token fails.
    a1 = request_code(t, "login", phone=phone)
    c1 = last_code(t, e164(phone))
    a2 = request_code(t, "login", phone=phone)
    c2 = last_code(t, e164(phone))
    if c1 != c2:
        assert_problem(Client(t).post("/api/v1/auth/login/verify",
                                      {"attempt": a2, "code": c1}), 401)
    # Codes are stored hashed: no row holds the digits.
    rows = t.sql("SELECT code_hash FROM otp_attempts")
    check(rows and all(c2 not in str(r[0]) for r in rows), "codes are not stored in clear")


def test_codes_expire_after_ten_minutes(t):
    fresh(t)
    c, phone = register(t)
    try:
        attempt = request_code(t, "login", phone=phone)
        code = last_code(t, e164(phone))
        set_clock(t, 9 * 60 * 1000)
        attempt2 = request_code(t, "login", phone=phone)
        code2 = last_code(t, e164(phone))
        set_clock(t, 11 * 60 * 1000)
        assert_problem(Client(t).post("/api/v1/auth/login/verify",
                                      {"attempt": attempt, "code": code}), 401)
        eq(Client(t).post("/api/v1/auth/login/verify",
                          {"attempt": attempt2, "code": code2}).status, 200,
           "a code 2 minutes old still works")
    finally:
        set_clock(t, 0)


def test_five_wrong_guesses_kill_the_attempt(t):
    fresh(t)
    c, phone = register(t)
    attempt = request_code(t, "login", phone=phone)
    code = last_code(t, e164(phone))
    for _ in range(5):
        assert_problem(Client(t).post("/api/v1/auth/login/verify",
                                      {"attempt": attempt, "code": wrong(code)}), 401)
    assert_problem(Client(t).post("/api/v1/auth/login/verify",
                                  {"attempt": attempt, "code": code}), 401)


def test_code_sending_is_limited_per_target_and_per_address(t):
    fresh(t)
    _, phone = register(t)
    reset_limits(t)
    for target in (phone, new_phone()):  # the same for registered and unknown numbers
        for i in range(5):
            eq(Client(t).post("/api/v1/auth/codes", {"purpose": "login", "phone": target}).status,
               202, f"code {i + 1}")
        r = Client(t).post("/api/v1/auth/codes", {"purpose": "login", "phone": target})
        p = assert_problem(r, 429, "rate-limited", "/api/v1/auth/codes")
        ra = int(r.header("Retry-After") or 0)
        check(0 < ra <= 3600, f"Retry-After {r.header('Retry-After')!r}")
        check(str(ra) in p["detail"], f"detail names the wait: {p['detail']!r}")
    # Per address: 20 codes an hour from one address, whatever the targets.
    reset_limits(t)
    for i in range(20):
        eq(Client(t).post("/api/v1/auth/codes",
                          {"purpose": "register", "phone": new_phone()}).status, 202,
           f"code {i + 1} from this address")
    r = Client(t).post("/api/v1/auth/codes", {"purpose": "register", "phone": new_phone()})
    assert_problem(r, 429, "rate-limited")
    check(r.header("Retry-After"), "Retry-After on the per-address limit")
    reset_limits(t)


# ---------------------------------------------------------------- throttling

def test_password_guessing_is_throttled_per_account(t):
    fresh(t)
    c, phone = register(t)
    try:
        for i in range(5):
            assert_problem(Client(t).post("/api/v1/auth/login",
                                          {"login": phone, "password": f"guess number {i}"}), 401)
        # Even the right password waits now: the delay is per account.
        r = c.post("/api/v1/auth/login", {"login": phone, "password": PASSWORD})
        assert_problem(r, 429, "rate-limited", "/api/v1/auth/login")
        ra = int(r.header("Retry-After"))
        check(1 <= ra <= 30, f"Retry-After {ra}")
        # An unknown account behaves the same (no enumeration through throttling).
        ghost = new_phone()
        for i in range(5):
            assert_problem(Client(t).post("/api/v1/auth/login",
                                          {"login": ghost, "password": f"guess number {i}"}), 401)
        r2 = Client(t).post("/api/v1/auth/login", {"login": ghost, "password": "x" * 9})
        assert_problem(r2, 429, "rate-limited")
        # After the delay the account answers again, and the delay grows.
        set_clock(t, (ra + 1) * 1000)
        assert_problem(Client(t).post("/api/v1/auth/login",
                                      {"login": phone, "password": "guess number 6"}), 401)
        r = Client(t).post("/api/v1/auth/login", {"login": phone, "password": PASSWORD})
        assert_problem(r, 429, "rate-limited")
        check(int(r.header("Retry-After")) >= ra, "the delay grows")
        set_clock(t, (ra + 1) * 1000 + 31000)
        login(c, phone, expect=200)
    finally:
        set_clock(t, 0)


def test_password_guessing_is_capped_per_account_per_hour(t):
    fresh(t)
    c, phone = register(t)
    uid = c.user["id"]
    try:
        # 100 failures in this hour (as if spread over it): the account is
        # closed to password attempts until the hour is over.
        offset = 0
        for i in range(100):
            r = Client(t).post("/api/v1/auth/login", {"login": phone, "password": f"g{i:08d}"})
            if r.status == 429:
                offset += int(r.header("Retry-After")) * 1000
                set_clock(t, offset)
                r = Client(t).post("/api/v1/auth/login", {"login": phone,
                                                          "password": f"g{i:08d}"})
            eq(r.status, 401, f"failure {i + 1} ({r!r})")
            if offset > 3000 * 1000:
                break
        check(offset < 3600 * 1000, "100 failures fit in the hour")
        r = c.post("/api/v1/auth/login", {"login": phone, "password": PASSWORD})
        assert_problem(r, 429, "rate-limited")
        check(int(r.header("Retry-After")) > 31, "capped for the rest of the hour, not 30 s")
    finally:
        set_clock(t, 0)
    check(uid, "account")


def test_password_guessing_is_throttled_per_address(t):
    fresh(t)
    # 20 failures from one address over many logins, then everyone from it waits.
    for i in range(20):
        assert_problem(Client(t).post("/api/v1/auth/login",
                                      {"login": new_phone(), "password": "spray pass 1"}), 401)
    r = Client(t).post("/api/v1/auth/login", {"login": new_phone(), "password": "spray pass 1"})
    assert_problem(r, 429, "rate-limited")
    check(r.header("Retry-After"), "Retry-After")
    reset_limits(t)


# ---------------------------------------------------------------- sessions

def test_session_idle_and_absolute_timeouts(t):
    fresh(t)
    c, phone = register(t)
    r = Client(t)
    try:
        # Idle: 30 minutes without a request ends the session.
        set_clock(t, 29 * 60 * 1000)
        eq(c.get("/api/v1/me").status, 200, "29 minutes idle")
        set_clock(t, (29 + 31) * 60 * 1000)
        eq(c.get("/api/v1/me").status, 401, "31 minutes idle")
        # Absolute: 12 hours even when active.
        set_clock(t, 0)
        login(c, phone, expect=200)
        for minutes in range(25, 12 * 60, 25):
            set_clock(t, minutes * 60 * 1000)
            eq(c.get("/api/v1/me").status, 200, f"active after {minutes} minutes")
        set_clock(t, (12 * 60 + 1) * 60 * 1000)
        eq(c.get("/api/v1/me").status, 401, "past the absolute timeout")
        # Remember-me: 30 days idle.
        set_clock(t, 0)
        r = login(c, phone, expect=200, remember=True)
        ck = [x for x in r.headers.get_all("Set-Cookie") if x.startswith("entrepot_session=")]
        check("Max-Age=" in ck[0], f"a remembered session is a persistent cookie: {ck[0]!r}")
        set_clock(t, 2 * 86400 * 1000)
        eq(c.get("/api/v1/me").status, 200, "remembered session after 2 days")
        set_clock(t, 33 * 86400 * 1000)
        eq(c.get("/api/v1/me").status, 401, "remembered session after 31 idle days")
    finally:
        set_clock(t, 0)
    check(r, "client")


def test_session_lifetimes_come_from_the_configuration(t):
    env = {"ENTREPOT_SESSION_IDLE_MINUTES": "5", "ENTREPOT_SESSION_ABSOLUTE_HOURS": "1",
           "ENTREPOT_SESSION_REMEMBER_DAYS": "2", "ENTREPOT_SESSION_REMEMBER_ABSOLUTE_DAYS": "3"}
    srv = t.start_server(env=env)
    h = srv.http()
    fresh(t)
    minute, day = 60 * 1000, 86400 * 1000
    try:
        c, phone = register(t, client=Client(t, http=h))
        r = login(c, phone, expect=200)
        s = r.json()["session"]
        eq(s["idle_timeout_s"], 300, "idle timeout from session_idle_minutes")
        now = set_clock(t, 0, http=h)
        check(abs(s["expires_at"] - now - 3600 * 1000) < 60 * 1000,
              f"absolute expiry from session_absolute_hours: {s['expires_at'] - now} ms")
        # Idle: 5 minutes.
        set_clock(t, 4 * minute, http=h)
        eq(c.get("/api/v1/me").status, 200, "4 minutes idle")
        set_clock(t, 10 * minute, http=h)
        eq(c.get("/api/v1/me").status, 401, "6 minutes idle")
        # Absolute: one hour, however active.
        set_clock(t, 0, http=h)
        login(c, phone, expect=200)
        for m in range(4, 60, 4):
            set_clock(t, m * minute, http=h)
            eq(c.get("/api/v1/me").status, 200, f"active after {m} minutes")
        set_clock(t, 61 * minute, http=h)
        eq(c.get("/api/v1/me").status, 401, "past the one-hour absolute timeout")
        # Remember-me: 2 days idle, 3 days in all; the cookie lives as long.
        set_clock(t, 0, http=h)
        r = login(c, phone, expect=200, remember=True)
        eq(r.json()["session"]["idle_timeout_s"], 2 * 86400, "remember-me idle timeout")
        ck = [x for x in r.headers.get_all("Set-Cookie") if x.startswith("entrepot_session=")]
        age = int(re.search(r"Max-Age=(\d+)", ck[0]).group(1))
        check(abs(age - 3 * 86400) < 120, f"remembered cookie Max-Age {age}")
        for d in (1, 2):
            set_clock(t, d * day, http=h)
            eq(c.get("/api/v1/me").status, 200, f"remembered session, active, day {d}")
        set_clock(t, 3 * day + minute, http=h)
        eq(c.get("/api/v1/me").status, 401, "remembered session past 3 days")
        set_clock(t, 0, http=h)
        login(c, phone, expect=200, remember=True)
        set_clock(t, 2 * day + minute, http=h)
        eq(c.get("/api/v1/me").status, 401, "remembered session after 2 idle days")
    finally:
        set_clock(t, 0, http=h)
    # An idle timeout longer than the whole session is refused at start-up.
    p = t.run_bin(["config", "check"], env={"ENTREPOT_SESSION_IDLE_MINUTES": "120",
                                            "ENTREPOT_SESSION_ABSOLUTE_HOURS": "1"})
    eq(p.returncode, 2, f"config check with idle > absolute ({p.stdout[-200:]} {p.stderr})")
    check("idle timeout" in p.stderr, f"config check explains: {p.stderr!r}")
    p = t.run_bin(["config", "check"], env={"ENTREPOT_SESSION_IDLE_MINUTES": "0"})
    eq(p.returncode, 2, "an idle timeout of 0 minutes is refused")


def test_session_route_answers_visitors_and_members_without_401(t):
    fresh(t)
    r = Client(t).get("/api/v1/auth/session")
    eq((r.status, r.json()), (200, {"signed_in": False}), f"a visitor ({r!r})")
    check(not r.headers.get_all("Set-Cookie"), "no cookie for a visitor")
    c, phone = register(t, display_name="Wang Fang")
    r = c.get("/api/v1/auth/session")
    eq(r.status, 200, f"a member ({r!r})")
    j = r.json()
    eq(j["signed_in"], True, "signed in")
    eq(j["user"]["id"], c.user["id"], "the member's id")
    eq(j["user"]["display_name"], "Wang Fang", "display name")
    check("lang" in j["user"] and "staff_roles" not in j["user"], f"user: {j['user']!r}")
    eq(j["csrf_token"], c.csrf, "the session's CSRF token, for a page that reloaded")
    check(phone not in r.text and "phone" not in j["user"], "no contact data in it")
    eq(j["session_id"], c.get("/api/v1/me").json()["session_id"], "this session")
    # The token it gives is the one unsafe requests need.
    c.csrf = None
    assert_problem(c.post("/api/v1/me/freeze"), 403, "csrf")
    c.csrf = j["csrf_token"]
    # An app's bearer session: no CSRF token, none needed.
    app = Client(t, app=True, ua=UA_PHONE)
    login_with_code(t, app, phone)
    j = app.get("/api/v1/auth/session").json()
    check(j["signed_in"] and "csrf_token" not in j, f"an app session: {j!r}")
    r = Client(t).request("GET", "/api/v1/auth/session",
                          headers={"Authorization": "Bearer " + "A" * 43})
    eq((r.status, r.json()), (200, {"signed_in": False}), "an unknown bearer token")
    # A session that ended: still 200, and the dead cookie is cleared.
    token = c.session_token()
    eq(c.post("/api/v1/auth/logout").status, 204, "sign-out")
    r = t.http.get("/api/v1/auth/session", headers={"Cookie": f"entrepot_session={token}"})
    eq((r.status, r.json()), (200, {"signed_in": False}), f"after sign-out ({r!r})")
    check(any(x.startswith("entrepot_session=;") and "Max-Age=0" in x
              for x in r.headers.get_all("Set-Cookie")), "the dead cookie is cleared")


def test_rate_limit_reset_route_exists_only_in_test_mode(t):
    fresh(t)
    target = new_phone()
    for i in range(5):
        eq(Client(t).post("/api/v1/auth/codes", {"purpose": "login", "phone": target}).status,
           202, f"code {i + 1}")
    assert_problem(Client(t).post("/api/v1/auth/codes", {"purpose": "login", "phone": target}),
                   429, "rate-limited")
    check(reset_limits(t) >= 2, "the counters of the number and of the address were there")
    eq(Client(t).post("/api/v1/auth/codes", {"purpose": "login", "phone": target}).status, 202,
       "a code again after the reset")
    eq(reset_limits(t), 2, "only the two counters that request made")
    srv = t.start_server(test_mode=False)
    h = srv.http()
    r = h.post_json("/api/v1/test/rate-limits/reset", {})
    assert_problem(r, 404, "not-found", "/api/v1/test/rate-limits/reset")
    r = h.get("/api/v1/auth/session")
    eq((r.status, r.json()), (200, {"signed_in": False}), "the session route is not test-only")


def test_logout_ends_the_session_on_the_server(t):
    fresh(t)
    c, _ = register(t)
    token = c.session_token()
    r = c.post("/api/v1/auth/logout")
    eq(r.status, 204, f"logout ({r!r})")
    check(any(x.startswith("entrepot_session=;") and "Max-Age=0" in x
              for x in r.headers.get_all("Set-Cookie")), "the cookie is cleared")
    # The old token, replayed by someone who kept it, is dead.
    r = t.http.get("/api/v1/me", headers={"Cookie": f"entrepot_session={token}"})
    assert_problem(r, 401, "unauthorized", "/api/v1/me")


def test_logout_everywhere_and_ending_one_session(t):
    fresh(t)
    a, phone = register(t)
    b = Client(t, ua=UA_PHONE)
    login_with_code(t, b, phone)
    c = Client(t, app=True)
    login_with_code(t, c, phone)
    sessions = a.get("/api/v1/me/sessions").json()["sessions"]
    eq(len(sessions), 3, f"three sessions ({sessions!r})")
    cur = [s for s in sessions if s["current"]]
    eq(len(cur), 1, "one is current")
    labels = {s["device"] for s in sessions}
    check("Safari on iOS" in labels and "Firefox on Linux" in labels, f"device labels {labels}")
    for s in sessions:
        eq(s["place"], "127.0.0.0/24", "approximate place")
        check(s["last_seen_at"] > 0, "last seen")
    b_id = [s for s in sessions if s["device"] == "Safari on iOS"][0]["id"]
    eq(a.request("DELETE", f"/api/v1/me/sessions/{b_id}").status, 204, "end one session")
    eq(b.get("/api/v1/me").status, 401, "that session ended")
    eq(a.get("/api/v1/me").status, 200, "this one lives")
    eq(a.request("DELETE", f"/api/v1/me/sessions/{b_id}").status, 404, "already ended")
    eq(a.post("/api/v1/auth/logout-all").status, 204, "logout everywhere")
    eq(a.get("/api/v1/me").status, 401, "ended here")
    eq(c.get("/api/v1/me").status, 401, "and in the app")


def test_csrf_is_required_for_cookie_sessions_only(t):
    fresh(t)
    c, phone = register(t)
    r = c.request("PATCH", "/api/v1/me", {"company": "ACME"}, csrf=False)
    p = assert_problem(r, 403, "csrf", "/api/v1/me")
    check("X-CSRF-Token" in p["detail"], "the detail says what is missing")
    r = c.request("PATCH", "/api/v1/me", {"company": "ACME"}, csrf=False,
                  headers={"X-CSRF-Token": "A" * 43})
    assert_problem(r, 403, "csrf")
    r = c.request("POST", "/api/v1/auth/logout", csrf=False)
    assert_problem(r, 403, "csrf")
    eq(c.get("/api/v1/me").status, 200, "GET needs no token; the session lives on")
    r = c.request("PATCH", "/api/v1/me", {"company": "ACME"})
    eq(r.status, 200, f"with the token ({r!r})")
    eq(r.json()["company"], "ACME", "applied")
    # Bearer sessions (apps) need no CSRF token.
    app = Client(t, app=True)
    login_with_code(t, app, phone)
    check(app.token and not app.cookies.get("entrepot_session"), "the app got a bearer token")
    r = app.request("PATCH", "/api/v1/me", {"title": "Buyer"}, csrf=False)
    eq(r.status, 200, f"bearer PATCH without CSRF ({r!r})")
    # A bearer token is not accepted as a cookie, nor the other way round.
    r = t.http.get("/api/v1/me", headers={"Cookie": f"entrepot_session={app.token}"})
    eq(r.status, 401, "bearer token in a cookie")
    r = t.http.get("/api/v1/me", headers={"Authorization": f"Bearer {c.session_token()}"})
    eq(r.status, 401, "cookie token as bearer")
    r = t.http.get("/api/v1/me", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    eq(r.status, 401, "another scheme")


# ---------------------------------------------------------------- changes

def _add_email(t, c, email):
    r = c.post("/api/v1/me/email", {"email": email, "current_password": PASSWORD})
    eq(r.status, 202, f"e-mail change ({r!r})")
    attempt = r.json()["attempt"]
    code = last_code(t, email)
    r = c.post("/api/v1/me/email/verify", {"email": email, "attempt": attempt, "code": code})
    eq(r.status, 200, f"e-mail verify ({r!r})")
    eq(r.json()["email"], email.lower(), "e-mail set")


def test_password_change_needs_reauth_and_rotates_the_session(t):
    fresh(t)
    c, phone = register(t)
    other = Client(t, ua=UA_PHONE)
    login_with_code(t, other, phone)
    old_token = c.session_token()
    new_pw = "a whole new passphrase"
    r = c.post("/api/v1/me/password", {"new_password": new_pw})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "reauth_required", "no re-authentication")
    r = c.post("/api/v1/me/password", {"new_password": new_pw, "current_password": "nope nope"})
    p = assert_problem(r, 400, "invalid")
    eq((p["errors"][0]["field"], p["errors"][0]["code"]), ("current_password", "incorrect"),
       "wrong current password")
    r = c.post("/api/v1/me/password", {"new_password": "qwertyuiop",
                                       "current_password": PASSWORD})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "password_common", "common new password")
    r = c.post("/api/v1/me/password", {"new_password": new_pw, "current_password": PASSWORD})
    eq(r.status, 200, f"change ({r!r})")
    check(c.session_token() != old_token, "a new token after the change")
    eq(c.get("/api/v1/me").status, 200, "this session continues")
    r = t.http.get("/api/v1/me", headers={"Cookie": f"entrepot_session={old_token}"})
    eq(r.status, 401, "the old token is dead")
    eq(other.get("/api/v1/me").status, 401, "other sessions ended")
    check(any("password was changed" in m["body"] for m in outbox(t, e164(phone))),
          "a notice was sent")
    # Re-authentication with a fresh code instead of the password.
    r = c.post("/api/v1/me/codes", {"channel": "sms"})
    eq(r.status, 202, f"reauth code ({r!r})")
    attempt = r.json()["attempt"]
    code = last_code(t, e164(phone))
    r = c.post("/api/v1/me/password", {"new_password": PASSWORD, "attempt": attempt,
                                       "code": wrong(code)})
    assert_problem(r, 400, "invalid")
    r = c.post("/api/v1/me/password", {"new_password": PASSWORD, "attempt": attempt,
                                       "code": code})
    eq(r.status, 200, f"change with a code ({r!r})")
    c.post("/api/v1/auth/logout")
    login(c, phone, PASSWORD, expect=200)


def test_email_and_phone_changes(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    r = c.post("/api/v1/me/email", {"email": email})
    p = assert_problem(r, 400, "invalid")
    eq(p["errors"][0]["code"], "reauth_required", "e-mail change needs re-authentication")
    _add_email(t, c, email)
    me = c.get("/api/v1/me").json()
    eq(me["email"], email, "e-mail")
    check(me["email_verified_at"], "verified")
    # The e-mail of another account cannot be taken.
    d, _ = register(t, client=Client(t, ua=UA_PHONE))
    r = d.post("/api/v1/me/email", {"email": email, "current_password": PASSWORD})
    eq(r.status, 202, "the start says nothing about other accounts")
    code = last_code(t, email)
    r = d.post("/api/v1/me/email/verify", {"email": email, "attempt": r.json()["attempt"],
                                           "code": code})
    assert_problem(r, 409, "conflict")
    # Phone change: code to the new number, notice to the old contact.
    new = new_phone()
    r = c.post("/api/v1/me/phone", {"phone": new, "current_password": PASSWORD})
    eq(r.status, 202, f"phone change ({r!r})")
    attempt = r.json()["attempt"]
    code = last_code(t, e164(new))
    r = c.post("/api/v1/me/phone/verify", {"phone": phone, "attempt": attempt, "code": code})
    assert_problem(r, 401, "unauthorized")  # the code is for another number (one try used)
    r = c.post("/api/v1/me/phone/verify", {"phone": new, "attempt": attempt, "code": code})
    eq(r.status, 200, f"phone verify ({r!r})")
    eq(r.json()["phone"], e164(new), "new number")
    check(any("mobile number" in m["body"] for m in outbox(t, email)),
          "the notice went to the verified e-mail")
    c.post("/api/v1/auth/logout")
    login(c, new, expect=200)
    login(Client(t), phone, expect=401)


def test_freeze_and_unfreeze(t):
    fresh(t)
    c, phone = register(t)
    other = Client(t, app=True)
    login_with_code(t, other, phone)
    r = c.post("/api/v1/me/freeze")
    eq(r.status, 200, f"freeze ({r!r})")
    eq(c.get("/api/v1/me").status, 401, "sessions end at once")
    eq(other.get("/api/v1/me").status, 401, "everywhere")
    r = Client(t).post("/api/v1/auth/login", {"login": phone, "password": PASSWORD})
    p = assert_problem(r, 403, "forbidden")
    check("frozen" in p["detail"], f"says frozen: {p['detail']!r}")
    # A code for another purpose does not unfreeze.
    attempt = request_code(t, "login", phone=phone)
    code = last_code(t, e164(phone))
    assert_problem(Client(t).post("/api/v1/auth/unfreeze", {"attempt": attempt, "code": code}),
                   401)
    attempt = request_code(t, "unfreeze", phone=phone)
    code = last_code(t, e164(phone))
    d = Client(t)
    r = d.post("/api/v1/auth/unfreeze", {"attempt": attempt, "code": code})
    eq(r.status, 200, f"unfreeze ({r!r})")
    eq(r.json()["user"]["status"], "active", "active again")
    eq(d.get("/api/v1/me").status, 200, "signed in")


def test_profile_fields_and_public_choice(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    r = c.request("PATCH", "/api/v1/me", {
        "display_name": "Amélie 张", "gender": "female", "signature": "Export & import",
        "company": "ACME Trading", "title": "Sales lead", "department": "Export",
        "industry": "Textiles", "public_fields": ["company", "industry"], "lang": "fr"})
    eq(r.status, 200, f"PATCH ({r!r})")
    eq(r.json()["public_fields"], ["company", "industry"], "public fields")
    uid = r.json()["id"]
    pub = Client(t).get(f"/api/v1/users/{uid}")
    eq(pub.status, 200, f"public profile ({pub!r})")
    j = pub.json()
    eq((j["display_name"], j["company"], j["industry"]),
       ("Amélie 张", "ACME Trading", "Textiles"), "public fields shown")
    for hidden in ("title", "department", "gender", "signature", "email", "phone"):
        check(hidden not in j, f"{hidden} is private: {j!r}")
    check(phone not in pub.text and email not in pub.text, "no contact data")
    c.request("PATCH", "/api/v1/me", {"public_fields": ["email"], "title": None})
    j = Client(t).get(f"/api/v1/users/{uid}").json()
    eq(j.get("email"), email, "an e-mail made public is shown")
    check("company" not in j, "no longer public")
    eq(c.get("/api/v1/me").json()["title"], None, "null clears a field")
    r = c.request("PATCH", "/api/v1/me", {"public_fields": ["phone"]})
    assert_problem(r, 400, "invalid")
    r = c.request("PATCH", "/api/v1/me", {"gender": "unicorn"})
    assert_problem(r, 400, "invalid")
    r = c.request("PATCH", "/api/v1/me", {"avatar_url": "x"})
    assert_problem(r, 400, "invalid")
    eq(Client(t).get("/api/v1/users/999999999").status, 404, "unknown user")


def test_security_log_records_the_events(t):
    fresh(t)
    c, phone = register(t)
    Client(t).post("/api/v1/auth/login", {"login": phone, "password": "wrong password 1"})
    other = Client(t, ua=UA_PHONE)
    login_with_code(t, other, phone)
    sid = [s["id"] for s in c.get("/api/v1/me/sessions").json()["sessions"] if not s["current"]]
    c.request("DELETE", f"/api/v1/me/sessions/{sid[0]}")
    c.post("/api/v1/me/password", {"new_password": "yet another passphrase",
                                   "current_password": PASSWORD})
    r = c.get("/api/v1/me/security-log")
    eq(r.status, 200, f"security log ({r!r})")
    actions = [e["action"] for e in r.json()["entries"]]
    for want in ("security.register", "security.login", "security.login_failed",
                 "security.login_challenge", "session.revoked", "security.password_changed"):
        check(want in actions, f"{want} in the log: {actions}")
    failed = [e for e in r.json()["entries"] if e["action"] == "security.login_failed"][0]
    eq(failed["ip"], "127.0.0.1", "the address of the failed attempt")
    check("actor_id" not in failed, "a user's own view does not show actor ids")
    r = c.get("/api/v1/me/security-log?limit=2")
    eq(len(r.json()["entries"]), 2, "page size")
    nb = r.json()["next_before"]
    r2 = c.get(f"/api/v1/me/security-log?limit=2&before={nb}")
    check(all(e["id"] < nb for e in r2.json()["entries"]), "cursor")
    p = t.run_bin(["audit", "verify", "--database", t.database])
    eq(p.returncode, 0, f"the audit chain verifies ({p.stdout[-200:]} {p.stderr[-200:]})")


# ---------------------------------------------------------------- storage

def _database_text(t):
    """Everything the database holds, as bytes to search."""
    if t.backend == "sqlite":
        path = sqlite_path(t.database)
        out = b""
        for suffix in ("", "-wal"):
            if os.path.exists(path + suffix):
                with open(path + suffix, "rb") as f:
                    out += f.read()
        return out
    tables = [x for x in psql(t.database, "SELECT tablename FROM pg_tables WHERE "
                                          "schemaname = 'public'").split() if x]
    out = []
    for name in tables:
        out.append(psql(t.database, f'SELECT t::text FROM public."{name}" t'))
    return "\n".join(out).encode()


def test_no_phone_number_or_email_in_clear_in_the_database(t):
    fresh(t)
    c, phone = register(t)
    email = new_email()
    _add_email(t, c, email)
    attempt = request_code(t, "login", phone=phone)
    check(attempt, "a code row exists too")
    data = _database_text(t)
    forms = [phone, e164(phone), phone[3:], email, email.split("@")[0]]
    for f in forms:
        check(f.encode() not in data, f"{f!r} is stored in clear")
        if t.backend == "postgres":
            check(f.encode().hex() not in data.decode("latin-1"),
                  f"{f!r} is stored in clear inside a bytea")
    rows = t.sql(f"SELECT phone_enc, phone_bidx, email_enc FROM users WHERE id = {c.user['id']}")
    check(rows and rows[0][0] and rows[0][1] and rows[0][2], "sealed columns are filled")


def test_password_hashes_are_argon2id_19mib_2_passes(t):
    fresh(t)
    c, _ = register(t)
    rows = t.sql(f"SELECT password_hash FROM users WHERE id = {c.user['id']}")
    h = rows[0][0]
    check(h.startswith("$argon2id$v=19$m=19456,t=2,p=1$"), f"hash parameters: {h[:40]!r}")
    check(PASSWORD not in _database_text(t).decode("latin-1"), "no password in clear")


# ---------------------------------------------------------------- routes

def _routes(t):
    p = t.run_bin(["routes"])
    eq(p.returncode, 0, "entrepot routes")
    return json.loads(p.stdout)


def test_every_route_declares_a_policy(t):
    routes = _routes(t)
    unset = [(r["method"], r["path"]) for r in routes if r["policy"] in ("unset", "", None)]
    check(not unset, f"routes without a policy: {unset}")
    for r in routes:
        if r["path"].startswith("/api/v1/me") or r["path"].startswith("/api/v1/auth/logout"):
            eq(r["policy"], "user", f"{r['method']} {r['path']} is for signed-in users")
        if r["path"].startswith("/api/v1/staff/") and r["path"] != "/api/v1/staff/login":
            eq(r["policy"], "staff", f"{r['method']} {r['path']} is for staff")


# Id-taking routes that are NOT scoped to an owner: anyone (or any member)
# may use them on anyone's object, by design. Every other id-taking route is
# owner-, moderator- or staff-scoped and must refuse another user with 403
# or 404. A new id-taking route is owner-scoped until it is listed here with
# its reason: the test below tries it as another user and fails otherwise.
PUBLIC_OBJECT_ROUTES = {
    ("GET", "/api/v1/users/{id}"): "public profile: only what the user made public",
    ("GET", "/api/v1/users/{id}/avatar"): "shown only when the user made it public",
    ("POST", "/api/v1/users/{id}/follow"): "the caller's own follow of a member",
    ("DELETE", "/api/v1/users/{id}/follow"): "the caller's own follow of a member",
    ("GET", "/api/v1/boards/{slug}"): "boards are public",
    ("GET", "/api/v1/boards/{slug}/topics"): "boards are public",
    ("GET", "/api/v1/boards/{slug}/moderators"): "who moderates a board is public",
    ("POST", "/api/v1/boards/{slug}/topics"): "any member may post in a board",
    ("POST", "/api/v1/boards/{slug}/follow"): "the caller's own follow of a board",
    ("DELETE", "/api/v1/boards/{slug}/follow"): "the caller's own follow of a board",
    ("GET", "/api/v1/topics/{id}"): "topics are public",
    ("POST", "/api/v1/topics/{id}/posts"): "any member may reply",
    ("POST", "/api/v1/topics/{id}/favourite"): "the caller's own favourites",
    ("DELETE", "/api/v1/topics/{id}/favourite"): "the caller's own favourites",
    ("GET", "/api/v1/posts/{id}/revisions"): "a public post's edit history is public",
    ("GET", "/api/v1/posts/{id}/source"): "a public post's Markdown, for quoting",
    ("POST", "/api/v1/posts/{id}/reports"): "any member may report a post",
    ("POST", "/api/v1/posts/{id}/like"): "the caller's own like",
    ("DELETE", "/api/v1/posts/{id}/like"): "the caller's own like",
    ("GET", "/api/v1/policies/{id}"): "published policy texts are public",
    ("GET", "/api/v1/me/privacy/purposes/{purpose}"): "the caller's own switch; names a purpose",
    ("PUT", "/api/v1/me/privacy/purposes/{purpose}"): "the caller's own switch; names a purpose",
    ("PUT", "/api/v1/me/verification/photos/{side}"):
        "the caller's own verification; {side} is front or back",
}

# Problems that answer before the ownership check: a 403 of these kinds
# would make the test pass without testing anything.
HOLLOW_403 = ("urn:entrepot:problem:csrf", "urn:entrepot:problem:consent-required")

# Declared values the layer accepts but a handler may not ("lock, unlock,
# hide or..."): a choice list in a field's help gives its first choice.
CHOICE_HELP = re.compile(r"^([a-z_]+)(?:, | or | \()")


def _valid_value(f, owner_id):
    """A value of the declared field f that the layer's validation accepts."""
    if f["name"] == "user_id":
        return owner_id
    if f["name"] == "until":
        return int(time.time() * 1000) + 86400 * 1000
    if f["type"] == "integer":
        return max(f["min"], 1)
    if f["type"] == "boolean":
        return True
    if f["type"] == "object":
        return {}
    m = CHOICE_HELP.match(f.get("help") or "")
    text = m.group(1) if m else "idor check"
    text = (text + "x" * f["min"])[:max(f["min"], len(text))][:f["max"]]
    return [text] if f["type"] == "array" else text


def _valid_body(r, owner_id):
    if r["body"] is None:
        return None
    return {f["name"]: _valid_value(f, owner_id) for f in r["body"]
            if f["required"] or f["type"] != "array"}


def _valid_query(r, owner_id):
    q = {f["name"]: _valid_value(f, owner_id) for f in r["params"] if f["required"]}
    return "?" + urllib.parse.urlencode(q) if q else ""


def test_id_taking_routes_refuse_other_users(t):
    from test_community import new_board, reply, staff, topic  # noqa: circular at load time
    fresh(t)
    a, phone_a = register(t)
    other = Client(t, ua=UA_PHONE)
    login_with_code(t, other, phone_a)
    email_a = new_email()
    _add_email(t, a, email_a)
    s = staff(t)
    slug = new_board(t, s)["slug"]
    # What A owns, by kind: each kind must keep at least one id below.
    tp = topic(a, slug)
    mine = {
        "user": {a.user["id"]},
        "session": {x["id"] for x in a.get("/api/v1/me/sessions").json()["sessions"]},
        "device": {x["id"] for x in a.get("/api/v1/me/devices").json()["devices"]},
        "topic": {tp["topic"]["id"]},
        "post": {tp["first_post"]["id"], reply(a, tp["topic"]["id"])["id"]},
    }
    theirs = topic(s, slug)["first_post"]["id"]
    r = a.post(f"/api/v1/posts/{theirs}/reports", {"reason": "spam"})
    eq(r.status, 201, f"A's report ({r!r})")
    mine["report"] = {r.json()["id"]}
    eq(s.post(f"/api/v1/users/{a.user['id']}/follow").status, 204, "a follower: a notice to A")
    mine["notice"] = {n["id"] for n in a.get("/api/v1/me/inbox").json()["items"]}
    r = a.post("/api/v1/me/export")
    eq(r.status, 202, f"A's export ({r!r})")
    mine["export"] = {r.json()["export"]["id"]}
    b, _ = register(t, client=Client(t, ua=UA_PHONE))
    # Ids that are also B's own objects would test nothing (B may end its own session).
    bs = {b.user["id"]} | {x["id"] for x in b.get("/api/v1/me/sessions").json()["sessions"]} \
        | {x["id"] for x in b.get("/api/v1/me/devices").json()["devices"]}
    for kind in mine:
        mine[kind] -= bs
        check(mine[kind], f"A owns a {kind} whose id is not one of B's")
    values = {"id": sorted(set().union(*mine.values())), "slug": [slug], "lang": ["fr"],
              "side": ["front"]}

    routes = [r for r in _routes(t) if "{" in r["path"]]
    stale = set(PUBLIC_OBJECT_ROUTES) - {(r["method"], r["path"]) for r in routes}
    check(not stale, f"PUBLIC_OBJECT_ROUTES names routes that no longer exist: {stale}")
    owner_scoped = 0
    for r in routes:
        key = (r["method"], r["path"])
        check(not r["test_only"], f"{key}: test-only routes take no ids")
        if key in PUBLIC_OBJECT_ROUTES:
            if r["method"] != "GET":
                continue  # acting on a public object as oneself: nothing of A's to reach
            for obj in values["id"]:
                path = re.sub(r"\{id\}", str(obj), r["path"]).replace("{slug}", slug)
                if "{" in path:
                    continue  # named, not numbered: the caller's own record
                resp = b.get(path + _valid_query(r, a.user["id"]))
                check(resp.status in (200, 404), f"{key} {path}: {resp.status}")
                check(phone_a not in resp.text and email_a not in resp.text,
                      f"{path} leaks A's contact data")
            continue
        owner_scoped += 1
        names = re.findall(r"\{([^}]+)\}", r["path"])
        missing = [n for n in names if n not in values]
        check(not missing, f"{key}: no values for {missing}; owner-scoped, or list it in "
                           f"PUBLIC_OBJECT_ROUTES with its reason")
        combos = [{}]
        for n in names:
            combos = [dict(c, **{n: v}) for c in combos for v in values[n]]
        body = _valid_body(r, a.user["id"])
        for combo in combos:
            path = re.sub(r"\{([^}]+)\}", lambda m: str(combo[m.group(1)]), r["path"])
            resp = b.request(r["method"], path + _valid_query(r, a.user["id"]), body)
            check(resp.status in (403, 404),
                  f"{r['method']} {path} as another user answered {resp.status}: "
                  f"{resp.text[:200]} (owner-scoped; if it acts on a public object, list it "
                  f"in PUBLIC_OBJECT_ROUTES with its reason)")
            if resp.status == 403:
                check(resp.json().get("type") not in HOLLOW_403,
                      f"{r['method']} {path}: {resp.json().get('type')} answered first")
    check(owner_scoped >= 20, f"only {owner_scoped} owner-scoped id routes were tried")
    eq(b.get("/api/v1/me").status, 200, "B's own session survived the probe")
    eq(a.get("/api/v1/me").status, 200, "the owner's session survived")
    eq(other.get("/api/v1/me").status, 200, "the owner's other session survived")
    eq(len(a.get("/api/v1/me/devices").json()["devices"]), 2, "the owner's devices survived")
    r = Client(t).get(f"/api/v1/topics/{tp['topic']['id']}")
    eq(r.status, 200, "the owner's topic survived")
    check(r.json()["first_post"]["body_html"], "and was not edited away")
    eq(len(a.get("/api/v1/me/exports").json()["exports"]), 1, "the owner's export survived")


# ---------------------------------------------------------------- staff

def _create_admin(t, phone, password=PASSWORD, data_dir=None, database=None):
    p = t.run_bin(["user", "create-admin", "--phone", phone, "--password", password,
                   "--data-dir", data_dir or t.server.data_dir,
                   "--database", database or t.database])
    return p


def test_create_admin_and_staff_sign_in_with_totp(t):
    fresh(t)
    phone = new_phone()
    p = _create_admin(t, phone, password="password")
    check(p.returncode != 0 and "common" in p.stderr, f"common password refused: {p.stderr!r}")
    p = _create_admin(t, phone)
    eq(p.returncode, 0, f"create-admin ({p.stderr})")
    m = re.search(r"TOTP secret.*: ([A-Z2-7]{32})", p.stdout)
    check(m, f"secret printed: {p.stdout!r}")
    secret = m.group(1)
    check(re.search(r"otpauth://totp/entrepot:admin-\d+\?secret=" + secret, p.stdout),
          f"otpauth URI printed: {p.stdout!r}")
    check(phone not in p.stdout, "the number is not echoed")
    p = _create_admin(t, phone)
    check(p.returncode != 0, "the same number twice is refused")
    try:
        now = set_clock(t, 0)
        staff = Client(t)
        r = staff.post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                               "totp": "000000" if totp(secret, now) != "000000"
                                               else "111111"})
        p1 = assert_problem(r, 401, "unauthorized")
        r = Client(t).post("/api/v1/staff/login", {"login": new_phone(), "password": PASSWORD,
                                                   "totp": "123456"})
        eq(strip_volatile(p1), strip_volatile(assert_problem(r, 401)), "same failure for anyone")
        code = totp(secret, now)
        r = staff.post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                               "totp": code})
        eq(r.status, 200, f"staff sign-in ({r!r})")
        check(r.json()["session"]["staff"], "a staff session")
        s = staff.get("/api/v1/staff/session")
        eq(s.status, 200, f"staff route ({s!r})")
        eq(s.json()["roles"], ["administrator"], "roles")
        s = staff.get("/api/v1/auth/session").json()
        eq(s["user"]["staff_roles"], ["administrator"], "the session route names the roles")
        # The same code again is a replay.
        r = Client(t).post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                                   "totp": code})
        assert_problem(r, 401, "unauthorized")
        # The next step's code works.
        now = set_clock(t, 30000)
        r = Client(t).post("/api/v1/staff/login", {"login": phone, "password": PASSWORD,
                                                   "totp": totp(secret, now)})
        eq(r.status, 200, f"next step ({r!r})")
        # A password sign-in of the same person carries no staff roles.
        u = Client(t)
        login_with_code(t, u, phone)
        assert_problem(u.get("/api/v1/staff/session"), 403, "forbidden")
        # Ordinary users: 403; nobody: 401.
        v, _ = register(t)
        assert_problem(v.get("/api/v1/staff/session"), 403, "forbidden")
        assert_problem(Client(t).get("/api/v1/staff/session"), 401, "unauthorized")
    finally:
        set_clock(t, 0)


def test_no_default_accounts_exist(t):
    if t.backend == "sqlite":
        srv = t.start_server()
        db = srv.database
    else:
        name = "fresh_" + uuid.uuid4().hex[:10]
        psql(t.database, f"CREATE DATABASE {name}")
        db = t.database.rsplit("/", 1)[0] + "/" + name
        srv = t.start_server(database=db)
    check(srv.answers(), "fresh server")
    rows = t.sql("SELECT COUNT(*) FROM users", database=db)
    eq(int(rows[0][0]), 0, "a fresh installation has no account at all")
    r = srv.http().post_json("/api/v1/staff/login", {"login": "admin", "password": "admin",
                                                     "totp": "000000"})
    assert_problem(r, 401, "unauthorized")
    if t.backend == "postgres":
        srv.stop()
        srv.checked = True
        psql(t.database, f"DROP DATABASE {name} WITH (FORCE)")


def test_tls_uses_host_prefixed_secure_cookies(t):
    d = t.tmpdir("tls")
    cert, key = self_signed_cert(d)
    srv = t.start_server(extra_args=["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    h = srv.http()
    c = Client(t, http=h)
    phone = new_phone()
    attempt = request_code(t, "register", phone=phone, client=c)
    code = last_code(t, e164(phone), h)
    r = c.post("/api/v1/auth/register", {"phone": phone, "attempt": attempt, "code": code})
    eq(r.status, 201, f"register over TLS ({r!r})")
    ck = [x for x in r.headers.get_all("Set-Cookie") if x.startswith("__Host-entrepot_session=")]
    check(ck, f"__Host- cookie under TLS: {r.headers.get_all('Set-Cookie')!r}")
    attrs = [a.strip().lower() for a in ck[0].split(";")]
    for want in ("secure", "httponly", "path=/", "samesite=lax"):
        check(want in attrs, f"{want} in {ck[0]!r}")
    check(not any(a.startswith("domain") for a in attrs), "no Domain on a __Host- cookie")
    check(any(x.startswith("__Host-entrepot_device=") for x in r.headers.get_all("Set-Cookie")),
          "device cookie is __Host- too")
    eq(c.get("/api/v1/me").status, 200, "the cookie works")
    # A plain-HTTP cookie name is not read over TLS.
    tok = c.cookies["__Host-entrepot_session"]
    r = h.get("/api/v1/me", headers={"Cookie": f"entrepot_session={tok}"})
    eq(r.status, 401, "only the __Host- name counts under TLS")
