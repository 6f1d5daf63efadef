"""harness.py — shared helpers of the API test tier (Python 3 stdlib only).

A test is a function `test_*(t)` in a `tests/api/test_*.py` file. `t` is a
fresh `Ctx` per test: it carries the shared server (`t.http`, `t.port`), a
raw-socket client factory (`t.raw()`), storage helpers (`t.db_counts()`,
`t.sql()`), and `t.start_server()` for tests that need their own instance
(stopped, and its exit status checked, when the test ends).

Assertions are plain `assert`/`check` calls; the message is what the runner
prints after `FAIL name:`.
"""
import contextlib
import ctypes
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time
import uuid

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HOST = "127.0.0.1"

# Markers written into the fake static tree, so tests can recognise exactly
# which file a response came from.
INDEX_MARK = "ENTREPOT-TEST-INDEX"
ASSET_MARK = "ENTREPOT-TEST-ASSET"
CSS_MARK = "ENTREPOT-TEST-CSS"
SECRET_MARK = "ENTREPOT-SECRET-OUTSIDE-ROOT"

PROBLEM_NAMES = {
    400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not-found",
    405: "method-not-allowed", 409: "conflict", 413: "too-large",
    415: "unsupported-media-type", 429: "rate-limited", 431: "header-too-large",
    500: "internal", 503: "unavailable",
}


# ---------------------------------------------------------------- assertions

class Skip(Exception):
    """Raised by a test that does not apply to this run (e.g. the backend)."""


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def short(b, n=300):
    if isinstance(b, (bytes, bytearray)):
        b = b.decode("utf-8", "replace")
    b = str(b)
    return b if len(b) <= n else b[:n] + "…"


# ---------------------------------------------------------------- responses

class Headers:
    """Case-insensitive multi-map of response headers."""

    def __init__(self, pairs):
        self.pairs = [(k, v) for k, v in pairs]

    def get(self, name, default=None):
        n = name.lower()
        for k, v in self.pairs:
            if k.lower() == n:
                return v
        return default

    def get_all(self, name):
        n = name.lower()
        return [v for k, v in self.pairs if k.lower() == n]

    def __contains__(self, name):
        return self.get(name) is not None

    def __repr__(self):
        return repr(self.pairs)


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name, default)

    @property
    def content_type(self):
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise AssertionError(f"response is not JSON ({e}): {self!r}")

    def __repr__(self):
        return f"<HTTP {self.status} {self.header('Content-Type')!r} {short(self.body, 400)!r}>"


# ---------------------------------------------------------------- http.client

class Http:
    """A small JSON-friendly client. One TCP connection per request unless a
    persistent connection is asked for with `keep()`."""

    def __init__(self, host, port, tls=None, timeout=10.0):
        self.host, self.port, self.tls, self.timeout = host, port, tls, timeout
        self.default_headers = {}

    def _conn(self, timeout=None):
        t = timeout or self.timeout
        if self.tls is not None:
            return http.client.HTTPSConnection(self.host, self.port, context=self.tls, timeout=t)
        return http.client.HTTPConnection(self.host, self.port, timeout=t)

    def request(self, method, path, body=None, headers=None, timeout=None, conn=None):
        h = dict(self.default_headers)
        h.update(headers or {})
        own = conn is None
        c = conn or self._conn(timeout)
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, r.reason, Headers(r.getheaders()), data)
        finally:
            if own:
                c.close()

    def get(self, path, headers=None, **kw):
        return self.request("GET", path, headers=headers, **kw)

    def head(self, path, headers=None, **kw):
        return self.request("HEAD", path, headers=headers, **kw)

    def post_json(self, path, obj, headers=None, **kw):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        return self.request("POST", path, body=body, headers=h, **kw)

    def post_raw(self, path, body, content_type="application/json", headers=None, **kw):
        h = {}
        if content_type is not None:
            h["Content-Type"] = content_type
        h.update(headers or {})
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.request("POST", path, body=body, headers=h, **kw)

    def keep(self, timeout=None):
        """A persistent connection to pass as conn= to request()."""
        return self._conn(timeout)


# ---------------------------------------------------------------- raw socket

class Closed(Exception):
    """The peer closed (or reset) the connection."""


