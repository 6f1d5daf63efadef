#!/usr/bin/env python3
"""crash.py — SIGKILL the real server at random moments under concurrent
writes, restart it on the same data, and check that no acknowledged write
was lost (issue 6, item 3; SPEC §16 "a crash or kill at any moment loses no
acknowledged write").

    tests/crash/crash.py --backend sqlite|postgres --bin build/default/entrepot [--kills N]

One cycle: start `entrepot serve` on the data left by the last cycle; start
--actors client threads that write as fast as the server answers; after a
random 10..200 ms, SIGKILL the server (so kills land before, during and
after COMMITs and fsyncs); then

  - SQLite: PRAGMA integrity_check and foreign_key_check on the file;
  - both: the cross-table invariants of common.INVARIANTS (a user without
    its data key, a registration without its audit entry, a cut audit
    chain...) -- a transaction that half-survived shows there;
  - restart, and read back through the API every write acknowledged with a
    2xx in the cycle: each registration (GET /me with the token it returned:
    the account, its sealed phone and the session exist), each profile edit
    (the value; one edit per account per cycle, so each is checked
    directly; an edit in flight at the kill may or may not be there, nothing
    else may), each code request whose registration was cut short (its
    message is in the outbox).

On PostgreSQL every --pg-crash-every'th kill also crashes the database
(pg_ctl stop -m immediate, then crash recovery), so the server's own
durability (fsync on) is tested too, not only entrepot's. At the end every
account is read back once more and `entrepot audit verify` checks the whole
hash chain. Prints `kills survived N, acknowledged writes checked M`.

Write kinds plug in: a subclass of Kind with pick/run/verify, listed in
KINDS (topics and replies join when the community module lands).
"""
import argparse
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402
from common import Down, Failed, check  # noqa: E402


# ---------------------------------------------------------------- the ledger

class Account:
    """A registered account as acknowledged to its owner."""

    def __init__(self, phone, uid, token, name):
        self.phone = phone
        self.uid = uid
        self.token = token
        self.registered_name = name
        self.name = name          # last acknowledged display name
        self.maybe = None         # a display name sent but never answered
        self.patched_in = -1      # cycle of the last profile edit sent
        self.edits = 0            # profile edits sent (60 an hour are allowed)
        self.acked_unchecked = 0  # acknowledged writes not yet read back


class Pending:
    """A code request acknowledged (202) whose registration did not finish."""

    def __init__(self, phone):
        self.phone = phone


class World:
    def __init__(self):
        self.lock = threading.Lock()
        self.accounts = []
        self.pending = []   # Pending, to check in the next cycle
        self.cycle = 0
        self.acked = {}     # kind name -> acknowledged writes
        self.checked = 0    # acknowledged writes read back after a restart
        self.seq = 0

    def count(self, kind):
        with self.lock:
            self.acked[kind] = self.acked.get(kind, 0) + 1

    def next_name(self):
        with self.lock:
            self.seq += 1
            return f"n{self.cycle}-{self.seq}"


# ---------------------------------------------------------------- write kinds

class Kind:
    """One kind of write. pick: may this actor do it now; run: do it (raise
    Down when the server does not answer); verify: after a restart, check
    what the cycle acknowledged; return how many acknowledged writes that
    read back."""

    name = ""
    weight = 1

    def pick(self, actor):
        return True

    def run(self, actor):
        raise NotImplementedError

    def verify(self, world, cl):
        return 0


class Register(Kind):
    """A code request, the code from the outbox, the registration: two
    writes (the code row and its message; the account, key, session, audit
    entry)."""

    name = "registration"
    weight = 2

    def pick(self, actor):
        return sum(a.edits < ProfileEdit.EDITS_MAX for a in actor.accounts) < actor.max_accounts

    def run(self, actor):
        cl, w = actor.client, actor.world
        phone = common.new_phone()
        cl.ip = common.random_ip()  # 20 codes an hour per address
        r = common.request_code(cl, phone)
        check(r.status == 202, f"code request: {r!r}")
        w.count("code request")
        pend = Pending(phone)
        actor.pending = pend
        codes = common.outbox_codes(cl, phone)
        check(codes, f"acknowledged code request for {phone} has no message")
        name = w.next_name()
        r = cl.post("/api/v1/auth/register",
                    common.register_body(phone, r.json()["attempt"], codes[0], name))
        check(r.status == 201, f"registration: {r!r}")
        j = r.json()
        acc = Account(phone, j["user"]["id"], j["token"], name)
        acc.acked_unchecked = 1
        actor.pending = None
        w.count(self.name)
        actor.accounts.append(acc)
        with w.lock:
            w.accounts.append(acc)

    def verify(self, world, cl):
        n = 0
        for p in world.pending:
            codes = common.outbox_codes(cl, p.phone)
            check(codes, f"acknowledged code request for {p.phone} lost: nothing in the outbox")
            n += 1
        world.pending = []
        return n


