#!/usr/bin/env python3
"""faults.py — injected I/O errors and full disks (issue 6, item 4).

    tests/crash/faults.py --backend sqlite|postgres --bin build/default-fault/entrepot \\
        [--plain-bin build/default/entrepot] [--only walk|file|migrate|diskfull]

Needs a fault-injection build (`make FAULT_INJECTION=1`, see src/core/fault.h).

walk      For each main request path (code request, registration, password
          sign-in, profile edit, sign-out) and each fault (db-io, db-full;
          on SQLite also sqlio-io and sqlio-full, failing SQLite's own writes
          and fsyncs through a VFS shim), N goes 1, 2, 3... over every
          database call the request makes (X-Request-Id: fault-db-io-N-...)
          until the request makes fewer than N calls. Each faulted request
          must answer a 5xx problem+json (or succeed whole, if the call's
          failure is harmless), leave every table exactly as before (full
          snapshots compared), and the same request without fault must then
          succeed (the registration with the very same code: the failed
          attempt consumed nothing). At the end: invariants, integrity,
          `audit verify`.
file      Process-wide plans on file writes (ENTREPOT_FAULT_PLAN=file-...):
          the master key's creation at first start and `keys rotate` fail
          at every write and fsync in turn; the key file must stay whole
          (the old ring or the new one), the server must start and read the
          accounts it had, and a rotation without fault must then work.
migrate   `entrepot migrate` on an empty database with its Nth database call
          failing, for every N (CI: every third, from a random start): a
          failure applies whole migrations only (the schema then equals that
          of a clean run after a retry).
diskfull  SQLite only, plain build: the data directory on a tiny tmpfs
          (mounted when permitted, else RLIMIT_FSIZE), filled up: writes are
          refused with 503 problem+json, reads keep working, and once space
          is freed writes work again without a restart.

Prints one `ok NAME` / `FAIL NAME: why` line per test and
`faults(BACKEND): P passed, F failed`.
"""
import argparse
import os
import random
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402
from common import Failed, check  # noqa: E402

PASSWORD = "correct horse battery staple 7"
PROBLEM_5XX = {500: "internal", 503: "unavailable"}
# Tables a failed request may change, and why:
#  rate_limits  sending codes and guessing passwords are counted before the
#               work that may fail: a failed attempt still counts.
SKIP_TABLES = ("rate_limits",)


# ---------------------------------------------------------------- request paths

class Op:
    """One request path. setup: state for one faulted request (no faults);
    send: the request; ok: the statuses of success; after: checks once the
    retry succeeded."""

    name = ""
    ok = (200,)
    degraded = ()  # success answers allowed when a call the answer needs failed

    def __init__(self, w):
        self.w = w

    def setup(self):
        return {}

    def send(self, st, rid=None):
        raise NotImplementedError

    def after(self, st, resp):
        pass

    def next(self, st, where):
        """The request after a failed one, which must succeed: by default
        the same request again (which shows the failure consumed nothing)."""
        r = self.send(st)
        check(r.status in self.ok, f"{where}: the same request without fault failed: {r!r}")
        self.after(st, r)


class Codes(Op):
    name = "code request"
    ok = (202,)

    def setup(self):
        return {"phone": common.new_phone()}

    def send(self, st, rid=None):
        self.w.cl.ip = common.random_ip()
        return common.request_code(self.w.cl, st["phone"], rid=rid)

    def after(self, st, resp):
        check(common.outbox_codes(self.w.cl, st["phone"]), "no message after the code request")


class Register(Op):
    name = "registration"
    ok = (201,)

    def setup(self):
        cl = self.w.cl
        cl.ip = common.random_ip()
        phone = common.new_phone()
        attempt, code = common.start_registration(cl, phone)
        return {"phone": phone, "attempt": attempt, "code": code, "name": "r" + phone[-6:]}

    def send(self, st, rid=None):
        return self.w.cl.post("/api/v1/auth/register",
                              common.register_body(st["phone"], st["attempt"], st["code"],
                                                   st["name"]), rid=rid)

    def after(self, st, resp):
        r = common.me(self.w.cl, resp.json()["token"])
        check(r.status == 200 and r.json()["phone"] == common.e164(st["phone"]),
              f"the new account does not read back: {r!r}")


