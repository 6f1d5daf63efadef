"""Built-in TLS (HSTS only under TLS) and the client address behind trusted
reverse proxies."""
import socket
import ssl

from harness import Raw, check, eq, free_port, self_signed_cert

ECHO = "/api/v1/test/echo"


def test_tls_serves_with_hsts(t):
    cert, key = self_signed_cert(t.tmpdir("tls"))
    srv = t.start_server(["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    h = srv.http()
    for path in ("/healthz", "/api/v1/ping", "/api/v1/nope", "/"):
        r = h.get(path)
        check(r.status in (200, 404), f"GET {path} over TLS: {r!r}")
        hsts = r.header("Strict-Transport-Security") or ""
        check("max-age=" in hsts, f"GET {path} over TLS: no HSTS ({hsts!r})")
        age = int(hsts.split("max-age=")[1].split(";")[0].strip())
        check(age >= 15552000, f"HSTS max-age {age} shorter than 180 days")
        eq(r.header("X-Content-Type-Options"), "nosniff", f"{path}: nosniff")
        csp = r.header("Content-Security-Policy") or ""
        check(("default-src 'self'" in csp or "default-src 'none'" in csp)
              and "frame-ancestors 'none'" in csp, f"{path}: CSP {csp!r}")
        check(r.header("Referrer-Policy"), f"{path}: Referrer-Policy")
        check(r.header("X-Request-Id"), f"{path}: X-Request-Id")
    r = h.post_json(ECHO, {"name": "tls"})
    eq(r.status, 200, f"echo over TLS ({r!r})")
    eq(r.json().get("name"), "tls", "echo over TLS")


def test_tls_refuses_old_protocols(t):
    cert, key = self_signed_cert(t.tmpdir("tls"))
    srv = t.start_server(["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cert)
    try:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        ctx = None
    if ctx is not None:
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
                with ctx.wrap_socket(s, server_hostname="127.0.0.1"):
                    raise AssertionError("TLS 1.0/1.1 handshake accepted")
        except OSError:  # ssl.SSLError, reset: refused as it should be
            pass


def test_tls_port_refuses_plain_http(t):
    cert, key = self_signed_cert(t.tmpdir("tls"))
    srv = t.start_server(["--tls-cert", cert, "--tls-key", key], tls_ca=cert)
    r = Raw(srv.port, timeout=5)
    try:
        r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            resp = r.read_response(timeout=5)
        except (socket.timeout, TimeoutError):
            resp = None
        check(resp is None or resp.status != 200, f"plain HTTP on the TLS port served: {resp!r}")
    finally:
        r.close()
    eq(srv.http().get("/healthz").status, 200, "TLS still works after a plain-HTTP client")


def test_tls_requires_both_files(t):
    cert, key = self_signed_cert(t.tmpdir("tls"))
    d = t.tmpdir("data")
    for args, what in [(["--tls-cert", cert], "cert without key"),
                       (["--tls-key", key], "key without cert"),
                       (["--tls-cert", cert, "--tls-key", cert + ".missing"], "missing key file")]:
        p = t.run_bin(["serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", d, "--database",
                       f"sqlite:{d}/x.db"] + args, timeout=15)
        check(p.returncode != 0, f"serve with {what} started (exit {p.returncode})")
        out = (p.stdout + p.stderr).lower()
        check("tls" in out, f"serve with {what}: the message does not mention tls: {out[-300:]!r}")


def test_forwarded_for_ignored_without_trusted_proxies(t):
    for xff in ("203.0.113.7", "203.0.113.7, 198.51.100.2"):
        r = t.http.post_json(ECHO, {"name": "a"}, headers={"X-Forwarded-For": xff})
        eq(r.status, 200, "echo")
        eq(r.json().get("client_ip"), "127.0.0.1", f"client_ip with untrusted X-Forwarded-For {xff!r}")


def test_trusted_proxy_client_ip(t):
    srv = t.start_server(["--trusted-proxies", "127.0.0.1"])
    h = srv.http()
    cases = [
        (None, "127.0.0.1"),
        ("203.0.113.7", "203.0.113.7"),
        ("198.51.100.1, 203.0.113.7", "203.0.113.7"),      # rightmost untrusted wins
        ("203.0.113.7, 127.0.0.1", "203.0.113.7"),         # trusted hops are skipped
        ("6.6.6.6, 203.0.113.7 , 127.0.0.1", "203.0.113.7"),
        ("2001:db8::1", "2001:db8::1"),
        ("not-an-ip", "127.0.0.1"),                        # garbage is not an address
        ("", "127.0.0.1"),
    ]
    for xff, want in cases:
        hdrs = {} if xff is None else {"X-Forwarded-For": xff}
        r = h.post_json(ECHO, {"name": "a"}, headers=hdrs)
        eq(r.status, 200, f"echo with X-Forwarded-For {xff!r}")
        eq(r.json().get("client_ip"), want, f"client_ip with X-Forwarded-For {xff!r}")
    # Several header lines form one list (RFC 9110 5.3).
    r = Raw(srv.port)
    try:
        body = b'{"name":"a"}'
        r.send(f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"X-Forwarded-For: 198.51.100.9\r\nX-Forwarded-For: 203.0.113.8\r\n"
               f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
        resp = r.read_response()
        check(resp is not None and resp.status == 200, f"two XFF lines: {resp!r}")
        check(resp.json().get("client_ip") in ("203.0.113.8",),
              f"two X-Forwarded-For lines: client_ip {resp.json().get('client_ip')!r}, "
              f"expected the rightmost 203.0.113.8")
    finally:
        r.close()


def test_trusted_proxy_cidr(t):
    srv = t.start_server(["--trusted-proxies", "10.0.0.0/8,127.0.0.0/8"])
    r = srv.http().post_json(ECHO, {"name": "a"},
                             headers={"X-Forwarded-For": "203.0.113.5, 10.1.2.3"})
    eq(r.status, 200, "echo")
    eq(r.json().get("client_ip"), "203.0.113.5", "client_ip through two trusted CIDR hops")


def test_trusted_proxies_rejects_garbage(t):
    d = t.tmpdir("data")
    p = t.run_bin(["serve", "--listen", f"127.0.0.1:{free_port()}", "--data-dir", d, "--database",
                   f"sqlite:{d}/x.db", "--trusted-proxies", "banana"], timeout=15)
    check(p.returncode != 0, f"serve with --trusted-proxies banana started (exit {p.returncode})")
    check("trusted" in (p.stdout + p.stderr).lower(),
          f"message does not name trusted_proxies: {(p.stdout + p.stderr)[-300:]!r}")
