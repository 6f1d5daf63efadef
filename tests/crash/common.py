"""common.py — what the crash, fault and database-loss drivers share.

A fast-restarting server process, a keep-alive JSON client that plays one
user (its own X-Forwarded-For address, so the per-address code limits of a
long run are not one address's), the accounts flows the drivers write with
(code request, registration, profile edit, sign-in, sign-out), storage
helpers (a full snapshot of every table, the consistency invariants, SQLite's
integrity check, `entrepot audit verify`), and the throwaway PostgreSQL
cluster (scripts/pg-cluster.sh: start, halt, resume, stop).

Python 3 standard library only; the API tier's harness.py is reused for the
server process, problem checks and psql.
"""
import http.client
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))

import harness  # noqa: E402

REPO = harness.REPO
HOST = harness.HOST
CODE_RE = re.compile(r"\b(\d{6})\b")


class Down(Exception):
    """The server did not answer (refused, reset, timed out): it is dead or
    dying, so the outcome of the request in flight is unknown."""


class Failed(AssertionError):
    """A check failed; the message says which and why."""


def check(cond, msg):
    if not cond:
        raise Failed(msg)


# ---------------------------------------------------------------- processes

class Server(harness.Server):
    """harness.Server with a tight readiness poll (a restart is the unit of
    work of the crash driver) and SIGKILL."""

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failed(f"server exited with {self.proc.returncode} during start-up; "
                             f"log tail:\n{self.log_tail(20)}")
            try:
                s = socket.create_connection((HOST, self.port), timeout=1)
                try:
                    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/1.1 200"):
                        return
                finally:
                    s.close()
            except OSError:
                pass
            time.sleep(0.002)
        raise Failed(f"server not healthy after {timeout:.0f}s; log tail:\n{self.log_tail(20)}")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()


def server_args(trusted=True):
    """Arguments every driver's server gets: X-Forwarded-For believed from
    loopback, so each simulated user has an address of its own."""
    return ["--trusted-proxies", "127.0.0.1/32"] if trusted else []


# ---------------------------------------------------------------- HTTP client

class Resp:
    def __init__(self, status, ctype, body, headers):
        self.status = status
        self.content_type = (ctype or "").split(";")[0].strip().lower()
        self.body = body
        self.headers = headers

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Failed(f"response is not JSON ({e}): {self.status} {self.body[:200]!r}")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<HTTP {self.status} {self.content_type} {self.body[:300]!r}>"


class Client:
    """One simulated user agent: a keep-alive connection, an address of its
    own, optionally a bearer token. Any transport failure raises Down."""

    def __init__(self, port, ip=None, timeout=10.0):
        self.port = port
        self.ip = ip or random_ip()
        self.timeout = timeout
        self.conn = None
        self.last_used = 0.0
        self.token = None
        self.device_token = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def request(self, method, path, body=None, rid=None, token=None, headers=None):
        h = {"X-Forwarded-For": self.ip, "User-Agent": "entrepot-crash-driver/1"}
        tok = token or self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if self.device_token:
            h["X-Device-Token"] = self.device_token
        if rid:
            h["X-Request-Id"] = rid
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        # No retry: a request that got no answer may have been carried out,
        # and the drivers must know that they do not know. But a connection
        # idle for a while may have been closed by the server's connection
        # timeout (15 s by default): open a fresh one first.
        if self.conn is not None and time.monotonic() - self.last_used > 5:
            self.close()
        self.last_used = time.monotonic()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            self.conn.request(method, path, body=data, headers=h)
            r = self.conn.getresponse()
            payload = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            raise Down(repr(e))
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        return Resp(r.status, r.getheader("Content-Type"), payload, r.getheaders())

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)


def random_ip():
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def new_phone():
    """A national Chinese mobile number (11 digits); 10^8 to choose from."""
    return "139" + "".join(random.choice("0123456789") for _ in range(8))


def e164(national):
    return "+86" + national


# ---------------------------------------------------------------- accounts flows

def request_code(cl, phone, purpose="register", rid=None):
    """POST /auth/codes; the response (202 expected)."""
    return cl.post("/api/v1/auth/codes", {"purpose": purpose, "phone": phone}, rid=rid)


