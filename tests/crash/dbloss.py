#!/usr/bin/env python3
"""dbloss.py — PostgreSQL goes away under load and comes back (issue 6,
item 5; SPEC §16 "database unavailable: requests fail fast with 503 and
recover when it returns").

    tests/crash/dbloss.py --bin build/default/entrepot [--rounds fast,immediate] [--pg-dir DIR]

One `entrepot serve` on a throwaway cluster, never restarted. --threads
clients edit their own profiles (PATCH /me) and read them back (GET /me)
without pause. Each round: load for a while, stop the cluster under it
(`pg-cluster.sh halt`: `fast` as for maintenance, `immediate` as in a
crash), keep the load on through the outage, start the cluster again on the
same port, keep the load on. Then:

  - every answer during the outage is a 503 problem+json; every 503 came
    within --max-latency (2) seconds and any answer within --max-any (5:
    a wait for a pooled connection, 2 s, then a connect, 2 s, while the
    database comes back); no dropped connections, no 500s;
  - /readyz says 503 during the outage and 200 after, /healthz 200 always;
  - after the restart the server recovers by itself, within
    --max-recovery seconds, and every request from then on succeeds;
  - no half-committed data: each profile holds its last acknowledged edit
    or an edit sent after it (one whose answer was lost), display name
    and company (written together) agree, the cross-table invariants hold
    and `entrepot audit verify` passes.

Prints the figures (requests, 503s, latencies, recovery time) and
`dbloss: P passed, F failed`.
"""
import argparse
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
import harness  # noqa: E402
from common import Down, Failed, check  # noqa: E402


EDITS_PER_ROUND = 50  # ACC_PROFILE_PER_HOUR is 60; rate_limits is cleared between rounds


class Account:
    def __init__(self, uid, token, name):
        self.uid = uid
        self.token = token
        self.acked = name      # last acknowledged display name
        self.unsure = []       # sent after it, answer lost or an error
        self.edits = 0         # edits sent this round


class Load(threading.Thread):
    """Edits then reads its own accounts in a loop; logs every request as
    (start, end, kind, status, content type) with times from time.monotonic."""

    def __init__(self, port, accounts, stop):
        super().__init__(daemon=True)
        self.cl = common.Client(port, timeout=30)
        self.accounts = accounts
        self.stop = stop
        self.log = []
        self.error = None

    def edit(self, acc):
        acc.edits += 1
        value = "d" + uuid.uuid4().hex[:10]
        acc.unsure.append(value)
        t0 = time.monotonic()
        try:
            r = self.cl.request("PATCH", "/api/v1/me", {"display_name": value, "company": value},
                                token=acc.token)
            st, ct = r.status, r.content_type
        except Down:
            st, ct, r = 0, "", None
        self.log.append((t0, time.monotonic(), "edit", st, ct, r))
        # 204: saved, but the answer could not read the profile back.
        if st in (200, 204):
            acc.acked, acc.unsure = value, []

    def run(self):
        i = 0
        try:
            while not self.stop.is_set():
                acc = self.accounts[i % len(self.accounts)]
                i += 1
                if i % 3 == 0 and acc.edits < EDITS_PER_ROUND:
                    self.edit(acc)
                t0 = time.monotonic()
                try:
                    r = common.me(self.cl, acc.token)
                    st, ct = r.status, r.content_type
                except Down:
                    st, ct, r = 0, "", None
                self.log.append((t0, time.monotonic(), "read", st, ct, r))
                if st == 200:
                    got = r.json()["display_name"]
                    if got != acc.acked and got in acc.unsure:
                        # An edit whose answer was lost had committed.
                        acc.acked = got
                        acc.unsure = acc.unsure[acc.unsure.index(got) + 1:]
                    elif got != acc.acked:
                        raise Failed(f"account {acc.uid} reads {got!r}, last acknowledged "
                                     f"{acc.acked!r}")
        except (Failed, AssertionError) as e:
            self.error = str(e)
        finally:
            self.cl.close()


