"""The bad-input catalogue (issue 6, item 6): hostile requests listed as data
in tests/api/badinput/*.jsonl, one test per family file, run against the
shared test-mode server. docs/reliability.md lists the families.

One case per line, a JSON object:

  name            unique within the family
  note            what the case is about (free text)
  raw             the request bytes as a string in which every character is
                  one byte (U+0000..U+00FF, i.e. Latin-1), so "\\r\\n",
                  "\\u0000" and "\\u00ff" are the bytes 0D 0A, 00 and FF
  -- or the builder, for requests that are well-formed HTTP:
  method          default "GET"
  path            default "/api/v1/ping"; Latin-1 like raw
  version         default "HTTP/1.1"
  headers         list of [name, value] pairs (duplicates allowed), Latin-1
  json            a JSON value sent as the UTF-8 body
  body            a string sent as the UTF-8 body
  body_latin1     a string sent byte per character (for invalid UTF-8)
  body_hex        the body in hex
  pad_to          pad the body with spaces to this many bytes
  Any of raw, path, body, body_latin1 and a header name or value may also be
  a list of parts, for long inputs: a string as is, [unit, count] for unit
  (itself a string or parts) repeated count times, {"fmt": F, "n": N} for
  F % i for i in 0..N-1 (distinct member names and such).
  Unless already present the builder adds Host: 127.0.0.1, Content-Type:
  application/json and Content-Length when there is a body, and
  Connection: close. "omit" lists default headers not to add ("Host",
  "Content-Length", "Content-Type", "Connection").
  stream          after the request, send a chunked body of `chunks` chunks
                  of `size` bytes ("x"), then the last chunk when `end` is
                  true ("framing": false: the bytes without chunk framing);
                  sending stops as soon as the server answers or closes.
                  `max_sent` bounds what the server may swallow; what the
                  kernel's socket buffers can hold on loopback (our send
                  buffer and the largest receive window, read at run time)
                  is allowed on top, and the stream is made long enough
                  that a server that never cuts is still caught.

  expect_status   an int or a list; the list may hold "closed" when closing
                  the connection without an answer is a safe outcome
  expect_problem  the problem name (urn:entrepot:problem:NAME) an error
                  response must carry, or null when any body will do
  expect_codes    codes of which at least one field error must carry one
  expect_field    ... on this field (with expect_codes; "json" errors are
                  about the whole document and match any field)
  echo            true: a 200 must be application/json with nosniff, every
                  member of `json` echoed back equal and its JSON text
                  present verbatim
  forbid          extra substrings no response body may contain
  forbid_headers  [name, substring] pairs no response header may match
                  (an empty substring: the header must be absent)
  forbid_continue true: no "100 Continue" may be sent
  only_index_200  a 200 must be the SPA index or the test asset (static
                  traversal: never any other file)
  smuggle         a marker in the path of a request hidden in the body: no
                  second response may come back on the connection, and the
                  marker must never reach the access log (never executed)
  closes          true: after the answer the connection must be closed
  timeout         seconds to wait for the answer (default 5)

Every case also checks: no body contains the file outside the static root,
/etc/passwd, the database, the master key, the process's command line or
environment, or C source; JSON bodies parse; the server answers
GET /api/v1/ping afterwards on a fresh connection; and the row counts of
every table and the instance table's content are unchanged. All failing
cases of a family are reported together, one line each.
"""
import glob
import json
import os
import socket
import sqlite3
import subprocess
import time

from harness import (ASSET_MARK, INDEX_MARK, SECRET_MARK, Closed, Raw, check, clean_env, short,
                     sqlite_path)

HERE = os.path.dirname(os.path.abspath(__file__))
CATALOGUE = os.path.join(HERE, "badinput")

KEYS = {"name", "note", "raw", "method", "path", "version", "headers", "json", "body",
        "body_latin1", "body_hex", "pad_to", "omit", "stream", "expect_status",
        "expect_problem", "expect_codes", "expect_field", "echo", "forbid", "forbid_headers",
        "forbid_continue", "only_index_200", "smuggle", "closes", "timeout"}