def outbox_codes(cl, phone):
    """The codes sent to a number, newest first (test-mode outbox route)."""
    r = cl.get("/api/v1/test/outbox?to=" + urllib.parse.quote(e164(phone), safe=""))
    check(r.status == 200, f"outbox for {phone}: {r!r}")
    out = []
    for m in r.json()["messages"]:
        mm = CODE_RE.search(m.get("body") or "")
        if mm:
            out.append(mm.group(1))
    return out


def register_body(phone, attempt, code, display_name, password=None):
    b = {"phone": phone, "attempt": attempt, "code": code, "display_name": display_name,
         "client": "app"}
    if password:
        b["password"] = password
    return b


def start_registration(cl, phone):
    """Code request plus the code from the outbox: (attempt, code)."""
    r = request_code(cl, phone)
    check(r.status == 202, f"code request for {phone}: {r!r}")
    attempt = r.json()["attempt"]
    codes = outbox_codes(cl, phone)
    check(codes, f"no code in the outbox for {phone}")
    return attempt, codes[0]


def register(cl, phone, display_name, password=None):
    """A whole registration; returns (user id, bearer token)."""
    attempt, code = start_registration(cl, phone)
    r = cl.post("/api/v1/auth/register", register_body(phone, attempt, code, display_name,
                                                       password))
    check(r.status == 201, f"registration of {phone}: {r!r}")
    j = r.json()
    return j["user"]["id"], j["token"]


def me(cl, token):
    """GET /me with token: the Resp."""
    return cl.get("/api/v1/me", token=token)


# ---------------------------------------------------------------- storage

# Each query must answer 0: counts of rows that break a promise the code
# makes across statements (one transaction writes both halves).
INVARIANTS = [
    ("users without a data key",
     "SELECT COUNT(*) FROM users u WHERE NOT EXISTS "
     "(SELECT 1 FROM user_keys k WHERE k.user_id = u.id)"),
    ("data keys without a user",
     "SELECT COUNT(*) FROM user_keys k WHERE NOT EXISTS "
     "(SELECT 1 FROM users u WHERE u.id = k.user_id)"),
    ("users with a phone index but no sealed phone",
     "SELECT COUNT(*) FROM users WHERE phone_bidx IS NOT NULL AND phone_enc IS NULL"),
    ("registered users without their registration in the audit log",
     "SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM audit_log a "
     "WHERE a.subject_user_id = u.id AND a.action = 'security.register')"),
    ("sessions of missing users",
     "SELECT COUNT(*) FROM sessions s WHERE NOT EXISTS "
     "(SELECT 1 FROM users u WHERE u.id = s.user_id)"),
    ("audit head not at the last entry",
     "SELECT COUNT(*) FROM audit_head h WHERE h.last_id <> "
     "(SELECT COALESCE(MAX(id), 0) FROM audit_log)"),
    ("audit ids not dense",
     "SELECT (SELECT COALESCE(MAX(id), 0) FROM audit_log) - (SELECT COUNT(*) FROM audit_log)"),
]