class Login(Op):
    """Password sign-in from a known device and network (argon2id each time)."""

    name = "password sign-in"
    ok = (200,)

    def __init__(self, w):
        super().__init__(w)
        self.acct = None

    def setup(self):
        if self.acct is None:
            cl = common.Client(self.w.port)
            phone = common.new_phone()
            attempt, code = common.start_registration(cl, phone)
            r = cl.post("/api/v1/auth/register",
                        common.register_body(phone, attempt, code, "login", PASSWORD))
            check(r.status == 201, f"registration with a password: {r!r}")
            cl.device_token = r.json().get("device_token")
            check(cl.device_token, f"no device token for the app: {r!r}")
            self.acct = (cl, phone)
        return {}

    def send(self, st, rid=None):
        cl, phone = self.acct
        return cl.post("/api/v1/auth/login", {"login": phone, "password": PASSWORD,
                                              "client": "app"}, rid=rid)

    def after(self, st, resp):
        r = common.me(self.acct[0], resp.json()["token"])
        check(r.status == 200, f"the new session does not work: {r!r}")

    def next(self, st, where):
        # A password sign-in consumes nothing and costs an argon2id hash:
        # the next request is a cheap write instead (one that needs the
        # write lock, so a connection left holding it would show). The walk
        # ends with a faultless sign-in anyway.
        self.w.cl.ip = common.random_ip()
        r = common.request_code(self.w.cl, common.new_phone())
        check(r.status == 202, f"{where}: the next request (a code request) failed: {r!r}")


class Profile(Op):
    name = "profile edit"
    degraded = (204,)  # saved, but the profile could not be read back for the answer

    def __init__(self, w):
        super().__init__(w)
        self.token = None
        self.seq = 0

    def setup(self):
        if self.token is None or self.seq % 25 == 0:  # 60 edits an hour per account
            _, self.token = common.register(self.w.cl, common.new_phone(), "p0")
        self.seq += 1
        return {"value": f"p{self.seq}-{uuid.uuid4().hex[:6]}"}

    def send(self, st, rid=None):
        return self.w.cl.request("PATCH", "/api/v1/me", {"display_name": st["value"],
                                                         "company": st["value"]},
                                 token=self.token, rid=rid)

    def after(self, st, resp):
        j = common.me(self.w.cl, self.token).json()
        check(j["display_name"] == st["value"] and j["company"] == st["value"],
              f"the edit does not read back: {j!r}")


class Logout(Op):
    name = "sign-out"
    ok = (204,)

    def setup(self):
        self.w.cl.ip = common.random_ip()
        _, token = common.register(self.w.cl, common.new_phone(), "l")
        # One authenticated read first: the session is then in the node's
        # cache, as it is for a user who has been using the site.
        check(common.me(self.w.cl, token).status == 200, "fresh session does not work")
        return {"token": token}

    def send(self, st, rid=None):
        return self.w.cl.post("/api/v1/auth/logout", token=st["token"], rid=rid)

    def after(self, st, resp):
        r = common.me(self.w.cl, st["token"])
        check(r.status == 401, f"the session still works after sign-out: {r!r}")


OPS = [Codes, Register, Login, Profile, Logout]


# ---------------------------------------------------------------- the walk

