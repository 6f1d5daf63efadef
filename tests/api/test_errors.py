"""Problem responses (RFC 9457): 404, 405, 415, localisation, test-only routes."""
import re
import time

from harness import assert_problem, check, eq

ECHO = "/api/v1/test/echo"


def _allow(r):
    return {m.strip().upper() for m in (r.header("Allow") or "").split(",") if m.strip()}


def test_unknown_api_path_is_404_problem(t):
    for path in ["/api/v1/nope", "/api/v1/ping/extra", "/api/v2/ping", "/api/", "/api",
                 "/api/v1/test/nothing"]:
        r = t.http.get(path)
        p = assert_problem(r, 404, "not-found", path)
        check("<html" not in r.text.lower(), f"{path}: API 404 fell back to the SPA index")
        check("errors" not in p or p["errors"] == [], f"{path}: a 404 carries field errors: {p}")


def test_paths_with_invalid_utf8_or_odd_bytes(t):
    # Percent-decoding can yield bytes that are not UTF-8; the problem's
    # instance must still be valid JSON and the server must survive.
    for path in ["/api/v1/%ff", "/api/v1/%c0%ae%c0%ae", "/%ff%fe", "/api/v1/%00x",
                 "/api/v1/%e2%82", "/api/v1/ping%ff", "/api/v1/%22%5c%0a"]:
        raw = f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        resp = t.raw_request(raw, timeout=5)
        check(resp is not None, f"GET {path}: connection dropped without an answer")
        check(resp.status in (200, 400, 404), f"GET {path}: {resp!r}")
        if resp.content_type in ("application/problem+json", "application/json"):
            resp.json()  # must parse
        eq(t.http.get("/healthz").status, 200, f"server alive after GET {path}")


def test_unknown_api_path_post_is_404(t):
    r = t.http.post_json("/api/v1/nope", {"a": 1})
    assert_problem(r, 404, "not-found", "/api/v1/nope")


def test_problem_members_are_exactly_typed(t):
    r = t.http.get("/api/v1/zzz", headers={"X-Request-Id": "rid-problem-1"})
    p = assert_problem(r, 404, "not-found", "/api/v1/zzz")
    eq(p["request_id"], "rid-problem-1", "request_id")
    for k in ("type", "title", "detail", "instance", "request_id"):
        check(isinstance(p[k], str), f"{k} is not a string: {p!r}")
    check(isinstance(p["status"], int) and not isinstance(p["status"], bool), "status not an int")
    # Query strings are not part of instance, and must not be reflected raw.
    r = t.http.get("/api/v1/zzz?q=<script>")
    p = assert_problem(r, 404, "not-found")
    check("<script>" not in r.text, f"problem reflects the raw query string: {p!r}")


def test_method_not_allowed_lists_allow(t):
    cases = [
        ("POST", "/api/v1/ping", {"GET"}, {"POST"}),
        ("DELETE", "/api/v1/ping", {"GET"}, {"DELETE"}),
        ("PUT", "/healthz", {"GET"}, {"PUT"}),
        ("PATCH", "/metrics", {"GET"}, {"PATCH"}),
        ("GET", ECHO, {"POST"}, {"GET"}),
        ("DELETE", "/api/v1/test/clock", {"POST"}, {"DELETE"}),
    ]
    for method, path, must, must_not in cases:
        body = b"{}" if method in ("POST", "PUT", "PATCH") else None
        hdrs = {"Content-Type": "application/json"} if body else {}
        r = t.http.request(method, path, body=body, headers=hdrs)
        assert_problem(r, 405, "method-not-allowed", path)
        allow = _allow(r)
        check(must <= allow, f"{method} {path}: Allow {r.header('Allow')!r} lacks {must}")
        check(not (must_not & allow), f"{method} {path}: Allow {r.header('Allow')!r} "
                                      f"lists the refused method")


def test_unsupported_media_type(t):
    bad = [None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; b=x",
           "application/jsonx", "text/json", "application/xml"]
    for ct in bad:
        r = t.http.post_raw(ECHO, b'{"name":"a"}', content_type=ct)
        assert_problem(r, 415, "unsupported-media-type", ECHO)
    # Media type parameters and case are fine.
    for ct in ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"]:
        r = t.http.post_raw(ECHO, b'{"name":"a"}', content_type=ct)
        eq(r.status, 200, f"Content-Type {ct!r} ({r!r})")


def test_unsupported_media_type_on_clock(t):
    r = t.http.post_raw("/api/v1/test/clock", b'{"offset_ms":0}', content_type="text/plain")
    assert_problem(r, 415, "unsupported-media-type", "/api/v1/test/clock")