class ProfileEdit(Kind):
    """PATCH /me: display name and company of one of the actor's accounts,
    each account at most once a cycle."""

    name = "profile edit"
    weight = 5

    EDITS_MAX = 50  # ACC_PROFILE_PER_HOUR is 60

    def editable(self, actor):
        return [a for a in actor.accounts
                if a.patched_in != actor.world.cycle and a.edits < self.EDITS_MAX]

    def pick(self, actor):
        return bool(self.editable(actor))

    def run(self, actor):
        w = actor.world
        acc = random.choice(self.editable(actor))
        acc.patched_in = w.cycle
        acc.edits += 1
        name = w.next_name()
        acc.maybe = name
        r = actor.client.request("PATCH", "/api/v1/me", {"display_name": name, "company": name},
                                 token=acc.token)
        check(r.status == 200, f"profile edit of {acc.uid}: {r!r}")
        check(r.json().get("display_name") == name, f"profile edit answered {r!r}")
        acc.name, acc.maybe = name, None
        acc.acked_unchecked += 1
        w.count(self.name)


KINDS = [Register(), ProfileEdit()]


def verify_account(cl, acc, after_kill=True):
    """Reads one account back; returns the acknowledged writes it confirms."""
    r = common.me(cl, acc.token)
    check(r.status == 200, f"account {acc.uid} ({acc.phone}), acknowledged, is gone: {r!r}")
    j = r.json()
    check(j.get("id") == acc.uid, f"token of account {acc.uid} now opens {j.get('id')}")
    check(j.get("phone") == common.e164(acc.phone),
          f"account {acc.uid}: phone {j.get('phone')!r}, expected {common.e164(acc.phone)}")
    got = j.get("display_name")
    allowed = {acc.name} | ({acc.maybe} if acc.maybe else set())
    check(got in allowed, f"account {acc.uid}: display name {got!r}, acknowledged {acc.name!r}"
          + (f" (or unanswered {acc.maybe!r})" if acc.maybe else ""))
    # One PATCH sets both: they move together or not at all.
    company = j.get("company")
    check(company == got or (company in (None, "") and got == acc.registered_name),
          f"account {acc.uid}: company {company!r} does not go with display name {got!r}")
    if got == acc.maybe:
        acc.name = got  # the unanswered edit had committed: fine, now known
    acc.maybe = None
    n, acc.acked_unchecked = acc.acked_unchecked, 0
    return n


# ---------------------------------------------------------------- actors

class Actor(threading.Thread):
    def __init__(self, world, port, stop, accounts, max_accounts):
        super().__init__(daemon=True)
        self.world = world
        self.client = common.Client(port, timeout=10)
        self.stop = stop
        self.accounts = accounts
        self.max_accounts = max_accounts
        self.pending = None
        self.error = None

    def run(self):
        try:
            while not self.stop.is_set():
                kinds = [k for k in KINDS if k.pick(self)] or KINDS[:1]
                kind = random.choices(kinds, [k.weight for k in kinds])[0]
                kind.run(self)
        except Down:
            pass  # the kill: whatever was in flight is unknown
        except Failed as e:
            if not self.stop.is_set():
                self.error = str(e)
        finally:
            if self.pending:
                # The code request was acknowledged, the rest was cut short.
                with self.world.lock:
                    self.world.pending.append(self.pending)
            self.client.close()


# ---------------------------------------------------------------- the loop

