"""Health, readiness, ping, security headers, request ids, metrics."""
import re
import time
import uuid

from harness import Raw, Skip, assert_problem, check, eq, psql

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")


def _assert_security_headers(r, what):
    eq(r.header("X-Content-Type-Options"), "nosniff", f"{what}: X-Content-Type-Options")
    csp = r.header("Content-Security-Policy") or ""
    # The app shell needs 'self'; anything else may be stricter ('none').
    if r.content_type == "text/html":
        check("default-src 'self'" in csp, f"{what}: CSP lacks default-src 'self': {csp!r}")
    else:
        check("default-src 'self'" in csp or "default-src 'none'" in csp,
              f"{what}: CSP lacks default-src 'self' (or stricter 'none'): {csp!r}")
    check("frame-ancestors 'none'" in csp, f"{what}: CSP lacks frame-ancestors 'none': {csp!r}")
    check(r.header("Referrer-Policy"), f"{what}: no Referrer-Policy")
    rid = r.header("X-Request-Id")
    check(rid and REQUEST_ID_RE.match(rid), f"{what}: bad or missing X-Request-Id {rid!r}")
    check(r.header("Strict-Transport-Security") is None,
          f"{what}: plain HTTP must not send HSTS, got {r.header('Strict-Transport-Security')!r}")


def test_healthz(t):
    r = t.http.get("/healthz")
    eq(r.status, 200, "status")
    eq(r.content_type, "application/json", "content type")
    eq(r.json(), {"status": "ok"}, "body")


def test_readyz(t):
    r = t.http.get("/readyz")
    eq(r.status, 200, f"status ({r!r})")
    eq(r.content_type, "application/json", "content type")
    eq(r.json(), {"status": "ready"}, "body")


def test_readyz_reports_a_database_outage_and_recovers(t):
    if t.backend != "postgres":
        raise Skip("needs a database that can be taken away (postgres)")
    name = "ready_" + uuid.uuid4().hex[:10]
    url = t.database.rsplit("/", 1)[0] + "/" + name
    psql(t.database, f"CREATE DATABASE {name}")
    srv = t.start_server(database=url)
    h = srv.http()
    eq(h.get("/readyz").status, 200, "readyz with the database up")
    psql(t.database, f"DROP DATABASE {name} WITH (FORCE)")
    t0 = time.monotonic()
    r = h.get("/readyz", timeout=10)
    dt = time.monotonic() - t0
    assert_problem(r, 503, "unavailable", "/readyz")
    check(dt < 4, f"readyz took {dt:.1f}s to report the outage")
    eq(h.get("/healthz").status, 200, "healthz during the outage (liveness is not readiness)")
    eq(h.get("/api/v1/ping").status, 200, "ping during the outage")
    psql(t.database, f"CREATE DATABASE {name}")
    deadline = time.monotonic() + 8
    while True:
        r = h.get("/readyz", timeout=10)
        if r.status == 200:
            break
        check(time.monotonic() < deadline, f"readyz did not recover after the database came "
                                           f"back: {r!r}")
        time.sleep(0.2)


def test_ping(t):
    r = t.http.get("/api/v1/ping")
    eq(r.status, 200, "status")
    eq(r.content_type, "application/json", "content type")
    eq(r.json(), {"status": "ok", "service": "entrepot"}, "body")


def test_keep_alive_serves_several_requests_on_one_connection(t):
    c = t.http.keep()
    try:
        for i in range(5):
            r = t.http.get("/api/v1/ping", conn=c)
            eq(r.status, 200, f"request {i} on the persistent connection")
    finally:
        c.close()