def probe(port, path):
    try:
        return common.Client(port, timeout=5).get(path).status
    except Down:
        return 0


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else 0.0


def one_round(args, env, srv, accounts, mode, figures):
    db = common.Database("postgres", env.pg.url)
    try:
        db.query("DELETE FROM rate_limits")
    finally:
        db.close()
    for acc in accounts:
        acc.edits = 0
    stop = threading.Event()
    per = [accounts[i::args.threads] for i in range(args.threads)]
    loads = [Load(srv.port, p, stop) for p in per if p]
    for ld in loads:
        ld.start()
    time.sleep(args.before)
    t_halt = time.monotonic()
    env.pg.halt(mode)
    t_down = time.monotonic()
    ready_down = []
    while time.monotonic() - t_down < args.outage:
        ready_down.append((probe(srv.port, "/readyz"), probe(srv.port, "/healthz")))
        time.sleep(0.2)
    t_resume = time.monotonic()
    env.pg.resume()
    t_up = time.monotonic()
    time.sleep(args.after)
    ready_up = (probe(srv.port, "/readyz"), probe(srv.port, "/healthz"))
    stop.set()
    for ld in loads:
        ld.join(60)
        check(not ld.is_alive(), "a client is stuck")
        check(ld.error is None, f"{mode}: {ld.error}")
    log = sorted(x for ld in loads for x in ld.log)
    tag = f"round {mode}"
    check(srv.alive(), f"{tag}: the server died")

    # A 503 must be fast. Any answer may wait for a pooled connection
    # (DB_ACQUIRE_TIMEOUT_MS, 2 s) and then connect (DB_CONNECT_TIMEOUT_S,
    # 2 s) while the database comes back, but never longer: no hangs.
    slow = [x for x in log if x[1] - x[0] > (args.max_latency if x[3] == 503 else args.max_any)]
    if slow:
        raise Failed(f"{tag}: {len(slow)} answers too slow, e.g. {slow[0][2]} {slow[0][3]} in "
                     f"{slow[0][1] - slow[0][0]:.2f} s (limits: 503 {args.max_latency} s, any "
                     f"{args.max_any} s)")
    lost = [x for x in log if x[3] == 0]
    check(not lost, f"{tag}: {len(lost)} requests got no answer at all (connection dropped)")
    outage = [x for x in log if x[0] >= t_down and x[1] <= t_resume]
    check(len(outage) >= 10, f"{tag}: only {len(outage)} requests during the outage")
    for x in outage:
        check(x[3] == 503, f"{tag}: during the outage a {x[2]} answered {x[3]}: {x[5]!r}")
    harness.assert_problem(outage[0][5], 503, "unavailable")
    check(all(r == 503 and h == 200 for r, h in ready_down),
          f"{tag}: /readyz, /healthz during the outage: {ready_down}")
    check(ready_up == (200, 200), f"{tag}: /readyz, /healthz after the restart: {ready_up}")
    odd = [x for x in log if x[3] not in (200, 503) and not (x[2] == "edit" and x[3] == 204)]
    if odd:
        raise Failed(f"{tag}: a {odd[0][2]} answered {odd[0][3]}: {odd[0][5]!r}")
    after = [x for x in log if x[0] >= t_up]
    ok_after = [x for x in after if x[3] in (200, 204)]
    check(ok_after, f"{tag}: nothing succeeded within {args.after} s of the restart")
    first_ok = ok_after[0][1] - t_up
    check(first_ok <= args.max_recovery, f"{tag}: first success {first_ok:.2f} s after the "
          f"restart (limit {args.max_recovery} s)")
    late = [x for x in after if x[0] >= ok_after[0][1] and x[3] not in (200, 204)]
    if late:
        raise Failed(f"{tag}: after recovery, {len(late)} requests still failed, e.g. a "
                     f"{late[0][2]}: {late[0][5]!r}")
    lat503 = [x[1] - x[0] for x in log if x[3] == 503]
    lat_ok = [x[1] - x[0] for x in log if x[3] != 503]
    figures.append(f"{mode}: {len(log)} requests, {len(lat503)} answered 503 (p50 "
                   f"{pct(lat503, .5) * 1000:.1f} ms, max {max(lat503) * 1000:.1f} ms; others "
                   f"max {max(lat_ok) * 1000:.0f} ms); "
                   f"halt took {t_down - t_halt:.2f} s, restart {t_up - t_resume:.2f} s; "
                   f"first success {first_ok * 1000:.0f} ms after the restart, "
                   f"{len(after) - len(ok_after)} failures after it")