class Run:
    def __init__(self, args, env):
        self.args = args
        self.env = env
        self.world = World()
        self.database, self.data = env.database()
        self.log = os.path.join(env.root, "server.log")
        self.kills = 0
        self.pg_crashes = 0
        self.integrity_checks = 0
        self.owned = [[] for _ in range(args.actors)]  # accounts per actor slot

    def server(self):
        return common.Server(self.args.bin, self.database, self.data, self.env.static, self.log,
                             extra_args=common.server_args())

    def check_storage(self, where):
        res = self.env_db.integrity()
        check(res == "ok", f"{where}: integrity check: {res}")
        bad = self.env_db.invariants()
        check(not bad, f"{where}: broken invariants: {bad}")
        self.integrity_checks += 1

    def verify_cycle(self, srv):
        cl = common.Client(srv.port)
        try:
            n = 0
            for kind in KINDS:
                n += kind.verify(self.world, cl)
            for acc in self.world.accounts:
                if acc.acked_unchecked or acc.maybe:
                    n += verify_account(cl, acc)
            self.world.checked += n
        except Down as e:
            raise Failed(f"server stopped answering during verification: {e}")
        finally:
            cl.close()

    def cycle(self):
        w = self.world
        w.cycle += 1
        srv = self.server()
        srv.start(wait=True, timeout=30)
        self.verify_cycle(srv)
        stop = threading.Event()
        actors = [Actor(w, srv.port, stop, self.owned[i], self.args.max_accounts)
                  for i in range(self.args.actors)]
        for a in actors:
            a.start()
        time.sleep(random.uniform(0.01, 0.2))
        srv.kill()
        stop.set()
        for a in actors:
            a.join(30)
            check(not a.is_alive(), "an actor is stuck after the kill")
            check(a.error is None, f"cycle {w.cycle}: {a.error}")
        self.kills += 1
        pg_crash = (self.args.backend == "postgres" and self.args.pg_crash_every > 0
                    and self.kills % self.args.pg_crash_every == 0)
        if pg_crash:
            self.env.pg.halt("immediate")
            self.env.pg.resume()
            self.pg_crashes += 1
        self.check_storage(f"after kill {self.kills}" + (" (and a PostgreSQL crash)"
                                                         if pg_crash else ""))

    def final(self):
        srv = self.server()
        srv.start(wait=True, timeout=30)
        try:
            self.verify_cycle(srv)
            cl = common.Client(srv.port)
            for acc in self.world.accounts:
                verify_account(cl, acc)
            cl.close()
        finally:
            rc = srv.stop()
        check(rc == 0, f"the last server exited {rc} on SIGTERM")
        ok, out = common.audit_verify(self.args.bin, self.database, self.data)
        check(ok, f"audit verify: {out[-600:]}")
        self.check_storage("at the end")
        rep = common.sanitizer_report(self.log)
        check(rep is None, f"sanitizer report in the server log: {rep}")

    def go(self):
        self.env_db = common.Database(self.args.backend, self.database)
        t0 = time.monotonic()
        while self.kills < self.args.kills:
            if time.monotonic() - t0 > self.args.max_seconds:
                raise Failed(f"only {self.kills} of {self.args.kills} kills within "
                             f"{self.args.max_seconds} s")
            self.cycle()
        self.final()
        return time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--kills", type=int, default=int(os.environ.get("CRASH_KILLS", "100")))
    ap.add_argument("--actors", type=int, default=4)
    ap.add_argument("--max-accounts", type=int, default=25,
                    help="accounts an actor registers before it only edits")
    ap.add_argument("--pg-crash-every", type=int, default=25,
                    help="PostgreSQL: crash the database too every N kills (0: never)")
    ap.add_argument("--max-seconds", type=float, default=1800)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--pg-dir", default="", help="reuse this running throwaway cluster")
    ap.add_argument("--keep", action="store_true", help="keep the data directory")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    random.seed(seed)
    args.bin = os.path.abspath(args.bin)
    pg = common.PgCluster.attach(args.pg_dir) if args.pg_dir else None
    env = common.Env(args.backend, pg=pg, keep=args.keep)
    run = Run(args, env)
    tag = f"crash({args.backend})"
    try:
        secs = run.go()
        run.env_db.close()
    except (Failed, AssertionError) as e:
        env.keep = True
        print(f"FAIL {tag}: {e}\n  seed {seed}; data and server log kept in {env.root}")
        print(f"{tag}: kills survived {run.kills}, acknowledged writes checked "
              f"{run.world.checked} (failed)")
        env.close()
        return 1
    w = run.world
    detail = ", ".join(f"{k} {v}" for k, v in sorted(w.acked.items()))
    print(f"# {tag}: {run.kills} kills in {secs:.1f} s ({secs / max(run.kills, 1) * 1000:.0f} ms "
          f"a cycle), {run.pg_crashes} PostgreSQL crashes, {run.integrity_checks} storage "
          f"checks; acknowledged: {detail}; {len(w.accounts)} accounts; seed {seed}")
    print(f"{tag}: kills survived {run.kills}, acknowledged writes checked {w.checked}")
    env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
