"""Slow and many clients (issue 6, item 7): slowloris connections, a
connection flood past the per-IP cap, and a keep-alive burst, each bounded
in time and count and on loopback only, while a normal client's requests
keep succeeding within a stated latency. The figures are printed as
`# floods ...` lines; docs/reliability.md records them."""
import http.client
import select
import socket
import threading
import time

from harness import HOST, Closed, Raw, check

PING = b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n\r\n"
PING_CLOSE = b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"

SLOW_CONNS = 50          # trickling connections
TIMEOUT_S = 2            # --connection-timeout-s of the private server
CUT_WITHIN_S = 4.0       # every trickler cut by then (timeout + reaper tick + slack)
NORMAL_REQUESTS = 50     # the normal client's sequential pings meanwhile
P99_BUDGET_S = 0.5       # ... and their p99 latency


def _metric(srv, name):
    r = srv.http(timeout=5).get("/metrics")
    check(r.status == 200, f"/metrics: {r!r}")
    for line in r.text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"metric {name} missing from /metrics")


def _p(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, max(0, int(round(q * len(s) + 0.5)) - 1))]


def _wrap(sock):
    """A harness Raw reader over an already connected socket."""
    r = Raw.__new__(Raw)
    r.sock, r.buf, r.timeout = sock, b"", 5.0
    return r


def _ping_once(port, timeout=5.0):
    """One GET /api/v1/ping on a fresh connection: (ok, seconds, detail)."""
    t0 = time.monotonic()
    try:
        r = Raw(port, timeout=timeout)
        try:
            r.send(PING_CLOSE)
            resp = r.read_response(timeout=timeout)
        finally:
            r.close()
    except (OSError, Closed) as e:
        return False, time.monotonic() - t0, repr(e)
    dt = time.monotonic() - t0
    ok = resp is not None and resp.status == 200
    return ok, dt, "" if ok else repr(resp)


class NormalClient(threading.Thread):
    """Sequential pings on fresh connections, spread over `span` seconds."""

    def __init__(self, port, n, span):
        super().__init__(daemon=True)
        self.port, self.n, self.span = port, n, span
        self.lat, self.errors = [], []

    def run(self):
        gap = self.span / self.n
        for i in range(self.n):
            t0 = time.monotonic()
            ok, dt, detail = _ping_once(self.port)
            self.lat.append(dt)
            if not ok:
                self.errors.append(f"ping {i + 1}: {detail}")
            rest = gap - (time.monotonic() - t0)
            if rest > 0:
                time.sleep(rest)