def test_security_headers_on_every_kind_of_response(t):
    cases = [
        ("GET", "/healthz", None, {}),
        ("GET", "/readyz", None, {}),
        ("GET", "/metrics", None, {}),
        ("GET", "/api/v1/ping", None, {}),
        ("GET", "/api/v1/does-not-exist", None, {}),  # 404 problem
        ("DELETE", "/api/v1/ping", None, {}),  # 405 problem
        ("POST", "/api/v1/test/echo", b"{}", {"Content-Type": "text/plain"}),  # 415
        ("POST", "/api/v1/test/echo", b"{", {"Content-Type": "application/json"}),  # 400
        ("GET", "/", None, {}),  # static index
        ("GET", "/assets/app-abc123.js", None, {}),  # static asset
        ("GET", "/community/x", None, {}),  # SPA fallback
    ]
    for method, path, body, headers in cases:
        r = t.http.request(method, path, body=body, headers=headers)
        _assert_security_headers(r, f"{method} {path} ({r.status})")
    r = t.http.get("/assets/app-abc123.js")
    r2 = t.http.get("/assets/app-abc123.js", headers={"If-None-Match": r.header("ETag") or "x"})
    _assert_security_headers(r2, f"conditional GET ({r2.status})")


def test_request_id_generated_and_unique(t):
    ids = set()
    for _ in range(5):
        r = t.http.get("/api/v1/ping")
        rid = r.header("X-Request-Id")
        check(rid and REQUEST_ID_RE.match(rid), f"bad generated X-Request-Id {rid!r}")
        ids.add(rid)
    eq(len(ids), 5, "distinct generated request ids over 5 requests")


def test_request_id_echoed_when_valid(t):
    rid = "client-req_42.abc-" + uuid.uuid4().hex[:8]
    r = t.http.get("/api/v1/ping", headers={"X-Request-Id": rid})
    eq(r.header("X-Request-Id"), rid, "echoed request id")
    r = t.http.get("/api/v1/nope", headers={"X-Request-Id": rid})
    eq(r.header("X-Request-Id"), rid, "echoed request id on a problem")
    eq(r.json().get("request_id"), rid, "request_id member of the problem")


def test_request_id_replaced_when_invalid(t):
    for bad in ["x" * 200, "<script>alert(1)</script>", "a b c", "id\"quote", ""]:
        r = t.http.get("/api/v1/ping", headers={"X-Request-Id": bad})
        rid = r.header("X-Request-Id")
        eq(r.status, 200, f"status with X-Request-Id {bad[:20]!r}")
        check(rid and rid != bad and REQUEST_ID_RE.match(rid),
              f"invalid incoming id {bad[:30]!r} must be replaced by a generated one, got {rid!r}")


# ---------------------------------------------------------------- metrics

SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """[(name, {labels}, value)], {name: type}"""
    samples, types = [], {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# TYPE "):
            parts = line.split()
            types[parts[2]] = parts[3]
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        check(m, f"malformed metrics line {line!r}")
        labels = dict(LABEL_RE.findall(m.group(2) or ""))
        samples.append((m.group(1), labels, float(m.group(3))))
    return samples, types


def scrape(t):
    r = t.http.get("/metrics")
    eq(r.status, 200, "/metrics status")
    return parse_metrics(r.text)


def metric_sum(samples, name, **want):
    return sum(v for n, lab, v in samples
               if n == name and all(lab.get(k) == w for k, w in want.items()))


def metric_one(samples, name):
    vals = [v for n, lab, v in samples if n == name]
    check(vals, f"metric {name} missing")
    return vals[0]


def test_metrics_format(t):
    r = t.http.get("/metrics")
    eq(r.status, 200, "status")
    ct = r.header("Content-Type") or ""
    check(ct.startswith("text/plain") and "version=0.0.4" in ct,
          f"content type {ct!r} is not the Prometheus text format")
    samples, types = parse_metrics(r.text)
    for name, typ in [("entrepot_http_requests_total", "counter"),
                      ("entrepot_http_request_duration_seconds", "histogram"),
                      ("entrepot_http_open_connections", "gauge"),
                      ("entrepot_db_pool_size", "gauge"),
                      ("entrepot_db_pool_in_use", "gauge")]:
        eq(types.get(name), typ, f"# TYPE of {name}")
    names = {n for n, _, _ in samples}
    for n in ("entrepot_http_request_duration_seconds_bucket",
              "entrepot_http_request_duration_seconds_sum",
              "entrepot_http_request_duration_seconds_count"):
        check(n in names, f"{n} missing")
    for n, lab, _ in samples:
        if n == "entrepot_http_requests_total":
            check({"route", "method", "status"} <= set(lab),
                  f"requests_total sample lacks route/method/status labels: {lab}")
    # The histogram: cumulative buckets ending in +Inf == _count.
    groups = {}
    for n, lab, v in samples:
        if n == "entrepot_http_request_duration_seconds_bucket":
            key = tuple(sorted((k, x) for k, x in lab.items() if k != "le"))
            groups.setdefault(key, []).append((lab["le"], v))
    check(groups, "no histogram buckets")
    for key, buckets in groups.items():
        les = [b for b, _ in buckets]
        check("+Inf" in les, f"histogram {key} has no +Inf bucket")
        finite = sorted((float(b), v) for b, v in buckets if b != "+Inf")
        vals = [v for _, v in finite] + [dict(buckets)["+Inf"]]
        check(all(a <= b for a, b in zip(vals, vals[1:])), f"buckets not cumulative: {buckets}")
    inf_total = sum(dict(b)["+Inf"] for b in groups.values())
    eq(inf_total, metric_sum(samples, "entrepot_http_request_duration_seconds_count"),
       "+Inf bucket total vs _count")
    size = metric_one(samples, "entrepot_db_pool_size")
    in_use = metric_one(samples, "entrepot_db_pool_in_use")
    check(size >= 1, f"db pool size {size} < 1")
    check(0 <= in_use <= size, f"db pool in use {in_use} outside [0, {size}]")


def test_metrics_counts_go_up(t):
    before, _ = scrape(t)
    ping0 = metric_sum(before, "entrepot_http_requests_total", route="/api/v1/ping", method="GET",
                       status="200")
    nf0 = metric_sum(before, "entrepot_http_requests_total", method="GET", status="404")
    nf0 += metric_sum(before, "entrepot_http_requests_total", method="any", status="404")
    cnt0 = metric_sum(before, "entrepot_http_request_duration_seconds_count")
    sum0 = metric_sum(before, "entrepot_http_request_duration_seconds_sum")
    for _ in range(3):
        eq(t.http.get("/api/v1/ping").status, 200, "ping")
    for _ in range(2):
        eq(t.http.get("/api/v1/nothing-here").status, 404, "unknown api path")
    after, _ = scrape(t)
    ping1 = metric_sum(after, "entrepot_http_requests_total", route="/api/v1/ping", method="GET",
                       status="200")
    nf1 = metric_sum(after, "entrepot_http_requests_total", method="GET", status="404")
    nf1 += metric_sum(after, "entrepot_http_requests_total", method="any", status="404")
    eq(ping1 - ping0, 3, "ping counter increase after 3 pings")
    check(nf1 - nf0 >= 2, f"404 counter increased by {nf1 - nf0}, expected at least 2")
    cnt1 = metric_sum(after, "entrepot_http_request_duration_seconds_count")
    check(cnt1 - cnt0 >= 5, f"histogram _count increased by {cnt1 - cnt0}, expected >= 5")
    check(metric_sum(after, "entrepot_http_request_duration_seconds_sum") > sum0,
          "histogram _sum did not increase")


def test_metrics_unknown_paths_do_not_create_series(t):
    # An attacker requesting random paths must not grow the label set.
    token = uuid.uuid4().hex
    t.http.get(f"/api/v1/{token}")
    t.http.get(f"/{token}/x")
    r = t.http.get("/metrics")
    check(token not in r.text, "a requested unknown path became a metrics label")


def test_metrics_open_connections_gauge(t):
    def gauge():
        s, _ = scrape(t)
        return metric_one(s, "entrepot_http_open_connections")

    base = gauge()
    check(base >= 1, f"open connections {base} while /metrics itself is being served")
    held = []
    try:
        for _ in range(4):
            r = Raw(t.port)
            held.append(r)
            r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n")
            resp = r.read_response()
            check(resp and resp.status == 200, f"held connection got {resp!r}")
        # Compare with what must be open now (the 4 held + the scrape itself):
        # base may have counted a connection of an earlier test that closed since.
        during = gauge()
        check(during >= 5, f"open connections {during} with 4 held open + the scrape (was {base})")
    finally:
        for r in held:
            r.close()
    deadline = time.monotonic() + 3
    while True:
        now = gauge()
        if now <= base:
            break
        check(time.monotonic() < deadline,
              f"open connections stayed at {now} after closing 4 (was {base})")
        time.sleep(0.1)