class Walk:
    def __init__(self, args, env):
        self.args = args
        self.env = env
        self.database, self.data = env.database("walk")
        self.db = common.Database(args.backend, self.database)
        self.srv = env.server(args.bin, self.database, self.data, "walk.log",
                              env={"ENTREPOT_FAULTS": "1"})
        self.log_off = 0
        self.port = None
        self.cl = None
        self.stats = {}   # (op, plan) -> calls walked
        self.status = {}  # status -> count
        self.internal = []  # (op, plan, what) answered 500, not 503
        self.findings = []
        self.has_jobs = None
        self.redone = 0

    def quiet(self):
        """Waits until the background workers (message delivery, the job
        queue) have nothing due: they change tables on their own schedule."""
        if self.has_jobs is None:
            self.has_jobs = "jobs" in self.db.tables()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            due = int(time.time() * 1000) + 1000
            q = ("SELECT COUNT(*) FROM outbox WHERE status = 'sending' OR "
                 f"(status = 'pending' AND next_attempt_at <= {due})")
            if self.has_jobs:
                q = (f"SELECT ({q}) + (SELECT COUNT(*) FROM jobs WHERE state = 'running' OR "
                     f"(state = 'queued' AND run_at <= {due}))")
            if int(self.db.query(q)[0][0]) == 0:
                return
            time.sleep(0.005)
        raise Failed("the background workers did not go quiet within 10 s")

    def fired(self, rid):
        recs, self.log_off = common.log_lines_since(self.srv.log_path, self.log_off)
        for r in recs:
            if r.get("rid") == rid and r.get("msg") == "fault: injected":
                return r
        return None

    def step(self, op, plan, n):
        """One faulted request; True while N was reached."""
        st = op.setup()
        self.quiet()
        before = self.db.snapshot(SKIP_TABLES)
        _, self.log_off = common.log_lines_since(self.srv.log_path, self.log_off)
        rid = f"fault-{plan}-{n}-{uuid.uuid4().hex[:10]}"
        resp = op.send(st, rid)
        hit = self.fired(rid)
        where = f"{op.name}, {plan} at call {n}"
        if hit is None:
            check(resp.status in op.ok, f"{where} (not reached): {resp!r}")
            op.after(st, resp)
            return False
        where += f" ({hit.get('what')})"
        self.status[resp.status] = self.status.get(resp.status, 0) + 1
        if resp.status in op.ok + op.degraded:
            # The failed call was one whose failure the path may ignore (or
            # work around); then the request must have done all it says.
            op.after(st, resp)
            return True
        else:
            check(resp.status in PROBLEM_5XX, f"{where}: expected 500/503, got {resp!r}")
            try:
                harness.assert_problem(resp, resp.status, PROBLEM_5XX[resp.status])
            except AssertionError as e:
                raise Failed(f"{where}: not a clean problem: {e}")
            if resp.status == 500:
                self.internal.append(where)
            self.quiet()
            after = self.db.snapshot(SKIP_TABLES)
            if before.get("jobs") != after.get("jobs") and self.redone < 20:
                # A scheduled job ran in between: the comparison would be
                # unfair. Walk this N again (the request failed cleanly).
                self.redone += 1
                return self.step(op, plan, n)
            diff = common.snapshot_diff(before, after)
            check(not diff, f"{where}: the failed request left writes behind: {diff}")
        op.next(st, where)
        return True

    def run(self, plans):
        self.srv.start(wait=True, timeout=30)
        self.port = self.srv.port
        self.cl = common.Client(self.port)
        try:
            for op_cls in OPS:
                op = op_cls(self)
                for plan in plans:
                    n = 1
                    while True:
                        try:
                            if not self.step(op, plan, n):
                                break
                        except Failed as e:
                            # Keep walking: one report lists every finding.
                            self.findings.append(str(e))
                            if len(self.findings) >= 200:
                                raise Failed(f"200 findings, walk stopped; first: "
                                             f"{self.findings[0][:600]}")
                        n += 1
                        check(n < 500, f"{op.name}, {plan}: more than 500 calls?")
                    self.stats[(op.name, plan)] = n - 1
            bad = self.db.invariants()
            check(not bad, f"broken invariants after the walk: {bad}")
            res = self.db.integrity()
            check(res == "ok", f"integrity check after the walk: {res}")
        finally:
            self.cl.close()
            self.db.close()
            rc = self.srv.stop()
        check(rc == 0, f"server exited {rc} on SIGTERM")
        ok, out = common.audit_verify(self.args.bin, self.database, self.data)
        check(ok, f"audit verify after the walk: {out[-400:]}")
        rep = common.sanitizer_report(self.srv.log_path)
        check(rep is None, f"sanitizer report: {rep}")


