"""The job runner as processes: serve's in-process worker, `entrepot worker`
(separate process, graceful SIGTERM, refuses an unmigrated database), and
`entrepot privacy inventory`. The queue's own semantics (claims, leases,
retries, schedules) are unit-tested in tests/unit/test_jobs.c."""
import json
import os
import signal
import subprocess
import time
import uuid

from harness import check, clean_env, eq, psql


def _wait_rows(t, query, database, want=1, timeout=10.0):
    deadline = time.monotonic() + timeout
    rows = []
    while time.monotonic() < deadline:
        rows = t.sql(query, database=database)
        if len(rows) >= want:
            return rows
        time.sleep(0.1)
    return rows


def _own_database(t):
    """A database of this test's own: a file, or a fresh PostgreSQL database."""
    if t.backend == "sqlite":
        return None  # start_server makes one per server
    name = "worker_" + uuid.uuid4().hex[:12]
    psql(t.database, f"CREATE DATABASE {name}")
    return t.database.rsplit("/", 1)[0] + "/" + name


def test_serve_runs_jobs_in_process(t):
    # The recurring purge is scheduled and run by serve's own worker thread.
    rows = _wait_rows(t, "SELECT state, worker FROM jobs WHERE kind = 'jobs.purge' "
                         "AND state = 'done'", t.database)
    check(rows, "no jobs.purge run by serve within 10 s")
    check(any(str(r[1]).endswith("/serve-0") for r in rows), f"not run by serve: {rows!r}")


def test_worker_process_runs_jobs_and_stops_on_sigterm(t):
    db = _own_database(t)
    srv = t.start_server(extra_args=["--jobs-in-serve=false"], database=db)
    db = srv.database
    time.sleep(1.5)
    eq(len(t.sql("SELECT id FROM jobs", database=db)), 0,
       "jobs with jobs_in_serve = false (serve ran its scheduler)")
    log = open(os.path.join(t.run.log_dir, f"{t.name}-worker.log"), "ab")
    w = subprocess.Popen([t.bin, "worker", "--data-dir", srv.data_dir, "--database", db,
                          "--jobs-threads", "2"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                         env=clean_env(), text=True)
    log.close()
    try:
        line = w.stdout.readline()
        check("worker running (2 job threads)" in line, f"worker said {line!r}")
        rows = _wait_rows(t, "SELECT state, worker FROM jobs WHERE kind = 'jobs.purge'", db)
        check(rows and rows[0][0] == "done", f"purge not run by the worker: {rows!r}")
        check(str(rows[0][1]).endswith("/worker-0"), f"run by {rows[0][1]!r}, not the worker")
        t0 = time.monotonic()
        w.send_signal(signal.SIGTERM)
        rc = w.wait(timeout=10)
        eq(rc, 0, "worker exit status after SIGTERM")
        check(time.monotonic() - t0 < 5, "worker took too long to stop")
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()
        w.stdout.close()


def test_worker_refuses_unmigrated_database(t):
    d = t.tmpdir("fresh")
    if t.backend == "sqlite":
        db = f"sqlite:{os.path.join(d, 'fresh.db')}"
    else:
        db = _own_database(t)
    p = t.run_bin(["worker", "--data-dir", d, "--database", db],
                  env={"ENTREPOT_MASTER_KEY": "ab" * 32}, timeout=20)
    eq(p.returncode, 1, f"worker on an empty database ({p.stdout} {p.stderr})")
    check("entrepot migrate" in p.stderr, f"no advice to migrate: {p.stderr!r}")


def test_privacy_inventory(t):
    p = t.run_bin(["privacy", "inventory"])
    eq(p.returncode, 0, f"privacy inventory ({p.stderr})")
    inv = json.loads(p.stdout)
    eq(inv.get("version"), 1, "inventory version")
    tables = {x["name"]: x for x in inv["tables"]}
    for name in ("users", "sessions", "outbox", "disclosures", "audit_log", "jobs", "instance"):
        check(name in tables, f"table {name} missing from the inventory")
    check(tables["instance"]["personal"] is False and tables["instance"]["reason"],
          "instance should be declared not personal, with a reason")
    cols = {c["name"]: c for c in tables["users"]["columns"]}
    eq(cols["phone_enc"]["encrypted"], True, "users.phone_enc encrypted")
    eq(cols["phone_enc"]["erasure"], "shred", "users.phone_enc erasure")
    eq(cols["phone_enc"]["export"], "decrypt", "users.phone_enc export")
    eq(cols["id"]["personal"], False, "users.id")
    eq(tables["sessions"]["retention"]["kind"], "after", "sessions retention")
    p = t.run_bin(["privacy", "nonsense"])
    eq(p.returncode, 2, "unknown privacy subcommand")
