"""Process life: graceful shutdown, config check, migrate, version, help."""
import json
import os
import re
import signal
import socket
import subprocess
import time
import uuid

from harness import Closed, Raw, check, eq, free_port, psql, sqlite_query

ECHO = "/api/v1/test/echo"


def _new_connection_served(port):
    """True when a brand-new connection gets an HTTP answer."""
    try:
        r = Raw(port, timeout=2)
    except OSError:
        return False
    try:
        r.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        resp = r.read_response(timeout=2)
        return resp is not None and resp.status < 500
    except (Closed, OSError):
        return False
    finally:
        r.close()


def test_sigterm_finishes_in_flight_request(t):
    srv = t.start_server()
    body = json.dumps({"name": "in-flight", "note": "n" * 150}).encode()
    half = len(body) // 2
    raw = Raw(srv.port, timeout=15)
    try:
        raw.send(f"POST {ECHO} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body[:half])
        time.sleep(0.3)
        t0 = time.monotonic()
        srv.signal(signal.SIGTERM)
        time.sleep(0.5)
        check(srv.alive(), f"server exited (rc {srv.proc.returncode}) with a request in flight")
        check(not _new_connection_served(srv.port),
              "a new connection was served after SIGTERM")
        raw.send(body[half:])
        resp = raw.read_response(timeout=10)
    finally:
        raw.close()
    check(resp is not None, "the in-flight request was dropped by the shutdown")
    eq(resp.status, 200, f"in-flight request ({resp!r})")
    eq(resp.json().get("name"), "in-flight", "in-flight echo")
    rc = srv.wait(10)
    srv.checked = True
    check(rc is not None, "server still running 10 s after SIGTERM with nothing in flight")
    eq(rc, 0, "exit status after SIGTERM")
    check(time.monotonic() - t0 < 10, "shutdown took too long")


def test_sigterm_and_sigint_idle_exit_zero(t):
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = t.start_server()
        # An idle keep-alive connection must not hold the shutdown up.
        idle = Raw(srv.port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        check(idle.read_response() is not None, "keep-alive request")
        t0 = time.monotonic()
        srv.signal(sig)
        rc = srv.wait(5)
        idle.close()
        srv.checked = True
        check(rc is not None, f"{sig.name}: still running after 5 s (idle keep-alive client open)")
        eq(rc, 0, f"exit status after {sig.name}")
        check(time.monotonic() - t0 < 5, f"{sig.name}: slow exit")


def test_version(t):
    p = t.run_bin(["version"])
    eq(p.returncode, 0, f"version exit ({p.stderr})")
    check(re.search(r"\d+\.\d+\.\d+", p.stdout), f"version output {p.stdout!r}")
    p2 = t.run_bin(["--version"])
    if p2.returncode == 0:
        check(re.search(r"\d+\.\d+\.\d+", p2.stdout), f"--version output {p2.stdout!r}")


def test_help(t):
    p = t.run_bin(["--help"])
    eq(p.returncode, 0, f"--help exit ({p.stderr[-200:]})")
    for word in ("serve", "migrate", "config", "version"):
        check(word in p.stdout, f"--help does not mention {word}: {p.stdout[:400]!r}")
    p = t.run_bin(["serve", "--help"])
    eq(p.returncode, 0, f"serve --help exit ({p.stderr[-200:]})")
    for flag in ("--listen", "--database", "--data-dir", "--max-body-bytes",
                 "--connection-timeout", "--max-connections-per-ip", "--tls-cert", "--tls-key",
                 "--trusted-proxies", "--static-dir"):
        check(flag in p.stdout, f"serve --help does not mention {flag}")
    p = t.run_bin(["migrate", "--help"])
    eq(p.returncode, 0, f"migrate --help exit ({p.stderr[-200:]})")
    check("--database" in p.stdout, "migrate --help does not mention --database")
    p = t.run_bin(["config", "check", "--help"])
    eq(p.returncode, 0, f"config check --help exit ({p.stderr[-200:]})")
    check(p.stdout.strip(), "config check --help printed nothing")


def test_bad_usage_fails_clearly(t):
    for args, word in [(["frobnicate"], "frobnicate"), (["serve", "--no-such-flag"], "no-such-flag"),
                       (["serve", "--max-body-bytes", "lots"], "max")]:
        p = t.run_bin(args, timeout=15)
        check(p.returncode != 0, f"{args} exited 0")
        check(word in (p.stderr + p.stdout), f"{args}: message does not name {word!r}: "
                                             f"{(p.stderr + p.stdout)[-300:]!r}")


def test_config_check_ok_and_masks_secrets(t):
    d = t.tmpdir("cfg")
    secret = "Sup3r" + uuid.uuid4().hex
    env = {"ENTREPOT_DATA_DIR": d, "ENTREPOT_LISTEN": "127.0.0.1:18081",
           "ENTREPOT_DATABASE": f"postgres://entrepot:{secret}@127.0.0.1:1/entrepot"}
    p = t.run_bin(["config", "check"], env=env)
    out = p.stdout + p.stderr
    eq(p.returncode, 0, f"config check exit with a valid config ({out[-300:]!r})")
    check("listen" in p.stdout and "127.0.0.1:18081" in p.stdout,
          f"config check does not print the effective listen value: {p.stdout[:500]!r}")
    check(d in p.stdout, "config check does not print the effective data dir")
    check(secret not in out, "config check printed the database password")
    check("env" in p.stdout, "config check does not say where values came from")


def test_config_check_names_the_bad_key(t):
    d = t.tmpdir("cfg")
    p = t.run_bin(["config", "check"], env={"ENTREPOT_DATA_DIR": d, "ENTREPOT_LISTEN": "nonsense"})
    out = p.stdout + p.stderr
    check(p.returncode != 0, f"config check accepted ENTREPOT_LISTEN=nonsense: {out[-300:]!r}")
    check("listen" in out.lower(), f"message does not name the key: {out[-300:]!r}")
    p = t.run_bin(["config", "check"],
                  env={"ENTREPOT_DATA_DIR": d, "ENTREPOT_LISTEN": "127.0.0.1:99999"})
    check(p.returncode != 0, "config check accepted port 99999")


def test_serve_refuses_bad_listen(t):
    d = t.tmpdir("data")
    p = t.run_bin(["serve", "--listen", "nonsense", "--data-dir", d, "--database",
                   f"sqlite:{d}/x.db"], timeout=15)
    check(p.returncode != 0, "serve --listen nonsense exited 0")
    check("listen" in (p.stdout + p.stderr).lower(), "message does not name listen")


def test_serve_port_in_use_fails_fast(t):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    port = s.getsockname()[1]
    d = t.tmpdir("data")
    try:
        t0 = time.monotonic()
        try:
            p = t.run_bin(["serve", "--listen", f"127.0.0.1:{port}", "--data-dir", d,
                           "--database", f"sqlite:{d}/x.db"], timeout=15)
        except subprocess.TimeoutExpired:
            raise AssertionError("serve on a port in use did not exit within 15 s")
        check(p.returncode != 0, "serve on a port in use exited 0")
        check(time.monotonic() - t0 < 10, "serve on a port in use took long to fail")
    finally:
        s.close()


def _migrations_state(t, url):
    if t.backend == "sqlite":
        tables = sorted(r[0] for r in sqlite_query(url, "SELECT name FROM sqlite_master "
                                                        "WHERE type='table'"))
        schema = sqlite_query(url, "SELECT type, name, sql FROM sqlite_master ORDER BY name")
        mig = [n for n in tables if "migration" in n.lower()]
        rows = sqlite_query(url, f'SELECT count(*) FROM "{mig[0]}"')[0][0] if mig else None
        return tables, schema, rows
    tables = sorted(x for x in psql(url, "SELECT tablename FROM pg_tables WHERE "
                                         "schemaname='public'").split("\n") if x)
    schema = psql(url, "SELECT table_name, column_name, data_type FROM information_schema.columns"
                       " WHERE table_schema='public' ORDER BY 1, 2")
    mig = [n for n in tables if "migration" in n.lower()]
    rows = int(psql(url, f'SELECT count(*) FROM public."{mig[0]}"').strip()) if mig else None
    return tables, schema, rows


def test_migrate_applies_then_is_idempotent(t):
    if t.backend == "sqlite":
        d = t.tmpdir("mig")
        url = f"sqlite:{os.path.join(d, 'fresh.db')}"
    else:
        name = "mig_" + uuid.uuid4().hex[:10]
        psql(t.database, f"CREATE DATABASE {name}")
        url = t.database.rsplit("/", 1)[0] + "/" + name
    p1 = t.run_bin(["migrate", "--database", url], timeout=60)
    eq(p1.returncode, 0, f"first migrate exit ({(p1.stdout + p1.stderr)[-400:]!r})")
    tables, schema, rows = _migrations_state(t, url)
    check("instance" in tables, f"table instance missing after migrate: {tables}")
    check(rows is not None and rows >= 1, f"no migrations table with rows: {tables}")
    p2 = t.run_bin(["migrate", "--database", url], timeout=60)
    eq(p2.returncode, 0, f"second migrate exit ({(p2.stdout + p2.stderr)[-400:]!r})")
    tables2, schema2, rows2 = _migrations_state(t, url)
    eq(tables2, tables, "tables after the second migrate")
    eq(schema2, schema, "schema after the second migrate")
    eq(rows2, rows, "recorded migrations after the second migrate")
    out2 = (p2.stdout + p2.stderr).lower()
    check(re.search(r"\b(applied\D{0,20}\b0\b|0 (new )?migrations?|up[ -]to[ -]date|nothing to)",
                    out2), f"second migrate does not say it applied 0: {out2[-300:]!r}")
    out1 = (p1.stdout + p1.stderr).lower()
    check(not re.search(r"applied\D{0,20}\b0\b", out1), f"first migrate says 0: {out1[-300:]!r}")


def test_migrate_unreachable_database_fails(t):
    port = free_port()
    t0 = time.monotonic()
    p = t.run_bin(["migrate", "--database", f"postgres://postgres@127.0.0.1:{port}/x"], timeout=30)
    check(p.returncode != 0, "migrate against a closed port exited 0")
    check(time.monotonic() - t0 < 15, "migrate against a closed port took too long")
    p = t.run_bin(["migrate", "--database", "mysql://nope"], timeout=15)
    check(p.returncode != 0, "migrate with an unsupported URL exited 0")


def test_serve_migrated_at_start(t):
    counts = t.db_counts()
    check("instance" in counts, f"serve did not migrate at start (no table instance): {counts}")