def test_walk(args, env):
    plans = ["db-io", "db-full"]
    if args.backend == "sqlite":
        # SQLite's own writes: both kinds in the long run, one of them
        # (chosen at random) in CI.
        plans += ["sqlio-io", "sqlio-full"] if args.long else [random.choice(["sqlio-io",
                                                                               "sqlio-full"])]
    if args.long:
        plans += [p + "p" for p in plans]  # persistent: every call from N on fails
    w = Walk(args, env)
    try:
        w.run(plans)
    finally:
        summary(args, w, plans)
    check(not w.findings, f"{len(w.findings)} faulted requests misbehaved:\n  "
          + "\n  ".join(f[:700] for f in w.findings))


def summary(args, w, plans):
    if not w.stats:
        return
    total = sum(w.stats.values())
    targets = list(dict.fromkeys(p.split("-")[0] for p in plans))
    per = "; ".join(
        op + " " + "/".join(str(max([v for (o, p), v in w.stats.items()
                                     if o == op and p.startswith(t + "-")] or [0]))
                            for t in targets)
        for op in dict.fromkeys(o for o, _ in w.stats))
    st = ", ".join(f"{k}: {v}" for k, v in sorted(w.status.items()))
    print(f"# walk({args.backend}): {total} faulted requests over {len(plans)} fault kinds; "
          f"calls per request ({'/'.join(targets)}, most seen): {per}; answers {st}")
    for where in w.internal[:12]:
        print(f"#   500 rather than 503: {where}")
    if len(w.internal) > 12:
        print(f"#   ... {len(w.internal) - 12} more 500s")


# ---------------------------------------------------------------- file writes

def run_bin(binary, args, env=None, timeout=60, cwd=None):
    return subprocess.run([binary] + args, capture_output=True, text=True, timeout=timeout,
                          env=harness.clean_env(env), stdin=subprocess.DEVNULL, cwd=cwd)


def key_file_state(data):
    """The key file's text and the temporaries left next to it."""
    path = os.path.join(data, "master.key")
    text = open(path).read() if os.path.exists(path) else None
    tmps = [f for f in os.listdir(data) if f.startswith("master.key.tmp")]
    return text, tmps