class Raw:
    """A raw TCP (optionally TLS) connection for malformed and slow requests."""

    def __init__(self, port, host=HOST, timeout=10.0, tls=None):
        s = socket.create_connection((host, port), timeout=timeout)
        if tls is not None:
            s = tls.wrap_socket(s, server_hostname=host)
        self.sock = s
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise Closed(str(e))

    def readable(self, timeout=0.0):
        if self.buf:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        r, _, _ = select.select([self.sock], [], [], timeout)
        return bool(r)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            d = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError) as e:
            raise Closed(str(e))
        if not d:
            raise Closed("connection closed by peer")
        self.buf += d

    def _until(self, sep, deadline):
        while sep not in self.buf:
            self._fill(deadline)
        i = self.buf.index(sep)
        out, self.buf = self.buf[:i], self.buf[i + len(sep):]
        return out

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head=False, timeout=None):
        """Reads one response. Returns None when the connection is closed or
        reset before a complete header section arrives; raises socket.timeout
        when nothing comes in time."""
        deadline = time.monotonic() + (timeout or self.timeout)
        try:
            raw = self._until(b"\r\n\r\n", deadline)
        except Closed:
            return None
        lines = raw.split(b"\r\n")
        m = re.match(rb"HTTP/1\.[01] (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise AssertionError(f"malformed status line {lines[0]!r}")
        status = int(m.group(1))
        reason = (m.group(2) or b"").decode("latin-1")
        pairs = []
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            pairs.append((k.decode("latin-1").strip(), v.decode("latin-1").strip()))
        hdrs = Headers(pairs)
        body = b""
        try:
            if head or status in (204, 304) or 100 <= status < 200:
                pass
            elif "chunked" in (hdrs.get("Transfer-Encoding") or "").lower():
                while True:
                    size_line = self._until(b"\r\n", deadline)
                    size = int(size_line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        # trailers until an empty line
                        while self._until(b"\r\n", deadline):
                            pass
                        break
                    body += self._exact(size, deadline)
                    self._until(b"\r\n", deadline)
            elif hdrs.get("Content-Length") is not None:
                body = self._exact(int(hdrs.get("Content-Length")), deadline)
            else:
                try:
                    while True:
                        self._fill(deadline)
                except Closed:
                    body, self.buf = self.buf, b""
        except Closed:
            body, self.buf = body + self.buf, b""
        return Response(status, reason, hdrs, body)

    def wait_closed(self, timeout):
        """True when the server closes the connection within timeout (any
        bytes it sends first, such as a 408, are kept in self.buf)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._fill(deadline)
            except Closed:
                return True
            except (socket.timeout, TimeoutError):
                return False
            except OSError:
                return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def raw_request(port, data, head=False, timeout=10.0, tls=None):
    r = Raw(port, timeout=timeout, tls=tls)
    try:
        r.send(data)
        return r.read_response(head=head, timeout=timeout)
    except Closed:
        return None
    finally:
        r.close()


# ---------------------------------------------------------------- problems

def assert_problem(resp, status, name=None, path=None):
    """Checks an RFC 9457 problem response and returns its parsed body."""
    check(resp.status == status, f"expected status {status}, got {resp!r}")
    check(resp.content_type == "application/problem+json",
          f"expected application/problem+json, got {resp.header('Content-Type')!r}")
    p = resp.json()
    check(isinstance(p, dict), f"problem is not an object: {p!r}")
    name = name or PROBLEM_NAMES.get(status)
    eq(p.get("type"), f"urn:entrepot:problem:{name}", "problem type")
    eq(p.get("status"), status, "problem status member")
    check(isinstance(p.get("title"), str) and p["title"].strip(), f"problem title missing: {p!r}")
    check(isinstance(p.get("detail"), str) and p["detail"].strip(), f"problem detail missing: {p!r}")
    if path is not None:
        eq(p.get("instance"), path, "problem instance")
    rid = p.get("request_id")
    check(isinstance(rid, str) and rid, f"problem request_id missing: {p!r}")
    eq(rid, resp.header("X-Request-Id"), "problem request_id vs X-Request-Id header")
    return p


def field_errors(problem):
    errs = problem.get("errors")
    check(isinstance(errs, list) and errs, f"problem has no errors list: {problem!r}")
    for e in errs:
        check(isinstance(e, dict), f"error entry is not an object: {e!r}")
        for k in ("pointer", "field", "code", "detail"):
            check(isinstance(e.get(k), str), f"error entry lacks string {k!r}: {e!r}")
        check(e["pointer"].startswith("#"), f"pointer is not a URI-fragment JSON pointer: {e!r}")
        check(e["detail"].strip(), f"error entry has an empty detail: {e!r}")
    return errs


def assert_field_error(resp, field, codes, path="/api/v1/test/echo"):
    """400 invalid with an error entry naming `field` with a code in `codes`."""
    if isinstance(codes, str):
        codes = (codes,)
    p = assert_problem(resp, 400, "invalid", path)
    errs = field_errors(p)
    for e in errs:
        if field is None or e["field"] == field or e["pointer"] == f"#/{field}" \
                or e["field"].startswith(field + "/") or e["field"].startswith(field + "["):
            if e["code"] in codes:
                return e
    raise AssertionError(f"no error for field {field!r} with code in {codes}; errors: {errs!r}")


# ---------------------------------------------------------------- processes

_libc = None


def _die_with_parent():
    # Servers die with the runner even if it is SIGKILLed (PR_SET_PDEATHSIG).
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL("libc.so.6", use_errno=True)
        _libc.prctl(1, signal.SIGKILL)
    except OSError:
        pass


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENTREPOT_")}
    env.update(extra or {})
    return env


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


SANITIZER_RE = re.compile(r"(ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|"
                          r"SUMMARY: \w+Sanitizer)")


class Server:
    """One `entrepot serve` process on a free loopback port."""

    def __init__(self, binary, database, data_dir, static_dir, log_path, extra_args=(),
                 env=None, test_mode=True, tls_ca=None, port=None):
        self.binary = binary
        self.database = database
        self.data_dir = data_dir
        self.static_dir = static_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.env = clean_env(env)
        self.test_mode = test_mode
        self.tls = None
        if tls_ca:
            ctx = ssl.create_default_context(cafile=tls_ca)
            self.tls = ctx
        self.port = port or free_port()
        self.proc = None
        self.checked = False  # the test has already judged the exit status

    @property
    def args(self):
        a = [self.binary, "serve", "--listen", f"{HOST}:{self.port}", "--data-dir", self.data_dir,
             "--database", self.database, "--static-dir", self.static_dir]
        if self.test_mode:
            a.append("--test-mode")
        return a + self.extra_args

    def start(self, wait=True, timeout=20.0):
        os.makedirs(self.data_dir, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"### {' '.join(self.args)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                     env=self.env, cwd=self.data_dir,
                                     preexec_fn=_die_with_parent)
        log.close()
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited with {self.proc.returncode} during start-up;"
                                     f" log tail:\n{self.log_tail(20)}")
            try:
                r = self.http(timeout=2).get("/healthz")
                if r.status == 200:
                    return
                last = f"/healthz answered {r.status}"
            except (OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError(f"server not healthy after {timeout:.0f}s ({last}); log tail:\n"
                             f"{self.log_tail(20)}")

    def answers(self, timeout=3.0):
        """True when GET /healthz answers 200 within timeout."""
        try:
            return self.http(timeout=timeout).get("/healthz").status == 200
        except (OSError, http.client.HTTPException):
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout=25.0):
        """SIGTERM, wait; SIGKILL if it hangs. Returns the exit status, or
        None when it had to be killed."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_report(self):
        m = SANITIZER_RE.search(self.log_text())
        return m.group(0) if m else None

    def http(self, timeout=10.0):
        return Http(HOST, self.port, tls=self.tls, timeout=timeout)

    def raw(self, timeout=10.0):
        return Raw(self.port, timeout=timeout, tls=self.tls)


def make_static_dir(root):
    """A fake web/dist so the tier does not depend on the web build."""
    static = os.path.join(root, "static")
    os.makedirs(os.path.join(static, "assets"), exist_ok=True)
    with open(os.path.join(static, "index.html"), "w") as f:
        f.write("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                "<title>entrepot</title>\n<script type=\"module\" src=\"/assets/app-abc123.js\">"
                f"</script></head>\n<body><div id=\"app\">{INDEX_MARK}</div></body></html>\n")
    with open(os.path.join(static, "assets", "app-abc123.js"), "w") as f:
        f.write(f"console.log(\"{ASSET_MARK}\");\n" + "// padding\n" * 50)
    with open(os.path.join(static, "assets", "app-abc123.css"), "w") as f:
        f.write(f"/* {CSS_MARK} */ body {{ margin: 0 }}\n")
    # A file right next to the static root that traversal must never reach.
    with open(os.path.join(root, "secret.txt"), "w") as f:
        f.write(SECRET_MARK + "\n")
    return static


# ---------------------------------------------------------------- storage

def psql(url, sql, timeout=20):
    r = subprocess.run(["psql", url, "-X", "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                       capture_output=True, text=True, timeout=timeout,
                       env=clean_env({"PGCONNECT_TIMEOUT": "5"}))
    if r.returncode != 0:
        raise AssertionError(f"psql failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def sqlite_path(url):
    return url[len("sqlite:"):] if url.startswith("sqlite:") else url


def sqlite_query(url, sql, params=()):
    con = sqlite3.connect(sqlite_path(url), timeout=10)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def table_counts(backend, url):
    """{table: row count} for every user table of the database."""
    if backend == "sqlite":
        con = sqlite3.connect(sqlite_path(url), timeout=10)
        try:
            # Virtual tables (FTS5 with the server's own tokenizer) cannot be
            # read here; their shadow tables are ordinary and counted instead.
            names = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                " AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL TABLE%'")]
            return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
        finally:
            con.close()
    names = [n for n in psql(url, "SELECT tablename FROM pg_tables WHERE schemaname='public' "
                                  "ORDER BY 1").split("\n") if n]
    if not names:
        return {}
    q = " UNION ALL ".join(f"SELECT '{n}', count(*) FROM public.\"{n}\"" for n in names)
    out = {}
    for line in psql(url, q).splitlines():
        n, _, c = line.rpartition("|")
        out[n] = int(c)
    return out


@contextlib.contextmanager
def own_server(t, env=None):
    """A server with a database of its own (its own SQLite file, or a new
    PostgreSQL database dropped afterwards), for tests that need an empty
    database or change instance-wide state; yields (server, http)."""
    name = None
    if t.backend == "sqlite":
        srv = t.start_server(env=env)
    else:
        name = "own_" + uuid.uuid4().hex[:10]
        psql(t.database, f"CREATE DATABASE {name}")
        srv = t.start_server(env=env, database=t.database.rsplit("/", 1)[0] + "/" + name)
    try:
        yield srv, srv.http()
    finally:
        if name:
            srv.stop()
            srv.checked = True
            psql(t.database, f"DROP DATABASE {name} WITH (FORCE)")


# ---------------------------------------------------------------- per-test context

class Ctx:
    """What a test function receives."""

    def __init__(self, run, name):
        self.run = run
        self.name = name
        self.server = run.server
        self.port = run.server.port
        self.http = run.server.http()
        self.backend = run.backend
        self.bin = run.bin
        self.database = run.database
        self.static_dir = run.static_dir
        self.repo = REPO
        self._servers = []
        self._closers = []
        self._seq = 0

    # -- clients
    def raw(self, port=None, timeout=10.0, tls=None):
        r = Raw(port or self.port, timeout=timeout, tls=tls)
        self._closers.append(r.close)
        return r

    def raw_request(self, data, head=False, timeout=10.0, port=None):
        return raw_request(port or self.port, data, head=head, timeout=timeout)

    # -- files and processes
    def tmpdir(self, prefix="t"):
        self._seq += 1
        d = tempfile.mkdtemp(prefix=f"{prefix}-", dir=self.run.tmp)
        os.chmod(d, 0o755)
        return d

    def start_server(self, extra_args=(), env=None, test_mode=True, tls_ca=None, database=None,
                     wait=True):
        d = self.tmpdir("srv")
        if database is None:
            database = (f"sqlite:{os.path.join(d, 'data', 'entrepot.db')}"
                        if self.backend == "sqlite" else self.database)
        srv = Server(self.bin, database, os.path.join(d, "data"), self.static_dir,
                     os.path.join(self.run.log_dir, f"{self.name}-{len(self._servers)}.log"),
                     extra_args=extra_args, env=env, test_mode=test_mode, tls_ca=tls_ca)
        self._servers.append(srv)
        srv.start(wait=wait)
        return srv

    def run_bin(self, args, env=None, timeout=30, cwd=None):
        return subprocess.run([self.bin] + list(args), capture_output=True, text=True,
                              timeout=timeout, env=clean_env(env), cwd=cwd or self.tmpdir("cwd"),
                              stdin=subprocess.DEVNULL)

    # -- storage
    def db_counts(self, database=None):
        return table_counts(self.backend, database or self.database)

    def sql(self, query, database=None):
        """Rows as lists of strings (postgres) or tuples (sqlite)."""
        url = database or self.database
        if self.backend == "sqlite":
            return sqlite_query(url, query)
        return [line.split("|") for line in psql(url, query).splitlines()]

    def assert_storage_unchanged(self, before, what="rejected requests"):
        after = self.db_counts()
        check("instance" in before, f"table 'instance' missing from the database: {before!r}")
        eq(after, before, f"row counts after {what}")

    # -- cleanup
    def cleanup(self):
        problems = []
        for c in self._closers:
            c()
        for s in self._servers:
            rc = s.stop()
            if not s.checked:
                if rc is None:
                    problems.append(f"own server {s.port} ignored SIGTERM and was killed")
                elif rc != 0:
                    problems.append(f"own server {s.port} exited {rc} on SIGTERM")
            rep = s.sanitizer_report()
            if rep:
                problems.append(f"own server {s.port} log has a sanitizer report: {rep}")
        return problems

    def log_tails(self):
        return [(s.log_path, s.log_tail(30)) for s in self._servers]


def self_signed_cert(directory):
    """(cert, key) for 127.0.0.1, made with the openssl CLI."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", key, "-out", cert], capture_output=True, text=True, timeout=30)
    check(r.returncode == 0, f"openssl failed: {r.stderr}")
    os.chmod(key, 0o600)
    return cert, key


def which(name):
    return shutil.which(name)