def test_slowloris_tricklers_cut_while_normal_client_served(t):
    srv = t.start_server(["--connection-timeout-s", str(TIMEOUT_S),
                          "--max-connections-per-ip", "200"])
    cut_before = _metric(srv, "entrepot_http_slow_clients_cut_total")
    conns = []
    try:
        for _ in range(SLOW_CONNS):
            s = socket.create_connection((HOST, srv.port), timeout=5)
            s.sendall(b"GET /api/v1/ping HTTP/1.1\r\nHost: x\r\n")
            conns.append(s)
        t0 = time.monotonic()
        normal = NormalClient(srv.port, NORMAL_REQUESTS, span=CUT_WITHIN_S)
        normal.start()
        cut_at = {}
        line = 0
        while time.monotonic() - t0 < CUT_WITHIN_S + 2 and len(cut_at) < len(conns):
            line += 1
            for i, s in enumerate(conns):
                if i in cut_at:
                    continue
                try:
                    r, _, _ = select.select([s], [], [], 0)
                    if r and not s.recv(4096):
                        cut_at[i] = time.monotonic() - t0
                        continue
                    s.sendall(f"X-Trickle-{line}: {line}\r\n".encode())  # every 0.3 s
                except OSError:
                    cut_at[i] = time.monotonic() - t0
            time.sleep(0.3)
        normal.join(30)
    finally:
        for s in conns:
            s.close()
    cut_after = _metric(srv, "entrepot_http_slow_clients_cut_total")
    lat = normal.lat
    first, last = min(cut_at.values(), default=0), max(cut_at.values(), default=0)
    print(f"# floods slowloris: {len(conns)} tricklers (timeout {TIMEOUT_S}s), {len(cut_at)} cut, "
          f"first {first:.2f}s last {last:.2f}s;"
          f" metric +{cut_after - cut_before:.0f}; normal client {len(lat)} pings, "
          f"{len(normal.errors)} failed, p50 {_p(lat, .5) * 1000:.1f} ms, "
          f"p99 {_p(lat, .99) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms", flush=True)
    check(not normal.errors, f"normal client failed while tricklers were connected: "
                             f"{normal.errors[:5]}")
    check(len(lat) == NORMAL_REQUESTS, f"normal client made {len(lat)} of {NORMAL_REQUESTS}")
    p99 = _p(lat, .99)
    check(p99 < P99_BUDGET_S, f"normal client p99 {p99 * 1000:.0f} ms >= "
                              f"{P99_BUDGET_S * 1000:.0f} ms")
    missing = len(conns) - len(cut_at)
    check(missing == 0, f"{missing} of {len(conns)} trickling connections still open after "
                        f"{CUT_WITHIN_S + 2:.0f}s (connection timeout {TIMEOUT_S}s)")
    late = sorted(v for v in cut_at.values() if v > CUT_WITHIN_S)
    check(not late, f"{len(late)} tricklers cut late (after {CUT_WITHIN_S}s): {late[:5]}")
    early = sorted(v for v in cut_at.values() if v < TIMEOUT_S * 0.5)
    check(not early, f"{len(early)} tricklers cut before half the timeout: {early[:5]}")
    check(cut_after - cut_before >= len(conns),
          f"entrepot_http_slow_clients_cut_total went up by {cut_after - cut_before:.0f}, "
          f"expected at least {len(conns)}")
    ok, _, detail = _ping_once(srv.port)
    check(ok, f"ping after the tricklers were cut: {detail}")


BODY_TIMEOUT_S = 3       # --body-timeout-s of the slow-body server
IDLE_TIMEOUT_S = 10      # --connection-timeout-s of the slow-body server


