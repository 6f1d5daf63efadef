"""Every declared field rule, exercised on the test-only echo route:
name (string, required, 1..64 code points), count (integer 0..1000),
active (boolean), tags (<= 5 strings of 1..32 code points), note (string or
null, <= 200). Rejections are 400 problem+json naming the field and change
nothing in storage."""
from harness import assert_field_error, assert_problem, check, eq, field_errors

ECHO = "/api/v1/test/echo"


def _ok(t, body, what=None):
    r = t.http.post_json(ECHO, body)
    eq(r.status, 200, f"{what or body!r} ({r!r})")
    got = r.json()
    for k, v in body.items():
        eq(got.get(k), v, f"echoed {k}")
    return got


def _bad(t, body, field, codes):
    r = t.http.post_json(ECHO, body)
    return assert_field_error(r, field, codes)


def _bad_raw(t, raw, field, codes):
    r = t.http.post_raw(ECHO, raw)
    return assert_field_error(r, field, codes)


def test_echo_happy_path_all_fields(t):
    body = {"name": "Zoë 猫", "count": 7, "active": True, "tags": ["a", "b c", "日本"],
            "note": "hello\nworld"}
    got = _ok(t, body)
    eq(got.get("client_ip"), "127.0.0.1", "client_ip")
    extra = set(got) - set(body) - {"client_ip", "lang"}
    check(not extra, f"echo returned undeclared members {extra}")


def test_echo_minimal(t):
    got = _ok(t, {"name": "x"})
    eq(got.get("client_ip"), "127.0.0.1", "client_ip")
    # Absent optional fields are not invented with non-default values.
    check(got.get("count") in (None, 0), f"count invented: {got!r}")
    check(got.get("active") in (None, False), f"active invented: {got!r}")
    check(got.get("tags") in (None, []), f"tags invented: {got!r}")


def test_name_required(t):
    e = _bad(t, {}, "name", "required")
    eq(e["pointer"], "#/name", "pointer")
    eq(e["field"], "name", "field")
    _bad(t, {"count": 1}, "name", "required")


def test_name_length_counts_code_points(t):
    _bad(t, {"name": ""}, "name", "too_short")
    for ch in ("a", "é", "猫", "😀"):  # 1, 2, 3 and 4 bytes in UTF-8
        _ok(t, {"name": ch * 64}, f"64 x {ch!r}")
        e = _bad(t, {"name": ch * 65}, "name", "too_long")
        eq(e["pointer"], "#/name", "pointer")


def test_name_wrong_types(t):
    for v in (123, 1.5, True, [], ["a"], {}, {"a": "b"}):
        e = _bad(t, {"name": v}, "name", "type")
        eq(e["pointer"], "#/name", f"pointer for {v!r}")
    _bad(t, {"name": None}, "name", ("type", "required"))


def test_count_range_and_type(t):
    for v in (0, 1, 999, 1000):
        _ok(t, {"name": "a", "count": v})
    for v in (-1, 1001, -1000000, 2**31, 2**53):
        _bad(t, {"name": "a", "count": v}, "count", "range")
    for v in ("5", 1.5, 0.5, True, False, [], {}, None):
        _bad(t, {"name": "a", "count": v}, "count", "type")
    # Beyond 64 bits: refused cleanly whatever the parser makes of it.
    _bad_raw(t, b'{"name":"a","count":100000000000000000000000000000}', None,
             ("range", "type", "json"))


def test_active_boolean(t):
    _ok(t, {"name": "a", "active": True})
    _ok(t, {"name": "a", "active": False})
    for v in ("true", 1, 0, "yes", [], {}, None):
        _bad(t, {"name": "a", "active": v}, "active", "type")


def test_tags_rules(t):
    _ok(t, {"name": "a", "tags": []})
    _ok(t, {"name": "a", "tags": ["1", "2", "3", "4", "5"]})
    _ok(t, {"name": "a", "tags": ["x" * 32, "猫" * 32]})
    _bad(t, {"name": "a", "tags": ["1", "2", "3", "4", "5", "6"]}, "tags", "too_many")
    e = _bad(t, {"name": "a", "tags": ["ok", ""]}, "tags", "too_short")
    check(e["pointer"].startswith("#/tags"), f"pointer {e['pointer']!r}")
    e = _bad(t, {"name": "a", "tags": ["ok", "x" * 33]}, "tags", "too_long")
    check(e["pointer"].startswith("#/tags"), f"pointer {e['pointer']!r}")
    for v in ("a", 1, {}, True):
        _bad(t, {"name": "a", "tags": v}, "tags", "type")
    for item in (1, None, True, ["nested"], {"a": 1}):
        e = _bad(t, {"name": "a", "tags": ["ok", item]}, "tags", "type")
        check(e["pointer"].startswith("#/tags"), f"pointer {e['pointer']!r}")


def test_note_string_or_null(t):
    got = _ok(t, {"name": "a", "note": None})
    check("note" in got and got["note"] is None, f"note null not echoed as null: {got!r}")
    _ok(t, {"name": "a", "note": ""})
    _ok(t, {"name": "a", "note": "é" * 200})
    _bad(t, {"name": "a", "note": "é" * 201}, "note", "too_long")
    for v in (5, True, [], {}):
        _bad(t, {"name": "a", "note": v}, "note", "type")