# Bytes that must never be served, whatever the request: the file next to
# the static root, /etc/passwd, SQLite files, ELF binaries (/proc/self/exe),
# the master key file, /proc/self/cmdline and environ, source files.
# Tables the server's own job scheduler writes on its schedule (the queue and
# the retention job's bookkeeping), whatever the requests: not compared. A
# family starts once no job is running or due, so a job's own deletions of
# expired rows cannot land inside it either.
BACKGROUND_TABLES = {"jobs", "retention_runs"}

ALWAYS_FORBIDDEN = [SECRET_MARK, "root:", "SQLite format 3", "\x7fELF", "entrepot master keys",
                    "--static-dir", "#include <", "PATH=/"]


def load_family(path):
    cases = []
    names = set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{os.path.basename(path)}:{n}"
            try:
                c = json.loads(line)
            except ValueError as e:
                raise AssertionError(f"{where}: not JSON: {e}")
            check(isinstance(c, dict), f"{where}: not an object")
            unknown = set(c) - KEYS
            check(not unknown, f"{where}: unknown keys {sorted(unknown)}")
            for k in ("name", "note", "expect_status", "expect_problem"):
                check(k in c, f"{where}: missing {k!r}")
            check(c["name"] not in names, f"{where}: duplicate name {c['name']!r}")
            names.add(c["name"])
            cases.append(c)
    return cases


def expand(v):
    """A string, or a list of parts (see the module docstring)."""
    if isinstance(v, str):
        return v
    out = []
    for p in v:
        if isinstance(p, str):
            out.append(p)
        elif isinstance(p, list):
            out.append(expand(p[0]) * p[1])
        else:
            out.append("".join(p["fmt"] % i for i in range(p["n"])))
    return "".join(out)


def _latin1(s):
    return expand(s).encode("latin-1")


