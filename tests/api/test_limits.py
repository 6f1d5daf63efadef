"""Limits and bad input at the protocol level: 413, 431, depth, slow clients,
per-IP connection cap. The server keeps serving others throughout, and
nothing rejected changes the database."""
import socket
import time

from harness import Closed, Raw, assert_field_error, assert_problem, check, eq

ECHO = "/api/v1/test/echo"
MIB = 1024 * 1024


def _post_head(length, extra=""):
    return (f"POST {ECHO} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n{extra}\r\n").encode()


def _ping_ok(t, port=None, what="ping", budget=1.5):
    port = port or t.port
    t0 = time.monotonic()
    r = Raw(port, timeout=5)
    try:
        r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = r.read_response(timeout=5)
    finally:
        r.close()
    dt = time.monotonic() - t0
    check(resp is not None and resp.status == 200, f"{what}: ping got {resp!r}")
    check(dt < budget, f"{what}: ping took {dt:.2f}s")


def _read_after_partial(raw, timeout=5):
    """The 413 must arrive although the body was never sent."""
    try:
        return raw.read_response(timeout=timeout)
    except (socket.timeout, TimeoutError):
        raise AssertionError(f"no response within {timeout}s while the body is withheld: "
                             f"the server is waiting for the body instead of refusing it")


def test_content_length_over_cap_413_before_body(t):
    before = t.db_counts()
    for length in (MIB + 1, 10 * 1024 * MIB, 2**62):
        raw = t.raw()
        raw.send(_post_head(length))
        resp = _read_after_partial(raw)
        check(resp is not None, f"Content-Length {length}: connection closed without a 413")
        p = assert_problem(resp, 413, "too-large", ECHO)
        check(p["detail"], "413 detail")
        raw.close()
    t.assert_storage_unchanged(before)
    _ping_ok(t, what="after 413s")


def test_expect_100_continue_over_cap_gets_413_not_100(t):
    raw = t.raw()
    raw.send(_post_head(50 * MIB, "Expect: 100-continue\r\n"))
    resp = _read_after_partial(raw)
    check(resp is not None, "connection closed without a response")
    check(resp.status != 100, "server invited a 50 MiB body (100 Continue) over a 1 MiB cap")
    assert_problem(resp, 413, "too-large", ECHO)


def test_body_at_cap_is_accepted(t):
    core = b'{"name":"cap","note":null}'
    body = core[:-1] + b" " * (MIB - len(core)) + b"}"
    eq(len(body), MIB, "body length")
    r = t.http.post_raw(ECHO, body, timeout=20)
    eq(r.status, 200, f"a body of exactly max_body_bytes ({r!r})")
    eq(r.json().get("name"), "cap", "echoed name")
    # One byte more: refused. Streamed carefully: the server may answer and
    # close before reading it all.
    raw = t.raw(timeout=20)
    raw.send(_post_head(MIB + 1))
    _send_until_answer(raw, body + b" ")
    resp = raw.read_response(timeout=10)
    check(resp is not None, "max_body_bytes + 1: closed without a 413")
    assert_problem(resp, 413, "too-large", ECHO)


def _send_until_answer(raw, data, step=65536):
    """Sends data piecewise, stopping early when the server answers."""
    for i in range(0, len(data), step):
        if raw.readable(0):
            return i
        try:
            raw.send(data[i:i + step])
        except Closed:
            return i
    return len(data)


def _send_chunked_until_answer(raw, chunk, limit_bytes):
    """Streams chunks until the server answers or limit_bytes were sent.
    Returns the bytes sent."""
    sent = 0
    payload = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    while sent < limit_bytes:
        if raw.readable(0):
            break
        try:
            raw.send(payload)
        except Closed:
            break
        sent += len(chunk)
    return sent