class Psql:
    """One long-lived psql session (a psql process per query costs tens of
    milliseconds). Reopened when it ended (the server went away)."""

    END = "__entrepot_crash_end__"

    def __init__(self, url):
        self.url = url
        self.proc = None

    def _open(self):
        self.proc = subprocess.Popen(
            ["psql", self.url, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=harness.clean_env({"PGCONNECT_TIMEOUT": "5"}))

    def lines(self, sql):
        for attempt in (0, 1):
            if self.proc is None or self.proc.poll() is not None:
                self._open()
            try:
                self.proc.stdin.write(sql + ";\n\\echo " + self.END + "\n")
                self.proc.stdin.flush()
                out = []
                while True:
                    line = self.proc.stdout.readline()
                    if not line:
                        raise OSError("psql ended")
                    line = line.rstrip("\n")
                    if line == self.END:
                        break
                    out.append(line)
            except OSError:
                self.close()
                if attempt:
                    raise Failed(f"psql session to {self.url} failed")
                continue
            errs = [ln for ln in out if ln.startswith(("ERROR:", "FATAL:", "psql:"))]
            if errs:
                if any("connection" in e or "terminat" in e for e in errs) and not attempt:
                    self.close()
                    continue
                raise Failed(f"psql: {errs[0]} (query {sql[:200]})")
            return out
        raise Failed("psql: no answer")

    def close(self):
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Database:
    """The driver's view of the database the server uses."""

    def __init__(self, backend, url):
        self.backend = backend
        self.url = url
        self.pg = Psql(url) if backend == "postgres" else None

    def path(self):
        return harness.sqlite_path(self.url)

    def close(self):
        if self.pg:
            self.pg.close()

    def query(self, sql):
        """Rows as tuples of strings (both engines alike)."""
        if self.backend == "sqlite":
            con = sqlite3.connect(self.path(), timeout=30)
            try:
                return [tuple("" if v is None else str(v) for v in row)
                        for row in con.execute(sql).fetchall()]
            finally:
                con.close()
        return [tuple(line.split("|")) for line in self.pg.lines(sql)]

    def invariants(self):
        """Broken invariants as 'name: count' strings (empty when all hold).
        One round trip on PostgreSQL."""
        sql = " UNION ALL ".join(f"SELECT {i}, ({q})" for i, (_, q) in enumerate(INVARIANTS))
        bad = []
        for i, n in self.query(sql):
            if int(n) != 0:
                bad.append(f"{INVARIANTS[int(i)][0]}: {n}")
        return bad

    def integrity(self):
        """SQLite's PRAGMA integrity_check ('ok' when sound) and the foreign
        key check; on PostgreSQL, '' (the server checks its own pages)."""
        if self.backend != "sqlite":
            return "ok"
        con = sqlite3.connect(self.path(), timeout=30)
        try:
            res = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
            fk = con.execute("PRAGMA foreign_key_check").fetchall()
        finally:
            con.close()
        out = "; ".join(res)
        if fk:
            out += f"; foreign_key_check: {len(fk)} rows, first {fk[0]!r}"
        return out

    def tables(self):
        if self.backend == "sqlite":
            return [r[0] for r in self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                "'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name")
                    if not _fts_shadow(r[0])]
        return [r[0] for r in self.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]

    def snapshot(self, skip=()):
        """{table: sorted list of rows as text}: every row of every table,
        to compare before and after a request."""
        names = [n for n in self.tables() if n not in skip]
        if self.backend == "sqlite":
            con = sqlite3.connect(self.path(), timeout=30)
            try:
                out = {}
                for n in names:
                    try:  # rowid order: the same rows come in the same order
                        rows = con.execute(f'SELECT * FROM "{n}" ORDER BY rowid').fetchall()
                    except sqlite3.OperationalError:  # WITHOUT ROWID
                        rows = sorted(con.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr)
                    out[n] = list(map(repr, rows))
                return out
            finally:
                con.close()
        out = {n: [] for n in names}
        if not names:
            return out
        q = " UNION ALL ".join(f"SELECT '{n}', replace(x::text, E'\\n', '\\n') "
                               f"FROM public.\"{n}\" x" for n in names)
        for line in self.pg.lines(q):
            n, _, row = line.partition("|")
            out[n].append(row)
        for rows in out.values():
            rows.sort()
        return out


def _fts_shadow(name):
    return any(name.endswith(s) for s in ("_data", "_idx", "_content", "_docsize", "_config"))


def snapshot_diff(before, after, limit=3):
    """Human-readable differences between two snapshots ('' when equal)."""
    parts = []
    for t in sorted(set(before) | set(after)):
        b, a = before.get(t, []), after.get(t, [])
        if b == a:
            continue
        sb, sa = set(b), set(a)
        gone = sorted(sb - sa)[:limit]
        new = sorted(sa - sb)[:limit]
        parts.append(f"{t}: {len(b)} -> {len(a)} rows; new {[r[:160] for r in new]}; "
                     f"gone {[r[:160] for r in gone]}")
    return "; ".join(parts)