def test_unknown_field_named(t):
    e = _bad(t, {"name": "a", "nmae": "typo"}, "nmae", "unknown")
    eq(e["pointer"], "#/nmae", "pointer")
    e = _bad(t, {"name": "a", "client_ip": "6.6.6.6"}, "client_ip", "unknown")
    # JSON pointer escaping of odd names (RFC 6901: ~ -> ~0, / -> ~1).
    r = t.http.post_json(ECHO, {"name": "a", "a/b~c": 1})
    p = assert_problem(r, 400, "invalid", ECHO)
    errs = field_errors(p)
    check(any(x["code"] == "unknown" and x["pointer"] == "#/a~1b~0c" for x in errs),
          f"unknown field 'a/b~c' pointer not escaped per RFC 6901: {errs}")


def test_duplicate_key(t):
    e = _bad_raw(t, b'{"name":"a","name":"b"}', "name", "duplicate")
    check(e["pointer"] == "#/name", f"pointer {e['pointer']!r}")
    _bad_raw(t, b'{"name":"a","count":1,"count":1}', "count", "duplicate")


def test_malformed_json(t):
    for raw in [b"", b"{", b'{"name":', b'{name:"a"}', b"{'name':'a'}", b'{"name":"a",}',
                b'{"name":"a"} x', b'{"name":"a"}{}', b'{"name":NaN}', b'{"count":01,"name":"a"}',
                b'{"name":"a\x01"}', b"nul", b'{"name":"\\x41"}',
                b"/* c */ {}", b'{"name":"a"'  # unterminated
                ]:
        r = t.http.post_raw(ECHO, raw)
        p = assert_problem(r, 400, "invalid", ECHO)
        codes = [e["code"] for e in field_errors(p)]
        check("json" in codes, f"{raw!r}: expected code json, got {codes}")


def test_body_must_be_an_object(t):
    for raw in [b"[]", b'"name"', b"1", b"null", b"true", b'[{"name":"a"}]']:
        r = t.http.post_raw(ECHO, raw)
        p = assert_problem(r, 400, "invalid", ECHO)
        codes = [e["code"] for e in field_errors(p)]
        check(set(codes) & {"type", "json"}, f"{raw!r}: expected type or json, got {codes}")


def test_invalid_utf8_in_strings(t):
    cases = [
        b'{"name":"\xff"}',                 # never valid
        b'{"name":"a\xc3"}',                # truncated sequence
        b'{"name":"\xc0\xaf"}',             # overlong '/'
        b'{"name":"\xe0\x80\xaf"}',         # overlong 3-byte
        b'{"name":"\xed\xa0\x80"}',         # UTF-16 surrogate encoded in UTF-8
        b'{"name":"\xf4\x90\x80\x80"}',     # above U+10FFFF
        b'{"name":"\\ud800"}',              # lone high surrogate escape
        b'{"name":"\\udc00x"}',             # lone low surrogate escape
        b'{"name":"a\\u0000b"}',            # NUL
        b'{"name":"ok","tags":["\xff"]}',   # inside an array element
        b'{"na\xffme":"a"}',                # inside a key
    ]
    for raw in cases:
        r = t.http.post_raw(ECHO, raw)
        p = assert_problem(r, 400, "invalid", ECHO)
        codes = [e["code"] for e in field_errors(p)]
        check(set(codes) & {"utf8", "json"}, f"{raw!r}: expected utf8 or json, got {codes}")
    # Valid escapes and a surrogate pair are fine and decoded.
    r = t.http.post_raw(ECHO, b'{"name":"\\u00e9\\ud83d\\ude00\\"\\\\\\/"}')
    eq(r.status, 200, f"valid escapes ({r!r})")
    eq(r.json().get("name"), "é😀\"\\/", "decoded name")


def test_pointer_for_utf8_error_names_the_field(t):
    r = t.http.post_raw(ECHO, b'{"name":"ok","note":"bad \xff here"}')
    e = assert_field_error(r, None, ("utf8", "json"))
    if e["code"] == "utf8":
        check(e["pointer"] == "#/note" or e["field"] == "note",
              f"utf8 error does not point at note: {e}")


def test_several_errors_reported(t):
    r = t.http.post_json(ECHO, {"count": "x", "active": 1})
    p = assert_problem(r, 400, "invalid", ECHO)
    errs = field_errors(p)
    fields = {e["field"] for e in errs}
    check(fields <= {"name", "count", "active"}, f"errors name other fields: {errs}")
    check(fields, "no field named")


def test_rejections_change_nothing(t):
    before = t.db_counts()
    bodies = [b"{", b'{"name":""}', b'{"name":"a","x":1}', b'{"name":"a","name":"b"}',
              b'{"name":"\xff"}', b"[" * 64 + b"]" * 64, b'{"name":"a","count":-5}',
              b"{\"name\":\"'; DROP TABLE instance; --\",\"x\":1}",
              b'{"name":"<script>alert(1)</script>","count":"1"}']
    for raw in bodies:
        r = t.http.post_raw(ECHO, raw)
        eq(r.status, 400, f"{raw[:40]!r}")
    for ct in (None, "text/plain"):
        eq(t.http.post_raw(ECHO, b'{"name":"a"}', content_type=ct).status, 415, "415")
    t.assert_storage_unchanged(before)
    # And an accepted echo stores nothing either (it is a pure echo).
    _ok(t, {"name": "'; DELETE FROM instance; --"})
    t.assert_storage_unchanged(before, "an echo")