def test_file(args, env):
    # 1. The master key's creation at first start, every write and fsync.
    n, created = 1, False
    while not created:
        database, data = env.database(f"keynew{n}")
        srv = env.server(args.bin, database, data, f"keynew{n}.log",
                         env={"ENTREPOT_FAULT_PLAN": f"file-io-{n}"})
        srv.start(wait=False)
        rc, deadline = None, time.monotonic() + 30
        while rc is None and time.monotonic() < deadline and not srv.answers(0.5):
            time.sleep(0.005)
            rc = srv.proc.poll()
        text, tmps = key_file_state(data)
        check(not tmps, f"first start, file write {n} failing: temporaries left: {tmps}")
        if rc is None:  # running: the fault was not reached
            srv.wait_ready()
            created = True
            check(srv.stop() == 0, "server exit status")
            check(text and text.strip(), "server running without a key file")
        else:
            check(rc != 0, f"first start, file write {n} failing: exit 0")
            check(text is None or text.strip(), "an empty key file was left behind")
            check("fault: injected" in srv.log_text(), f"exit {rc} without the fault? "
                  f"{srv.log_tail(5)}")
            rep = common.sanitizer_report(srv.log_path)
            check(rep is None, f"sanitizer report: {rep}")
        n += 1
    first_start_calls = n - 2
    # 2. keys rotate, every write and fsync, as I/O error and disk full.
    database, data = env.database("rotate")
    srv = env.server(args.bin, database, data, "rotate.log")
    srv.start()
    cl = common.Client(srv.port)
    accounts = [common.register(cl, common.new_phone(), f"k{i}") for i in range(3)]
    cl.close()
    srv.stop()
    walked = 0
    for kind in ("io", "full"):
        n = 1
        while True:
            before, _ = key_file_state(data)
            r = run_bin(args.bin, ["keys", "rotate", "--grace-seconds", "0", "--data-dir", data,
                                   "--database", database],
                        env={"ENTREPOT_FAULT_PLAN": f"file-{kind}-{n}"})
            after, tmps = key_file_state(data)
            check(not tmps, f"keys rotate, file {kind} at {n}: temporaries left: {tmps}")
            check(after and after.strip(), f"keys rotate, file {kind} at {n}: key file gone")
            reached = "fault: injected" in r.stderr
            if reached:
                check(r.returncode != 0, f"keys rotate, file {kind} at {n}: exit 0 despite "
                      f"the fault: {r.stderr[-300:]}")
            else:
                check(r.returncode == 0, f"keys rotate without fault failed: {r.stderr[-400:]}")
            # Whatever happened, every account must still open.
            srv = env.server(args.bin, database, data, "rotate.log")
            srv.start()
            cl = common.Client(srv.port)
            for uid, token in accounts:
                rr = common.me(cl, token)
                check(rr.status == 200 and rr.json()["id"] == uid and rr.json()["phone"],
                      f"keys rotate, file {kind} at {n} ({'failed' if reached else 'done'}): "
                      f"account {uid} unreadable: {rr!r}")
            cl.close()
            check(srv.stop() == 0, "server exit status")
            if not reached:
                break
            walked += 1
            n += 1
        check(n > 1, "keys rotate wrote no file?")
    print(f"# file({args.backend}): first start: {first_start_calls} file writes/fsyncs "
          f"failed in turn; keys rotate: {walked} failing runs (io and full)")


# ---------------------------------------------------------------- migrations

def schema(db):
    if db.backend == "sqlite":
        return sorted(db.query("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE "
                               "'sqlite_%' ORDER BY 1, 2"))
    return sorted(db.query(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'public' UNION ALL SELECT 'index', indexname, indexdef, '' "
        "FROM pg_indexes WHERE schemaname = 'public' UNION ALL SELECT 'trigger', "
        "trigger_name, event_object_table, action_timing FROM information_schema.triggers"))


def test_migrate(args, env):
    database, data = env.database("mref")
    r = run_bin(args.bin, ["migrate", "--database", database, "--data-dir", data])
    check(r.returncode == 0, f"clean migrate failed: {r.stderr[-400:]}")
    ref_db = common.Database(args.backend, database)
    ref = schema(ref_db)
    ref_rows = ref_db.query("SELECT version, name FROM schema_migrations ORDER BY 1")
    ref_db.close()
    # Every call in the long run; in CI every STRIDE-th from a random start
    # (a process start per N under ASan is slow), so runs cover all in turn.
    stride = 1 if args.long else 3
    n = first = random.randint(1, stride)
    tried = 0
    while True:
        tried += 1
        database, data = env.database(f"m{n}")
        db = common.Database(args.backend, database)
        r = run_bin(args.bin, ["migrate", "--database", database, "--data-dir", data],
                    env={"ENTREPOT_FAULT_PLAN": f"db-io-{n}"})
        if "fault: injected" not in r.stderr:
            check(r.returncode == 0, f"migrate without fault failed: {r.stderr[-300:]}")
            break
        check(r.returncode != 0, f"migrate, db call {n} failing: exit 0")
        # A retry must finish the job and end where a clean run ends: a
        # migration half-applied and not recorded would fail the retry or
        # leave a different schema.
        r = run_bin(args.bin, ["migrate", "--database", database, "--data-dir", data])
        check(r.returncode == 0, f"migrate after a failure at db call {n}: {r.stderr[-400:]}")
        check(schema(db) == ref, f"db call {n} failing, then a retry: the schema differs from "
              f"a clean run's (a migration half-applied?)")
        check(db.query("SELECT version, name FROM schema_migrations ORDER BY 1") == ref_rows,
              f"db call {n}: schema_migrations differs after the retry")
        db.close()
        n += stride
    print(f"# migrate({args.backend}): {tried - 1} failing runs, database call N failing for "
          f"N = {first}, {first + stride}, ..., {n - stride} (a clean run makes fewer than {n}"
          f" calls); {len(ref_rows)} migrations")