def verify(args, env, srv, accounts, database, data):
    cl = common.Client(srv.port)
    for acc in accounts:
        j = common.me(cl, acc.token).json()
        got = j["display_name"]
        check(got == acc.acked or got in acc.unsure,
              f"account {acc.uid}: {got!r}, acknowledged {acc.acked!r}, unanswered "
              f"{acc.unsure[-3:]!r}")
        check(j["company"] == got or (j["company"] is None and got.startswith("a")),
              f"account {acc.uid}: display name {got!r} and company {j['company']!r} "
              f"written together, stored apart")
    cl.close()
    db = common.Database("postgres", database)
    try:
        bad = db.invariants()
    finally:
        db.close()
    check(not bad, f"broken invariants: {bad}")
    ok, out = common.audit_verify(args.bin, database, data)
    check(ok, f"audit verify: {out[-400:]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", default="fast,immediate")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--accounts", type=int, default=16)
    ap.add_argument("--before", type=float, default=1.0, help="seconds of load before the halt")
    ap.add_argument("--outage", type=float, default=2.0)
    ap.add_argument("--after", type=float, default=2.0)
    ap.add_argument("--max-latency", type=float, default=2.0, help="seconds, for a 503")
    ap.add_argument("--max-any", type=float, default=5.0, help="seconds, for any answer")
    ap.add_argument("--max-recovery", type=float, default=2.0)
    ap.add_argument("--pg-dir", default="", help="reuse this running throwaway cluster")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    pg = common.PgCluster.attach(args.pg_dir) if args.pg_dir else None
    env = common.Env("postgres", pg=pg, keep=args.keep, prefix="entrepot-dbloss")
    figures = []
    passed = failed = 0
    srv = None
    try:
        database, data = env.database()
        srv = env.server(args.bin, database, data, "server.log")
        srv.start(timeout=30)
        cl = common.Client(srv.port)
        accounts = [Account(*common.register(cl, common.new_phone(), f"a{i}"), f"a{i}")
                    for i in range(args.accounts)]
        cl.close()
        for mode in [m for m in args.rounds.split(",") if m]:
            try:
                one_round(args, env, srv, accounts, mode, figures)
                passed += 1
                print(f"ok dbloss.{mode}", flush=True)
            except (Failed, AssertionError) as e:
                failed += 1
                env.keep = True
                print(f"FAIL dbloss.{mode}: {e}\n  logs kept in {env.root}", flush=True)
                if env.pg and probe(srv.port, "/readyz") != 200:
                    try:
                        env.pg.resume()
                    except Failed:
                        pass
        try:
            verify(args, env, srv, accounts, database, data)
            rc = srv.stop()
            check(rc == 0, f"server exited {rc} on SIGTERM")
            rep = common.sanitizer_report(srv.log_path)
            check(rep is None, f"sanitizer report: {rep}")
            passed += 1
            print("ok dbloss.no_half_committed_data", flush=True)
        except (Failed, AssertionError) as e:
            failed += 1
            env.keep = True
            print(f"FAIL dbloss.no_half_committed_data: {e}\n  logs kept in {env.root}")
    except (Failed, AssertionError) as e:
        failed += 1
        env.keep = True
        print(f"FAIL dbloss.setup: {e}\n  logs kept in {env.root}")
    finally:
        if srv:
            srv.stop()
        env.close()
    for f in figures:
        print(f"# dbloss {f}")
    print(f"dbloss: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