def case_body(c):
    if "json" in c:
        body = json.dumps(c["json"], ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    elif "body" in c:
        body = expand(c["body"]).encode("utf-8")
    elif "body_latin1" in c:
        body = _latin1(c["body_latin1"])
    elif "body_hex" in c:
        body = bytes.fromhex(c["body_hex"])
    else:
        return None
    if "pad_to" in c:
        body += b" " * (c["pad_to"] - len(body))
    return body


def build_request(c):
    """The request head (or all of a raw request) and the body bytes."""
    if "raw" in c:
        return _latin1(c["raw"]), b""
    method = c.get("method", "GET")
    path = expand(c.get("path", "/api/v1/ping"))
    version = c.get("version", "HTTP/1.1")
    headers = [(expand(k), expand(v)) for k, v in c.get("headers", [])]
    body = case_body(c)
    omit = {h.lower() for h in c.get("omit", [])}
    have = {k.lower() for k, _ in headers}
    if "host" not in have and "host" not in omit:
        headers.insert(0, ("Host", "127.0.0.1"))
    if body is not None or "stream" in c:
        if "content-type" not in have and "content-type" not in omit:
            headers.append(("Content-Type", "application/json"))
    if body is not None and not ({"content-length", "transfer-encoding"} & have) \
            and "content-length" not in omit:
        headers.append(("Content-Length", str(len(body))))
    if "connection" not in have and "connection" not in omit:
        headers.append(("Connection", "close"))
    head = f"{method} {path} {version}\r\n".encode("latin-1")
    for k, v in headers:
        head += k.encode("latin-1") + b": " + v.encode("latin-1") + b"\r\n"
    return head + b"\r\n", body or b""


def _send_until_answer(raw, data, step=65536):
    """Sends data piecewise, stopping early when the server answers or
    closes. Returns the bytes sent."""
    for i in range(0, len(data), step):
        if raw.readable(0):
            return i
        try:
            raw.send(data[i:i + step])
        except (Closed, OSError):
            return i
    return len(data)


def _stream_bound(raw, spec):
    """The stream to send, the max_sent bound and the slack for bytes the
    kernel buffers between us and the server (unread when it closes): the
    client's send buffer plus the receive window ceiling (tcp_rmem max),
    which autotuning reaches when the server reads slowly (sanitizers)."""
    cap = spec.get("max_sent")
    if cap is None:
        return spec, None, 0
    slack = raw.sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    try:
        with open("/proc/sys/net/ipv4/tcp_rmem", encoding="ascii") as f:
            slack += int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        slack += 6 * 1024 * 1024  # Linux's default ceiling
    spec = dict(spec, chunks=max(spec["chunks"], (cap + slack) // spec["size"] + 2))
    return spec, cap, slack


def _stream(raw, spec):
    """Sends the body of a `stream` spec, several chunks per write; returns
    the data bytes sent."""
    size = spec["size"]
    if spec.get("framing", True):
        payload = f"{size:x}\r\n".encode() + b"x" * size + b"\r\n"
    else:
        payload = b"x" * size
    per = max(1, 65536 // len(payload))
    sent = 0
    left = spec["chunks"]
    while left > 0:
        if raw.readable(0):
            return sent
        n = min(per, left)
        try:
            raw.send(payload * n)
        except (Closed, OSError):
            return sent
        sent += n * size
        left -= n
    if spec.get("end"):
        try:
            raw.send(b"0\r\n\r\n")
        except (Closed, OSError):
            pass
    return sent


class Storage:
    """Row counts of every table plus the instance table's content, read
    after every case: in-process for SQLite, through one long-lived psql
    session for PostgreSQL (a psql process per case costs ~0.3 s)."""

    END = "__catalogue_end__"

    def __init__(self, t):
        self.backend = t.backend
        self.tables = sorted(set(t.db_counts()) - BACKGROUND_TABLES)
        self.has_jobs = "jobs" in t.db_counts()
        check("instance" in self.tables, f"table 'instance' missing: {self.tables}")
        counts = " UNION ALL ".join(f"SELECT '{n}', CAST(count(*) AS TEXT) FROM \"{n}\""
                                    for n in self.tables)
        if self.backend == "sqlite":
            self.con = sqlite3.connect(f"file:{sqlite_path(t.database)}?mode=ro", uri=True,
                                       timeout=10)
            self.q_counts = counts
        else:
            self.psql = subprocess.Popen(
                ["psql", t.database, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=0"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                text=True, env=clean_env({"PGCONNECT_TIMEOUT": "5"}))
            self.q_all = (counts + " UNION ALL SELECT '#instance', coalesce(md5(string_agg("
                          "concat_ws('|', id, key, value, updated_at), ',' ORDER BY id)), '') "
                          "FROM instance")

    def _pg(self, sql):
        self.psql.stdin.write(sql + ";\n\\echo " + self.END + "\n")
        self.psql.stdin.flush()
        rows = []
        while True:
            line = self.psql.stdout.readline()
            check(line, "the psql session ended")
            line = line.rstrip("\n")
            if line == self.END:
                return rows
            rows.append(line)

    def _jobs_busy(self):
        now_ms = int(time.time() * 1000)
        q = (f"SELECT count(*) FROM jobs WHERE state = 'running' OR "
             f"(state = 'queued' AND run_at <= {now_ms})")
        if self.backend == "sqlite":
            return self.con.execute(q).fetchone()[0] > 0
        return int(self._pg(q)[0]) > 0

    def settle(self, timeout=10.0):
        """Waits until the job worker has nothing running or due."""
        deadline = time.monotonic() + timeout
        while self.has_jobs and self._jobs_busy() and time.monotonic() < deadline:
            time.sleep(0.1)

    def snapshot(self):
        if self.backend == "sqlite":
            snap = {n: c for n, c in self.con.execute(self.q_counts)}
            snap["#instance"] = self.con.execute(
                "SELECT id, key, value, updated_at FROM instance ORDER BY id").fetchall()
            return snap
        snap = {}
        for line in self._pg(self.q_all):
            n, sep, v = line.rpartition("|")
            check(sep, f"unexpected psql output {line!r}")
            snap[n] = v
        return snap

    def close(self):
        if self.backend == "sqlite":
            self.con.close()
            return
        try:
            self.psql.stdin.close()
            self.psql.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.psql.kill()
            self.psql.wait()


class Family:
    def __init__(self, t, name):
        self.t = t
        self.name = name
        self.failures = []
        self.storage = Storage(t)
        self.storage.settle()
        self.counts = self._counts()
        self.snap = self.storage.snapshot()
        self.forbidden = list(ALWAYS_FORBIDDEN)
        try:
            with open("/etc/passwd", encoding="utf-8", errors="replace") as f:
                first = f.readline().strip()
            if first:
                self.forbidden.append(first)
        except OSError:
            pass
        try:  # the master keys: "ID:HEX" lines
            with open(os.path.join(t.server.data_dir, "master.key"), encoding="latin-1") as f:
                for line in f:
                    hexkey = line.strip().rpartition(":")[2]
                    if not line.startswith("#") and len(hexkey) >= 32:
                        self.forbidden.append(hexkey)
        except OSError:
            pass

    def run(self, c):
        errs = []
        try:
            self._run(c, errs)
        except AssertionError as e:
            errs.append(str(e))
        except (OSError, ValueError) as e:
            errs.append(f"{type(e).__name__}: {e}")
        if not self._ping():
            errs.append("GET /api/v1/ping failed afterwards")
        self.failures.extend(f"{c['name']}: {e}" for e in errs)

    def _ping(self):
        """The server still answers a normal request on a fresh connection."""
        for _ in range(3):
            try:
                r = Raw(self.t.port, timeout=3)
                try:
                    r.send("GET /api/v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    resp = r.read_response(timeout=3)
                finally:
                    r.close()
                if resp is not None and resp.status == 200:
                    return True
            except (OSError, Closed):
                pass
            time.sleep(0.1)
        return False

    def _run(self, c, errs):
        head, body = build_request(c)
        timeout = c.get("timeout", 5)
        expect = c["expect_status"]
        expect = expect if isinstance(expect, list) else [expect]
        raw = Raw(self.t.port, timeout=timeout)
        try:
            try:
                raw.send(head)
                if body:
                    _send_until_answer(raw, body)
                if "stream" in c:
                    spec, cap, slack = _stream_bound(raw, c["stream"])
                    sent = _stream(raw, spec)
                    if cap is not None and sent > cap + slack:
                        errs.append(f"the server swallowed {sent} streamed bytes (bound {cap} "
                                    f"plus {slack} the kernel's socket buffers may hold)")
            except Closed:
                pass  # the server closed while we sent: read what it said
            try:
                resp = raw.read_response(timeout=timeout)
                while resp is not None and 100 <= resp.status < 200:
                    if c.get("forbid_continue"):
                        errs.append(f"interim {resp.status} sent: the client was invited to "
                                    f"send a body that will be refused")
                    resp = raw.read_response(timeout=timeout)
            except (socket.timeout, TimeoutError):
                errs.append(f"neither an answer nor a close within {timeout}s")
                return
            got = "closed" if resp is None else resp.status
            if got not in expect:
                errs.append(f"expected {expect}, got {got}"
                            + (f" {resp!r}" if resp is not None else ""))
            if resp is None:
                return
            self._check_response(c, resp, errs)
            if c.get("smuggle") or c.get("closes"):
                self._check_after(c, raw, errs)
        finally:
            raw.close()
        if c.get("smuggle"):
            time.sleep(0.02)
            if f'/{c["smuggle"]}"' in self.t.server.log_text():
                errs.append(f"the request hidden in the body ({c['smuggle']}) was executed "
                            f"(it is in the access log)")

    def _check_after(self, c, raw, errs):
        """Nothing more on the connection: no second response, and closed
        when the case says so."""
        try:
            second = raw.read_response(timeout=0.3)
        except (socket.timeout, TimeoutError):
            if c.get("closes"):
                errs.append("the connection was left open after the answer (it must be "
                            "closed: the framing was ambiguous)")
            return
        except AssertionError:
            errs.append(f"bytes after the answer: {short(raw.buf, 120)!r}")
            return
        if second is not None:
            errs.append(f"a second response came back on the connection: {second!r}")

    def _check_response(self, c, resp, errs):
        body = resp.body.decode("latin-1")
        for s in self.forbidden + c.get("forbid", []):
            if s in body:
                errs.append(f"the response body contains forbidden {short(s, 40)!r}: {resp!r}")
        for name, sub in c.get("forbid_headers", []):
            for v in resp.headers.get_all(name):
                if sub in v:
                    errs.append(f"response header {name}: {short(v, 80)!r} (forbidden)")
        doc = None
        if resp.content_type in ("application/json", "application/problem+json") and resp.body:
            try:
                doc = json.loads(resp.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                errs.append(f"{resp.content_type} body is not JSON ({e}): {resp!r}")
                return
        name = c.get("expect_problem")
        if name and resp.status >= 400:
            if resp.content_type != "application/problem+json":
                errs.append(f"expected problem {name}, got Content-Type "
                            f"{resp.header('Content-Type')!r}: {resp!r}")
            elif not isinstance(doc, dict) or doc.get("type") != f"urn:entrepot:problem:{name}":
                errs.append(f"expected problem {name}, got {short(resp.body, 200)!r}")
            elif doc.get("status") != resp.status:
                errs.append(f"problem status member {doc.get('status')!r} != {resp.status}")
            elif c.get("expect_codes"):
                fld = c.get("expect_field")
                es = [e for e in doc.get("errors") or [] if isinstance(e, dict)]
                hit = [e for e in es if e.get("code") in c["expect_codes"]
                       and (fld is None or e.get("code") == "json" or e.get("field") == fld
                            or str(e.get("field", "")).startswith(fld + "/")
                            or e.get("pointer") == f"#/{fld}")]
                if not hit:
                    errs.append(f"no error with code in {c['expect_codes']}"
                                + (f" on {fld}" if fld else "")
                                + f"; errors: {short(str(es), 300)}")
        if c.get("only_index_200") and resp.status == 200:
            if INDEX_MARK not in body and ASSET_MARK not in body:
                errs.append(f"200 with something other than the index or the asset: {resp!r}")
        if c.get("echo") and resp.status == 200:
            if resp.content_type != "application/json" or not isinstance(doc, dict):
                errs.append(f"echo served as {resp.header('Content-Type')!r}: {resp!r}")
                return
            if (resp.header("X-Content-Type-Options") or "").lower() != "nosniff":
                errs.append("echo lacks X-Content-Type-Options: nosniff")
            text = resp.body.decode("utf-8")
            for k, v in c["json"].items():
                if doc.get(k) != v:
                    errs.append(f"{k} echoed as {doc.get(k)!r}, sent {v!r}")
                    continue
                sent = json.dumps(v, ensure_ascii=False, separators=(",", ":"))
                if f'"{k}":{sent}' not in text:
                    errs.append(f"{k}: JSON text {short(sent, 80)!r} not verbatim in "
                                f"{short(text, 200)!r}")

    def check_storage(self, c):
        snap = self.storage.snapshot()
        if snap != self.snap:
            what = [k for k in sorted(set(snap) | set(self.snap))
                    if snap.get(k) != self.snap.get(k)]
            self.failures.append(f"{c['name']}: stored data changed ({', '.join(what)})")
            self.snap = snap

    def _counts(self):
        return {n: c for n, c in self.t.db_counts().items() if n not in BACKGROUND_TABLES}

    def finish(self):
        """All tables, new ones included, have the row counts they started with."""
        self.storage.close()
        counts = self._counts()
        if counts != self.counts:
            self.failures.append(f"row counts changed over the family: {self.counts} -> {counts}")

    def report(self, ncases):
        if self.failures:
            shown = self.failures[:60]
            more = len(self.failures) - len(shown)
            raise AssertionError(f"{len(self.failures)} failure(s) in {ncases} cases of "
                                 f"{self.name}:\n    " + "\n    ".join(shown)
                                 + (f"\n    ... and {more} more" if more else ""))


def run_family(t, path):
    cases = load_family(path)
    fam = Family(t, os.path.basename(path))
    t0 = time.monotonic()
    slow = []
    try:
        for c in cases:
            t1 = time.monotonic()
            fam.run(c)
            fam.check_storage(c)
            dt = time.monotonic() - t1
            if dt >= 0.5:
                slow.append(f"{c['name']} {dt:.1f}s")
    finally:
        fam.finish()
    print(f"# catalogue {fam.name}: {len(cases)} cases, {len(fam.failures)} failure(s), "
          f"{time.monotonic() - t0:.1f}s" + (f"; slow: {', '.join(slow)}" if slow else ""),
          flush=True)
    fam.report(len(cases))


def _make_test(path):
    def test(t):
        run_family(t, path)
    return test


# One test per family file: test_bodies, test_framing, ...
for _path in sorted(glob.glob(os.path.join(CATALOGUE, "*.jsonl"))):
    _fn = _make_test(_path)
    _fn.__name__ = _fn.__qualname__ = "test_" + os.path.basename(_path)[:-6].replace("-", "_")
    globals()[_fn.__name__] = _fn