def test_chunked_body_over_cap_413(t):
    # libmicrohttpd 0.9.75 cannot answer before a request body ends, so a
    # streamed body over the cap is read and dropped up to a bound (4x the
    # cap, see src/http/server.c DRAIN_FACTOR) and answered 413 when it ends.
    before = t.db_counts()
    raw = t.raw()
    raw.send(f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n")
    raw.send(b'6\r\n{"a":"\r\n')
    sent = _send_chunked_until_answer(raw, b"x" * 16384, MIB + MIB // 2)
    raw.send(b"0\r\n\r\n")
    try:
        resp = raw.read_response(timeout=5)
    except (socket.timeout, TimeoutError):
        raise AssertionError(f"no answer after {sent} chunked bytes (cap 1 MiB)")
    check(resp is not None, f"connection closed without a 413 after {sent} chunked bytes")
    assert_problem(resp, 413, "too-large", ECHO)
    t.assert_storage_unchanged(before)
    _ping_ok(t, what="after chunked 413")


def test_endless_chunked_body_is_cut(t):
    # A body that never ends costs the server a bounded number of bytes.
    before = t.db_counts()
    raw = t.raw()
    raw.send(f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             "Transfer-Encoding: chunked\r\n\r\n")
    sent = _send_chunked_until_answer(raw, b"x" * 16384, 16 * MIB)
    check(sent < 8 * MIB, f"server kept reading an endless body: {sent} bytes accepted")
    raw.close()
    t.assert_storage_unchanged(before)
    _ping_ok(t, what="after an endless chunked body")


def test_max_body_bytes_flag(t):
    cap = 2048
    srv = t.start_server(["--max-body-bytes", str(cap)])
    h = srv.http()
    ok = b'{"name":"' + b"a" * 20 + b'"}'
    ok = ok[:-1] + b" " * (cap - len(ok)) + b"}"
    eq(len(ok), cap, "body length")
    r = h.post_raw(ECHO, ok)
    eq(r.status, 200, f"{cap}-byte body with --max-body-bytes {cap} ({r!r})")
    r = h.post_raw(ECHO, ok + b" ")
    assert_problem(r, 413, "too-large", ECHO)
    # Chunked, in small chunks, over the small cap.
    raw = Raw(srv.port)
    try:
        raw.send(f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n")
        _send_chunked_until_answer(raw, b" " * 400, 2 * cap)
        raw.send(b"0\r\n\r\n")
        resp = raw.read_response(timeout=5)
        check(resp is not None, "chunked over --max-body-bytes: closed without a 413")
        assert_problem(resp, 413, "too-large", ECHO)
    finally:
        raw.close()
    # Chunked within the cap works.
    raw = Raw(srv.port)
    try:
        raw.send(f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                 "5\r\n{\"nam\r\n9\r\ne\":\"abc\"}\r\n0\r\n\r\n")
        resp = raw.read_response(timeout=5)
        check(resp is not None and resp.status == 200, f"small chunked body: {resp!r}")
        eq(resp.json().get("name"), "abc", "chunked echo")
    finally:
        raw.close()


def test_header_section_over_16k_is_431(t):
    # One huge header line.
    resp = t.raw_request("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * (20 * 1024)
                         + "\r\n\r\n")
    check(resp is not None, "one 20 KiB header: connection closed without a response")
    eq(resp.status, 431, f"one 20 KiB header ({resp!r})")
    # Many ordinary headers adding up to more than 16 KiB.
    many = "".join(f"X-H{i}: {'b' * 500}\r\n" for i in range(40))
    resp = t.raw_request("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n" + many + "\r\n")
    check(resp is not None, "40 x 500 B headers: connection closed without a response")
    eq(resp.status, 431, f"40 x 500 B headers ({resp!r})")
    _ping_ok(t, what="after 431s")


def test_header_section_under_cap_is_served(t):
    # A large but legitimate header section (big cookies) still works.
    cookie = "; ".join(f"c{i}={'v' * 180}" for i in range(40))  # ~7.5 KiB
    resp = t.raw_request("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nCookie: " + cookie
                         + "\r\nX-Pad: " + "p" * 3000 + "\r\nConnection: close\r\n\r\n")
    check(resp is not None and resp.status == 200, f"~11 KiB of headers: {resp!r}")


def test_url_over_cap_is_refused(t):
    resp = t.raw_request("GET /api/v1/ping?q=" + "a" * 6000 + " HTTP/1.1\r\nHost: x\r\n\r\n")
    check(resp is not None, "6 KB URL: connection closed without a response")
    check(resp.status in (400, 414, 431), f"6 KB URL (cap 4096) answered {resp!r}")
    _ping_ok(t, what="after long URL")


def _nest(depth, leaf="1"):
    return "[" * depth + leaf + "]" * depth


def test_json_depth_cap(t):
    before = t.db_counts()
    # The object itself is one level; 40 more is well over 32.
    for body in ['{"name":"a","tags":' + _nest(40) + "}",
                 '{"name":"a","x":' + _nest(40) + "}",
                 '{"name":"a","note":' + '{"a":' * 40 + "1" + "}" * 40 + "}",
                 _nest(100000)]:
        r = t.http.post_raw(ECHO, body)
        assert_field_error(r, None, "depth")
    # Depth 33 is refused for depth, not for anything else.
    r = t.http.post_raw(ECHO, '{"name":"a","tags":' + _nest(32) + "}")
    assert_field_error(r, None, "depth")
    # Depth 31 parses; the error is then about the field's type.
    r = t.http.post_raw(ECHO, '{"name":"a","tags":' + _nest(30) + "}")
    e = assert_field_error(r, "tags", "type")
    check(e["code"] != "depth", "depth 31 refused as too deep")
    t.assert_storage_unchanged(before)
    _ping_ok(t, what="after deep JSON")


def test_garbage_and_protocol_abuse(t):
    before = t.db_counts()
    cases = [
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET /api/v1/ping HTTP/9.9\r\nHost: x\r\n\r\n",
        b"GET /api/v1/\x00ping HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64 + b"\r\n\r\n",  # TLS-ish
        _post_head(5).replace(b"\r\n\r\n", b"\r\nContent-Length: 7\r\n\r\n") + b"{}{}{}{",
        _post_head(10).replace(b"\r\n\r\n", b"\r\nTransfer-Encoding: chunked\r\n\r\n")
        + b"0\r\n\r\n",
        (f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n").encode(),
        (f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: -1\r\n\r\n").encode(),
        (f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         "Content-Length: 1x\r\n\r\n{").encode(),
    ]
    for data in cases:
        try:
            resp = t.raw_request(data, timeout=5)
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no answer or close within 5 s for {data[:60]!r}")
        if resp is not None:
            check(400 <= resp.status < 500 or resp.status == 505,
                  f"{data[:60]!r} answered {resp!r}")
    t.assert_storage_unchanged(before)
    _ping_ok(t, what="after protocol abuse")


def _timeout_flag(t):
    # The contract says --connection-timeout; the config table may spell it
    # --connection-timeout-s. Use whichever `serve --help` documents.
    p = t.run_bin(["serve", "--help"])
    return "--connection-timeout-s" if "--connection-timeout-s" in p.stdout else "--connection-timeout"


def test_slow_clients_are_cut_while_others_are_served(t):
    srv = t.start_server([_timeout_flag(t), "2"])
    idle = Raw(srv.port, timeout=10)
    idle.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n")  # and then nothing
    trickle = []
    for _ in range(3):
        r = Raw(srv.port, timeout=10)
        r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n")
        trickle.append(r)
    t0 = time.monotonic()
    closed_at = {}
    i = 0
    try:
        while time.monotonic() - t0 < 8.0 and len(closed_at) < 1 + len(trickle):
            i += 1
            for n, r in enumerate(trickle):
                if n in closed_at:
                    continue
                try:
                    if r.readable(0) and r.wait_closed(0.05):
                        closed_at[n] = time.monotonic() - t0
                        continue
                    r.send(f"X-Slow-{i}: {i}\r\n")  # one header line every 0.4 s
                except Closed:
                    closed_at[n] = time.monotonic() - t0
            if "idle" not in closed_at and idle.readable(0) and idle.wait_closed(0.05):
                closed_at["idle"] = time.monotonic() - t0
            _ping_ok(t, port=srv.port, what=f"normal client at {time.monotonic() - t0:.1f}s")
            time.sleep(0.4)
    finally:
        idle.close()
        for r in trickle:
            r.close()
    check("idle" in closed_at, "a client that stopped mid-headers was not cut within 8 s "
                               "(connection timeout 2 s)")
    check(closed_at["idle"] >= 1.0, f"idle client cut too early ({closed_at['idle']:.1f}s)")
    missing = [n for n in range(len(trickle)) if n not in closed_at]
    check(not missing, f"{len(missing)} client(s) trickling one header line every 0.4 s were "
                       f"never cut within 8 s (connection timeout 2 s): the timeout only "
                       f"counts idleness, not the time to receive the headers")
    _ping_ok(t, port=srv.port, what="after the slow clients were cut")


def test_per_ip_connection_cap(t):
    srv = t.start_server(["--max-connections-per-ip", "8"])
    time.sleep(0.2)  # let the start-up health checks' connections be closed
    held = []
    try:
        for i in range(8):
            r = Raw(srv.port, timeout=5)
            held.append(r)
            r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = r.read_response(timeout=5)
            check(resp is not None and resp.status == 200, f"connection {i + 1} of 8: {resp!r}")
        for i in (9, 10):
            try:
                r = Raw(srv.port, timeout=3)
            except OSError:
                continue  # refused outright: fine
            held.append(r)
            try:
                r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
                resp = r.read_response(timeout=3)
            except Closed:
                resp = None
            except (socket.timeout, TimeoutError):
                raise AssertionError(f"connection {i} over the cap was left hanging, "
                                     f"neither served nor closed")
            check(resp is None or resp.status in (429, 503),
                  f"connection {i} beyond --max-connections-per-ip 8 was served: {resp!r}")
        # The held connections still work.
        held[0].send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        resp = held[0].read_response(timeout=5)
        check(resp is not None and resp.status == 200, f"held connection after refusals: {resp!r}")
    finally:
        for r in held:
            r.close()
    deadline = time.monotonic() + 4
    while True:
        try:
            _ping_ok(t, port=srv.port, what="after the others closed")
            break
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