def _title(t, lang, path="/api/v1/nope"):
    h = {"Accept-Language": lang} if lang is not None else {}
    r = t.http.get(path, headers=h)
    p = assert_problem(r, 404, "not-found")
    return p["title"], p["detail"], r.header("Content-Language")


CJK = re.compile(r"[\u3400-\u9fff]")


def test_problem_titles_are_localised(t):
    en, en_detail, en_lang = _title(t, None)
    check(en_lang in (None, "en"), f"Content-Language without Accept-Language: {en_lang!r}")
    check(re.search(r"[A-Za-z]", en), f"English title {en!r}")
    fr, fr_detail, fr_lang = _title(t, "fr")
    check(fr != en, f"French title equals English ({fr!r})")
    eq(fr_lang, "fr", "Content-Language for Accept-Language: fr")
    for tag in ("zh-Hans", "zh-Hant"):
        title, _, lang = _title(t, tag)
        check(CJK.search(title), f"{tag} title {title!r} has no Chinese characters")
        eq(lang, tag, f"Content-Language for Accept-Language: {tag}")


def test_accept_language_negotiation(t):
    en, _, _ = _title(t, "en")
    fr, _, _ = _title(t, "fr")
    cases = [
        ("fr-CA", "fr"), ("de, fr;q=0.5", "fr"), ("de", "en"), ("*", "en"),
        ("en;q=0.1, fr;q=0.9", "fr"), ("zh-CN", "zh-Hans"), ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"), ("zh", "zh-Hans"), ("fr;q=0", "en"), ("xx-" + "a" * 300, "en"),
    ]
    for header, want in cases:
        title, _, lang = _title(t, header)
        eq(lang or "en", want, f"Content-Language for Accept-Language {header[:30]!r}")
        if want == "fr":
            eq(title, fr, f"title for {header!r}")
        if want == "en":
            eq(title, en, f"title for {header!r}")


def test_validation_problem_is_localised(t):
    r_en = t.http.post_json(ECHO, {"count": 1})
    r_fr = t.http.post_json(ECHO, {"count": 1}, headers={"Accept-Language": "fr"})
    p_en = assert_problem(r_en, 400, "invalid", ECHO)
    p_fr = assert_problem(r_fr, 400, "invalid", ECHO)
    check(p_en["title"] != p_fr["title"], f"400 title not localised: {p_en['title']!r}")
    eq(r_fr.header("Content-Language"), "fr", "Content-Language")
    # The stable parts do not change with the language.
    eq(p_fr["type"], p_en["type"], "type across languages")
    eq([(e["field"], e["code"], e["pointer"]) for e in p_fr["errors"]],
       [(e["field"], e["code"], e["pointer"]) for e in p_en["errors"]], "errors across languages")
    check([e["detail"] for e in p_fr["errors"]] != [e["detail"] for e in p_en["errors"]],
          "field error details are not localised")


def test_test_routes_absent_without_test_mode(t):
    srv = t.start_server(test_mode=False)
    h = srv.http()
    for path, body in [(ECHO, {"name": "a"}), ("/api/v1/test/clock", {"offset_ms": 0})]:
        r = h.post_json(path, body)
        assert_problem(r, 404, "not-found", path)
    eq(h.get("/api/v1/ping").status, 200, "ping without test mode")


def test_clock_route_moves_time(t):
    day = 86_400_000
    try:
        r = t.http.post_json("/api/v1/test/clock", {"offset_ms": day})
        eq(r.status, 200, f"clock status ({r!r})")
        now = r.json().get("now_ms")
        check(isinstance(now, int), f"now_ms not an integer: {r.json()!r}")
        real = int(time.time() * 1000)
        check(abs(now - (real + day)) < 10_000, f"now_ms {now} is not about a day ahead of {real}")
    finally:
        r = t.http.post_json("/api/v1/test/clock", {"offset_ms": 0})
    eq(r.status, 200, "clock reset")
    now = r.json().get("now_ms")
    check(abs(now - int(time.time() * 1000)) < 10_000,
          f"offset_ms 0 did not restore the real clock (now_ms {now}); is the offset absolute?")


def test_clock_route_validates(t):
    for body, code in [({}, "required"), ({"offset_ms": "1"}, "type"),
                       ({"offset_ms": 1.5}, "type"), ({"offset_ms": 0, "x": 1}, "unknown")]:
        r = t.http.post_json("/api/v1/test/clock", body)
        p = assert_problem(r, 400, "invalid", "/api/v1/test/clock")
        codes = [(e.get("field"), e.get("code")) for e in p.get("errors", [])]
        check(any(c == code for _, c in codes), f"{body}: expected code {code}, got {codes}")