# ---------------------------------------------------------------- disk full

MOUNTED = []


def tiny_fs(path, size_kb):
    """Mounts a tmpfs of size_kb at path; False when not permitted."""
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k,mode=0755", "tmpfs", path],
                       capture_output=True, text=True)
    if r.returncode == 0:
        MOUNTED.append(path)
        return True
    return False


def limited_binary(env, binary, limit):
    """A wrapper that runs binary with RLIMIT_FSIZE = limit bytes and SIGXFSZ
    ignored (so a write past the limit fails with EFBIG instead of killing
    the process; dispositions set to ignore survive exec)."""
    path = os.path.join(env.root, "entrepot-fsize")
    with open(path, "w") as f:
        f.write(f"""#!{sys.executable}
import os, resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
os.execv({binary!r}, [{binary!r}] + sys.argv[1:])
""")
    os.chmod(path, 0o755)
    return path


def fill_until_refused(cl, token):
    """Profile edits with long fields until one is refused; (refused
    response, edits accepted, slowest answer in s)."""
    t_max = 0.0
    for i in range(55):  # ACC_PROFILE_PER_HOUR is 60
        t0 = time.monotonic()
        r = cl.request("PATCH", "/api/v1/me", {"signature": f"{i:06d}" + "s" * 270,
                                               "company": f"{i:06d}" + "c" * 90,
                                               "title": f"{i:06d}" + "t" * 90}, token=token)
        t_max = max(t_max, time.monotonic() - t0)
        if r.status != 200:
            return r, i, t_max
    raise Failed("55 edits and the disk is not full yet")


