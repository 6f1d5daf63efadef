#!/usr/bin/env python3
"""bench/auth.py — what signing in and being signed in cost.

Two questions, both answered with medians from the same run:

1. Does a password sign-in cost what its Argon2id parameters say, and no
   more? The server's own stored hash is verified directly with libsodium's
   crypto_pwhash_str_verify (through ctypes: the very function the server
   calls, with the parameters written in the hash), alternating with full
   POST /api/v1/auth/login requests from a known device on a known network
   (so the answer is a session, not a code). The difference is everything a
   sign-in does besides the hash: throttle checks, the session, device and
   audit rows, the fsync of the commit, HTTP.

2. Does an authenticated GET cost at most 10% more than the same GET
   unauthenticated? With wrk, in rounds of alternating order:
     A  GET /api/v1/users/{id}            anonymous
     B  GET /api/v1/users/{id}            with a bearer token: the same
                                          handler, so B/A is the price of
                                          authentication alone
     C  GET /api/v1/me                    with a bearer token: the user's own
                                          account (phone number decrypted),
                                          the comparison issue 3 asks for
   A node keeps its check of a session for ACC_SESSION_CACHE_MS (3 s) and
   writes last_seen_at at most once a minute, so a busy session costs one
   keyed hash and a table lookup; the first request of a session on a node
   (and one a minute after) reads the database.

It reports numbers; it never fails on a time. Environment: BUILD (default
build/default), ROUNDS (5), DURATION (3 s per wrk run), CONNECTIONS (16),
THREADS (2), LOGINS (25), DATABASE (a postgres:// URL; default SQLite in a
temporary directory), KEEP=1 keeps the temporary directory.
"""
import ctypes
import ctypes.util
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BIN = os.path.join(ROOT, os.environ.get("BUILD", "build/default"), "entrepot")
LUA = os.path.join(ROOT, "bench", "wrk", "report.lua")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DURATION = int(os.environ.get("DURATION", "3"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
THREADS = int(os.environ.get("THREADS", "2"))
LOGINS = int(os.environ.get("LOGINS", "25"))
PASSWORD = "bench: correct horse battery staple"
UA = "entrepot-bench/1"
ERRORS = {}  # url -> wrk errors (non-2xx or socket), reported at the end


def die(msg):
    print(f"bench/auth: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Server:
    def __init__(self, tmp, database):
        self.port = free_port()
        self.database = database or f"sqlite:{tmp}/data/entrepot.db"
        os.makedirs(f"{tmp}/data", mode=0o700, exist_ok=True)
        self.log = open(f"{tmp}/entrepot.log", "wb")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--data-dir", f"{tmp}/data",
             "--database", self.database, "--static-dir", tmp, "--test-mode",
             "--access-log=false", "--log-level", "warn", "--max-connections", "1024",
             "--max-connections-per-ip", "1024"],
            stdout=self.log, stderr=self.log, cwd=tmp,
            env={k: v for k, v in os.environ.items() if not k.startswith("ENTREPOT_")})
        for _ in range(200):
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                die(f"entrepot exited during start-up; see {tmp}/entrepot.log")
            time.sleep(0.05)
        die("entrepot did not become healthy")

    def request(self, method, path, body=None, headers=None, conn=None):
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = {"User-Agent": UA}
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        out = r.status, r.read(), r.getheaders()
        if conn is None:
            c.close()
        return out

    def cpu_ns(self):
        total = 0
        for t in os.listdir(f"/proc/{self.proc.pid}/task"):
            try:
                with open(f"/proc/{self.proc.pid}/task/{t}/schedstat") as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
        return total

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def code_for(srv, to):
    st, body, _ = srv.request("GET", "/api/v1/test/outbox?to=" + urllib.parse.quote(to))
    msgs = json.loads(body)["messages"]
    m = re.search(r"\b(\d{6})\b", msgs[0]["body"]) if msgs else None
    if not m:
        die(f"no code in the outbox for {to}")
    return m.group(1)


def setup_user(srv):
    """Registers an account as an app; returns (user id, bearer token, device token)."""
    phone = "139" + str(int(time.time() * 1000))[-8:]
    st, body, _ = srv.request("POST", "/api/v1/auth/codes", {"purpose": "register", "phone": phone})
    if st != 202:
        die(f"code request answered {st}: {body[:200]!r}")
    attempt = json.loads(body)["attempt"]
    code = code_for(srv, "+86" + phone)
    st, body, _ = srv.request("POST", "/api/v1/auth/register",
                              {"phone": phone, "attempt": attempt, "code": code,
                               "password": PASSWORD, "display_name": "Bench",
                               "client": "app"})
    if st != 201:
        die(f"registration answered {st}: {body[:200]!r}")
    j = json.loads(body)
    uid, token, device = j["user"]["id"], j["token"], j["device_token"]
    # Every profile field filled and public, so the public profile is as
    # close in shape to GET /me as it can be (one row, the same columns).
    srv.request("PATCH", "/api/v1/me",
                {"company": "Bench Trading Ltd", "title": "Buyer", "industry": "Textiles",
                 "department": "Sourcing", "gender": "undisclosed",
                 "signature": "Cotton and linen, FOB Ningbo",
                 "public_fields": ["gender", "signature", "company", "title", "department",
                                   "industry"]},
                {"Authorization": "Bearer " + token})
    return phone, uid, token, device


def stored_hash(srv, uid):
    if srv.database.startswith("sqlite:"):
        con = sqlite3.connect(srv.database[len("sqlite:"):])
        try:
            return con.execute("SELECT password_hash FROM users WHERE id = ?", (uid,)).fetchone()[0]
        finally:
            con.close()
    out = subprocess.run(["psql", srv.database, "-Atc",
                          f"SELECT password_hash FROM users WHERE id = {int(uid)}"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def bench_login(srv, phone, device, hashed):
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    if lib.sodium_init() < 0:
        die("sodium_init failed")
    verify = lib.crypto_pwhash_str_verify
    verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    pw = PASSWORD.encode()
    params = re.search(r"\$m=(\d+),t=(\d+),p=(\d+)\$", hashed)
    alone, full, server_cpu, alone_cpu = [], [], [], []
    body = {"login": phone, "password": PASSWORD, "client": "app"}
    hdr = {"X-Device-Token": device}
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    for i in range(LOGINS + 2):
        p0, t0 = time.process_time(), time.perf_counter()
        ok = verify(hashed.encode(), pw, len(pw)) == 0
        t1, p1 = time.perf_counter(), time.process_time()
        c0 = srv.cpu_ns()
        st, out, _ = srv.request("POST", "/api/v1/auth/login", body, hdr, conn=conn)
        t2 = time.perf_counter()
        c1 = srv.cpu_ns()
        if not ok or st != 200:
            die(f"verify {ok}, sign-in answered {st}: {out[:200]!r}")
        if i >= 2:  # the first two warm caches and the statement cache
            alone.append((t1 - t0) * 1000)
            full.append((t2 - t1) * 1000)
            server_cpu.append((c1 - c0) / 1e6)
            alone_cpu.append((p1 - p0) * 1000)
    conn.close()
    m_alone, m_full = statistics.median(alone), statistics.median(full)
    print(f"Argon2id parameters in the stored hash: m={params.group(1)} KiB, "
          f"t={params.group(2)}, p={params.group(3)}")
    print(f"{LOGINS} alternating pairs, medians (ms):")
    print(f"  crypto_pwhash_str_verify alone      {m_alone:8.2f}   "
          f"(min {min(alone):.2f}, max {max(alone):.2f})")
    print(f"  POST /api/v1/auth/login, whole      {m_full:8.2f}   "
          f"(min {min(full):.2f}, max {max(full):.2f})")
    print(f"  sign-in beyond the hash             {m_full - m_alone:8.2f}   "
          f"({(m_full / m_alone - 1) * 100:.1f}% of the hash)")
    c_alone, c_full = statistics.median(alone_cpu), statistics.median(server_cpu)
    print(f"CPU time, medians (ms; steadier than wall time on a busy machine):")
    print(f"  crypto_pwhash_str_verify alone      {c_alone:8.2f}")
    print(f"  the server, for one whole sign-in   {c_full:8.2f}   "
          f"({(c_full / c_alone - 1) * 100:+.1f}% beyond the hash)")
    return m_alone, m_full


def wrk(url, headers, seconds):
    cmd = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "-s", LUA]
    for h in headers:
        cmd += ["-H", h]
    out = subprocess.run(cmd + [url], capture_output=True, text=True).stdout
    line = next((ln for ln in out.splitlines() if ln.startswith("WRKRESULT")), None)
    if not line:
        die(f"wrk failed: {out[-400:]}")
    kv = dict(x.split("=", 1) for x in line.split()[1:])
    errs = sum(int(kv[k]) for k in kv if k.startswith("err_"))
    ERRORS[url] = ERRORS.get(url, 0) + errs
    if errs * 1000 > int(kv["requests"]):  # a rate with many failures means nothing
        die(f"wrk saw {errs} errors (non-2xx or socket) on {url}: {line}")
    return float(kv["rps"]), int(kv["lat_p50_us"]), int(kv["requests"])


def bench_get(srv, uid, token):
    base = f"http://127.0.0.1:{srv.port}"
    auth = ["Authorization: Bearer " + token, "User-Agent: " + UA]
    variants = [
        ("A", "GET /api/v1/users/{id}, anonymous", f"{base}/api/v1/users/{uid}", ["User-Agent: " + UA]),
        ("B", "GET /api/v1/users/{id}, bearer", f"{base}/api/v1/users/{uid}", auth),
        ("C", "GET /api/v1/me, bearer", f"{base}/api/v1/me", auth),
    ]
    for _, _, url, h in variants:  # warm-up, and a check that each answers 200
        st = srv.request("GET", url[len(base):], headers=dict(x.split(": ", 1) for x in h))[0]
        if st != 200:
            die(f"{url} answered {st}")
        wrk(url, h, 1)
    res = {k: {"rps": [], "p50": [], "cpu": []} for k, _, _, _ in variants}
    ratios = {"B/A": [], "C/A": []}
    print(f"\nwrk -t{THREADS} -c{CONNECTIONS}, {ROUNDS} rounds x {DURATION}s, order rotating")
    print(f"  {'round':6} {'A req/s':>9} {'B req/s':>9} {'C req/s':>9}  {'B cost':>7} {'C cost':>7}")
    for r in range(ROUNDS):
        order = variants[r % 3:] + variants[:r % 3]
        got = {}
        for k, _, url, h in order:
            c0 = srv.cpu_ns()
            rps, p50, n = wrk(url, h, DURATION)
            c1 = srv.cpu_ns()
            got[k] = rps
            res[k]["rps"].append(rps)
            res[k]["p50"].append(p50)
            res[k]["cpu"].append((c1 - c0) / n / 1000)
        # Cost per request is 1/rate: B costs A's time x (A rate / B rate).
        ratios["B/A"].append(got["A"] / got["B"])
        ratios["C/A"].append(got["A"] / got["C"])
        print(f"  {r + 1:<6} {got['A']:9.0f} {got['B']:9.0f} {got['C']:9.0f}  "
              f"{ratios['B/A'][-1]:7.3f} {ratios['C/A'][-1]:7.3f}")
    print("  medians:")
    for k, name, _, _ in variants:
        print(f"    {k}  {name:38} {statistics.median(res[k]['rps']):8.0f} req/s, "
              f"p50 {statistics.median(res[k]['p50']) / 1000:.2f} ms, "
              f"server CPU {statistics.median(res[k]['cpu']):.1f} µs/req")
    for key, what in (("B/A", "authentication alone (same handler)"),
                      ("C/A", "GET /me with bearer vs anonymous profile")):
        m = statistics.median(ratios[key])
        cpu = statistics.median(res[key[0]]["cpu"]) / statistics.median(res["A"]["cpu"])
        verdict = "within" if m <= 1.10 else "OVER"
        print(f"  cost {key} = {m:.3f} by rate (median of per-round ratios), {cpu:.3f} by server "
              f"CPU per request: {what}: {verdict} the 10% target")
    bad = {u: n for u, n in ERRORS.items() if n}
    print(f"  wrk errors (non-2xx or socket): {bad if bad else 'none'}")


def main():
    for tool in ("wrk",):
        if not shutil.which(tool):
            die(f"{tool} is not installed")
    if not os.access(BIN, os.X_OK):
        die(f"{BIN} is missing: run make first")
    tmp = tempfile.mkdtemp(prefix="entrepot-bench-auth.")
    os.chmod(tmp, 0o755)
    srv = None
    try:
        srv = Server(tmp, os.environ.get("DATABASE"))
        cpu = next((ln.split(": ", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), "?")
        print(f"bench/auth: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
              f"{os.cpu_count()} cores, {cpu}, database {srv.database.split(':')[0]}")
        phone, uid, token, device = setup_user(srv)
        hashed = stored_hash(srv, uid)
        print()
        bench_login(srv, phone, device, hashed)
        bench_get(srv, uid, token)
    finally:
        if srv:
            srv.stop()
        if os.environ.get("KEEP"):
            print(f"bench/auth: kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