def audit_verify(binary, database, data_dir, timeout=120):
    """(ok, output) of `entrepot audit verify`."""
    r = subprocess.run([binary, "audit", "verify", "--database", database, "--data-dir", data_dir,
                        "--log-level", "warn"], capture_output=True, text=True, timeout=timeout,
                       env=harness.clean_env(), stdin=subprocess.DEVNULL)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


# ---------------------------------------------------------------- PostgreSQL

class PgCluster:
    """A throwaway cluster through scripts/pg-cluster.sh."""

    SCRIPT = os.path.join(REPO, "scripts", "pg-cluster.sh")

    def __init__(self, root):
        self.dir = os.path.join(root, "pg")
        self.url = None

    @classmethod
    def attach(cls, d):
        """A cluster already started in d (not stopped by this process)."""
        pg = cls(d)
        pg.dir = os.path.abspath(d)
        pg.url = pg._run("url", pg.dir).strip().splitlines()[-1]
        return pg

    def _run(self, *args, timeout=120):
        r = subprocess.run([self.SCRIPT, *args], capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            raise Failed(f"pg-cluster.sh {' '.join(args)} failed ({r.returncode}): "
                         f"{r.stderr.strip()[-800:]}")
        return r.stdout

    def start(self):
        lines = [ln.strip() for ln in self._run("start", self.dir).splitlines() if ln.strip()]
        check(lines and lines[-1].startswith("postgres"), f"no URL from pg-cluster.sh: {lines!r}")
        self.url = lines[-1]
        return self.url

    def halt(self, mode="fast"):
        self._run("halt", self.dir, mode)

    def resume(self):
        self._run("resume", self.dir)

    def stop(self):
        try:
            self._run("stop", self.dir)
        except (Failed, OSError, subprocess.SubprocessError) as e:
            print(f"warning: {e}", file=sys.stderr)

    def reset(self):
        """Empties the `entrepot` database (its public schema) for the next
        driver: cheaper than a new database."""
        harness.psql(self.url, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                               "datname = 'entrepot' AND pid <> pg_backend_pid(); "
                               "DROP SCHEMA public CASCADE; CREATE SCHEMA public")


# ---------------------------------------------------------------- environment

class Env:
    """A temporary root with a static tree, and the database for a backend:
    an SQLite file inside, or a database on a throwaway cluster (shared by
    the drivers of one run, each starting from an empty database)."""

    def __init__(self, backend, pg=None, keep=False, prefix="entrepot-crash"):
        self.backend = backend
        self.root = tempfile.mkdtemp(prefix=f"{prefix}-{backend}-")
        os.chmod(self.root, 0o755)  # the postgres user must reach its cluster
        self.static = harness.make_static_dir(self.root)
        self.keep = keep
        self.pg = pg
        self.own_pg = False

    def database(self, name="data"):
        """A fresh database URL and its data directory."""
        data = os.path.join(self.root, name)
        os.makedirs(data, exist_ok=True)
        if self.backend == "sqlite":
            return f"sqlite:{os.path.join(data, 'entrepot.db')}", data
        if self.pg is None:
            self.pg = PgCluster(self.root)
            self.pg.start()
            self.own_pg = True
        else:
            self.pg.reset()
        return self.pg.url, data

    def server(self, binary, database, data, log_name, extra=(), env=None):
        return Server(binary, database, data, self.static, os.path.join(self.root, log_name),
                      extra_args=list(server_args()) + list(extra), env=env)

    def close(self):
        if self.own_pg and self.pg:
            self.pg.stop()
        if not self.keep:
            subprocess.run(["rm", "-rf", self.root], check=False)


def log_lines_since(path, offset):
    """(new JSON log records, new offset) of a server log."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return [], offset
    end = data.rfind(b"\n") + 1
    recs = []
    for line in data[:end].splitlines():
        if line.startswith(b"{"):
            try:
                recs.append(json.loads(line))
            except ValueError:
                pass
    return recs, offset + end


def sanitizer_report(path):
    try:
        with open(path, "rb") as f:
            m = harness.SANITIZER_RE.search(f.read().decode("utf-8", "replace"))
        return m.group(0) if m else None
    except OSError:
        return None