def test_diskfull(args, env):
    if args.backend != "sqlite":
        raise harness.Skip("the data directory is SQLite's; PostgreSQL keeps its own")
    binary = args.plain_bin or args.bin
    data = os.path.join(env.root, "tiny")
    # A 4 MiB tmpfs when mounting is permitted (root); else a file-size
    # limit, which makes writes past it fail (EFBIG) -- SQLite's own tests'
    # other way of running out of room.
    how = "tmpfs" if not args.no_mount and tiny_fs(data, 4096) else "RLIMIT_FSIZE"
    os.makedirs(data, exist_ok=True)
    database = f"sqlite:{os.path.join(data, 'entrepot.db')}"
    db = common.Database("sqlite", database)
    try:
        srv = env.server(binary, database, data, "diskfull.log")
        srv.start()
        cl = common.Client(srv.port)
        uid, token = common.register(cl, common.new_phone(), "full0")
        ballast = os.path.join(data, "ballast")
        if how == "tmpfs":
            st = os.statvfs(data)
            with open(ballast, "wb") as f:
                f.write(b"\0" * max(0, st.f_bavail * st.f_frsize - 512 * 1024))
        else:
            check(srv.stop() == 0, "server exit status")
            cl.close()
            biggest = max(os.path.getsize(os.path.join(data, f)) for f in os.listdir(data))
            srv.binary = limited_binary(env, binary, biggest + 192 * 1024)
            srv.start()
            cl = common.Client(srv.port)
        refused, accepted, t_max = fill_until_refused(cl, token)
        check(refused.status in (503, 507), f"a write on a full disk: {refused!r}")
        harness.assert_problem(refused, refused.status,
                               "unavailable" if refused.status == 503 else None)
        # Reads keep working; other writes are refused as cleanly.
        for _ in range(20):
            r = common.me(cl, token)
            check(r.status == 200 and r.json()["id"] == uid, f"a read on a full disk: {r!r}")
        r = cl.get("/healthz")
        check(r.status == 200, f"/healthz on a full disk: {r!r}")
        r = cl.post("/api/v1/auth/codes", {"purpose": "register", "phone": common.new_phone()})
        check(r.status in (503, 507), f"a code request on a full disk: {r!r}")
        harness.assert_problem(r, r.status, "unavailable" if r.status == 503 else None)
        check(srv.alive(), "the server died on a full disk")
        # Room again: on tmpfs, without a restart; under the limit, the files
        # cannot shrink below it, so the server restarts without the limit.
        if how == "tmpfs":
            os.unlink(ballast)
        else:
            check(srv.stop() == 0, "server exit status on a full disk")
            cl.close()
            srv.binary = binary
            srv.start()
            cl = common.Client(srv.port)
        r = None
        for _ in range(50):
            r = cl.request("PATCH", "/api/v1/me", {"display_name": "after"}, token=token)
            if r.status == 200:
                break
            time.sleep(0.05)
        check(r.status == 200, f"writes did not come back once there was room: {r!r}")
        check(common.me(cl, token).json()["display_name"] == "after", "the edit is not there")
        cl.close()
        check(srv.stop() == 0, "server exit status after the disk-full run")
        res = db.integrity()
        check(res == "ok", f"integrity after the disk-full run: {res}")
        bad = db.invariants()
        check(not bad, f"broken invariants after the disk-full run: {bad}")
        rep = common.sanitizer_report(srv.log_path)
        check(rep is None, f"sanitizer report: {rep}")
        print(f"# diskfull(sqlite, {how}): {accepted} edits accepted, then {refused.status} "
              f"problem+json; 20 reads and /healthz served while full; slowest write "
              f"{t_max * 1000:.0f} ms; writes back once there was room"
              + (" (no restart)" if how == "tmpfs" else " (after a restart without the limit)"))
    finally:
        for m in MOUNTED:
            subprocess.run(["umount", "-l", m], capture_output=True)
        MOUNTED.clear()


# ---------------------------------------------------------------- runner

TESTS = [("walk", test_walk), ("file", test_file), ("migrate", test_migrate),
         ("diskfull", test_diskfull)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    ap.add_argument("--bin", required=True, help="a FAULT_INJECTION=1 build")
    ap.add_argument("--plain-bin", default="", help="a normal build (disk-full run)")
    ap.add_argument("--only", default="", help="comma-separated test names")
    ap.add_argument("--long", action="store_true", help="also persistent faults")
    ap.add_argument("--no-mount", action="store_true",
                    help="disk full by RLIMIT_FSIZE even where a tmpfs could be mounted")
    ap.add_argument("--pg-dir", default="", help="reuse this running throwaway cluster")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    if args.plain_bin:
        args.plain_bin = os.path.abspath(args.plain_bin)
    random.seed()
    pg = common.PgCluster.attach(args.pg_dir) if args.pg_dir else None
    env = common.Env(args.backend, pg=pg, keep=args.keep, prefix="entrepot-faults")
    passed = failed = 0
    tag = f"faults({args.backend})"
    try:
        for name, fn in TESTS:
            if args.only and name not in args.only.split(","):
                continue
            t0 = time.monotonic()
            try:
                fn(args, env)
            except harness.Skip as e:
                print(f"skip {tag}.{name}: {e}")
                continue
            except (Failed, AssertionError) as e:
                failed += 1
                env.keep = True
                print(f"FAIL {tag}.{name}: {e}\n  logs kept in {env.root}", flush=True)
                continue
            passed += 1
            print(f"ok {tag}.{name} ({time.monotonic() - t0:.1f} s)", flush=True)
    finally:
        env.close()
    print(f"{tag}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