class SteadyUploads(threading.Thread):
    """What the body deadline must not cut: one body that takes two thirds
    of the body timeout but is whole in time, and a keep-alive connection
    whose six requests with bodies together last longer than the timeout
    (the deadline is per request, from its headers to its last body byte)."""

    BODY = b'{"name":"a"}'.ljust(1000)  # JSON allows the trailing white space

    def __init__(self, port, kind):
        super().__init__(daemon=True)
        self.port, self.kind, self.statuses, self.seconds = port, kind, [], 0.0
        self.head = (f"POST /api/v1/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     f"application/json\r\nContent-Length: {len(self.BODY)}\r\n\r\n").encode()

    def _answer(self, r):
        resp = r.read_response(timeout=5)
        self.statuses.append(resp.status if resp is not None else "closed")

    def run(self):
        t0 = time.monotonic()
        try:
            r = Raw(self.port, timeout=5)
            if self.kind == "slow":  # 5 pieces 0.4 s apart
                r.send(self.head)
                for i in range(0, len(self.BODY), 200):
                    time.sleep(0.4)
                    r.send(self.BODY[i:i + 200])
                self._answer(r)
            else:  # 6 requests, each body in two halves 0.3 s apart
                for _ in range(6):
                    r.send(self.head + self.BODY[:500])
                    time.sleep(0.3)
                    r.send(self.BODY[500:])
                    self._answer(r)
                    time.sleep(0.3)
            r.close()
        except (OSError, Closed) as e:
            self.statuses.append(repr(e))
        self.seconds = time.monotonic() - t0


def test_slow_bodies_cut_while_steady_uploads_served(t):
    # Slowloris on the body (R-U-Dead-Yet): the headers arrive at once, the
    # announced body one byte every 0.5 s. Each byte resets libmicrohttpd's
    # idle timer, so only a deadline on the whole body stops it: the
    # server's body timeout, counted from the end of the headers. Meanwhile
    # healthy uploads (SteadyUploads) and pings must go through untouched.
    # The idle timeout is set well above the body timeout: only the body
    # deadline may cut here, and a loaded machine that stalls the steady
    # clients between two requests must not make the idle timer cut them.
    srv = t.start_server(["--connection-timeout-s", str(IDLE_TIMEOUT_S),
                          "--body-timeout-s", str(BODY_TIMEOUT_S)])
    bound = BODY_TIMEOUT_S + 2  # the timeout, a reaper tick, slack
    cut_before = _metric(srv, "entrepot_http_slow_clients_cut_total")
    conns = []
    steady = [SteadyUploads(srv.port, "slow"), SteadyUploads(srv.port, "keepalive")]
    try:
        for _ in range(5):
            r = Raw(srv.port, timeout=5)
            r.send("POST /api/v1/test/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                   "\r\nContent-Length: 100000\r\n\r\n{")
            conns.append(r)
        t0 = time.monotonic()
        for th in steady:
            th.start()
        cut_at = {}
        while time.monotonic() - t0 < bound + 1 and len(cut_at) < len(conns):
            for i, r in enumerate(conns):
                if i in cut_at:
                    continue
                try:
                    if r.readable(0) and r.wait_closed(0.05):
                        cut_at[i] = time.monotonic() - t0
                        continue
                    r.send(" ")
                except (Closed, OSError):
                    cut_at[i] = time.monotonic() - t0
            ok, dt, detail = _ping_once(srv.port)
            check(ok and dt < P99_BUDGET_S, f"normal ping while bodies trickle: {detail} "
                                            f"({dt * 1000:.0f} ms)")
            time.sleep(0.5)
        for th in steady:
            th.join(20)
    finally:
        for r in conns:
            r.close()
    cut_after = _metric(srv, "entrepot_http_slow_clients_cut_total")
    slow, ka = steady
    print(f"# floods slow body: {len(conns)} bodies at 2 B/s (body timeout {BODY_TIMEOUT_S}s), "
          f"{len(cut_at)} cut" + (f", first at {min(cut_at.values()):.1f}s, last at "
                                  f"{max(cut_at.values()):.1f}s" if cut_at else "")
          + f"; metric +{cut_after - cut_before:.0f}; meanwhile a {slow.seconds:.1f}s upload "
          f"{slow.statuses} and {ka.statuses.count(200)}/6 keep-alive uploads in "
          f"{ka.seconds:.1f}s on one connection", flush=True)
    check(len(cut_at) == len(conns),
          f"{len(conns) - len(cut_at)} of {len(conns)} connections trickling a body at 2 B/s "
          f"still open after {bound + 1:.0f}s (body timeout {BODY_TIMEOUT_S}s)")
    early = sorted(v for v in cut_at.values() if v < BODY_TIMEOUT_S - 0.5)
    check(not early, f"{len(early)} slow bodies cut before the body timeout: {early}")
    check(cut_after - cut_before == len(conns),
          f"entrepot_http_slow_clients_cut_total went up by {cut_after - cut_before:.0f}, "
          f"expected {len(conns)} (the steady uploads must not be cut)")
    check(slow.statuses == [200], f"a body whole within the body timeout ({slow.seconds:.1f}s) "
                                  f"was not served: {slow.statuses}")
    check(ka.statuses == [200] * 6, f"keep-alive requests with bodies: {ka.statuses}")
    check(ka.seconds > BODY_TIMEOUT_S, f"the keep-alive uploads took {ka.seconds:.1f}s, not "
                                       f"longer than the body timeout: they prove nothing")


def test_connection_flood_past_per_ip_cap(t):
    cap = 64
    flood = 300
    srv = t.start_server(["--max-connections-per-ip", str(cap)])
    time.sleep(0.2)  # let the start-up health checks' connections close
    socks = []
    refused = 0
    t0 = time.monotonic()
    try:
        for _ in range(flood):
            try:
                socks.append(socket.create_connection((HOST, srv.port), timeout=2))
            except OSError:
                refused += 1
        opened = time.monotonic() - t0
        # The server accepts every connection from its backlog and closes
        # those over the cap at once: they read EOF (or a reset).
        time.sleep(0.5)
        alive, closed = [], 0
        for s in socks:
            r, _, _ = select.select([s], [], [], 0)
            if r:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    closed += 1
                    s.close()
                    continue
            alive.append(s)
        print(f"# floods connection flood: {flood} connections in {opened * 1000:.0f} ms, "
              f"cap {cap}: {len(alive)} held, {closed} closed by the server, {refused} "
              f"refused", flush=True)
        check(len(alive) <= cap, f"{len(alive)} connections held open, over the per-IP cap {cap}")
        check(closed + refused >= flood - cap,
              f"only {closed + refused} of the {flood - cap} excess connections were refused "
              f"or closed")
        # The held connections are served.
        for s in alive[:5]:
            s.sendall(PING)
            resp = _wrap(s).read_response(timeout=5)
            check(resp is not None and resp.status == 200, f"held connection: {resp!r}")
        # At the cap, a fresh connection is refused or closed unanswered.
        ok, _, _ = _ping_once(srv.port, timeout=3)
        check(not ok, "a fresh connection was served while the cap was reached")
        # Release some: a fresh client is served again, promptly.
        for s in alive[-10:]:
            s.close()
        alive = alive[:-10]
        deadline = time.monotonic() + 3
        while True:
            ok, dt, detail = _ping_once(srv.port)
            if ok:
                break
            check(time.monotonic() < deadline, f"no fresh connection served within 3 s of "
                                               f"releasing 10: {detail}")
            time.sleep(0.05)
        check(dt < P99_BUDGET_S, f"ping after release took {dt * 1000:.0f} ms")
    finally:
        for s in socks:
            s.close()


def test_keepalive_burst_2000_requests_20_connections(t):
    nconn, per = 20, 100
    lat = []
    errors = []
    reconnects = [0]
    lock = threading.Lock()

    def worker():
        c = http.client.HTTPConnection(HOST, t.port, timeout=10)
        mine = []
        try:
            for _ in range(per):
                t0 = time.monotonic()
                try:
                    c.request("GET", "/api/v1/ping")
                    r = c.getresponse()
                    body = r.read()
                    if r.status != 200 or b'"ok"' not in body:
                        with lock:
                            errors.append(f"{r.status} {body[:80]!r}")
                    if r.will_close:
                        with lock:
                            reconnects[0] += 1
                except (OSError, http.client.HTTPException) as e:
                    with lock:
                        errors.append(repr(e))
                    c.close()
                    c = http.client.HTTPConnection(HOST, t.port, timeout=10)
                    with lock:
                        reconnects[0] += 1
                mine.append(time.monotonic() - t0)
        finally:
            c.close()
            with lock:
                lat.extend(mine)

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(nconn)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(40)
    dt = time.monotonic() - t0
    print(f"# floods keep-alive burst: {len(lat)} requests over {nconn} connections in "
          f"{dt:.2f}s ({len(lat) / dt:.0f} req/s), {len(errors)} errors, {reconnects[0]} "
          f"reconnects, p50 {_p(lat, .5) * 1000:.1f} ms, p99 {_p(lat, .99) * 1000:.1f} ms",
          flush=True)
    check(not any(th.is_alive() for th in threads), "burst workers still running after 40 s")
    check(len(lat) == nconn * per, f"{len(lat)} of {nconn * per} requests made")
    check(not errors, f"{len(errors)} requests failed: {errors[:5]}")
    check(reconnects[0] == 0, f"the server closed keep-alive connections {reconnects[0]} times")
    ok, _, detail = _ping_once(t.port)
    check(ok, f"ping after the burst: {detail}")
