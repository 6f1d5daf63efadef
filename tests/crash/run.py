#!/usr/bin/env python3
"""run.py — the crash tier: kills, injected faults and database loss
(issue 6, items 3 to 5), on SQLite and PostgreSQL.

    tests/crash/run.py --bin build/default/entrepot \\
        --fault-bin build/default-fault/entrepot [--long]

Starts one throwaway PostgreSQL cluster for all the PostgreSQL parts (each
empties the database first) and runs, one after the other:

  crash.py   --backend sqlite    CRASH_KILLS_SQLITE kills (CI 110, long 600)
  crash.py   --backend postgres  CRASH_KILLS_POSTGRES kills (CI 100, long 500),
                                 the database itself crashed every 25th
  faults.py  --backend sqlite    fault walk, file writes, migrations, disk full
  faults.py  --backend postgres  fault walk (long: file writes and migrations too)
  dbloss.py                      PostgreSQL stopped (fast, immediate) under load

--long (or CRASH_LONG=1; `make crash-long`) is the long run: 1,100 kills,
persistent faults in the walk, four database-loss rounds. Each part's
result counts as one pass or failure; the closing lines are
`kills survived N, acknowledged writes checked M` and
`crash: P passed, F failed`.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import common  # noqa: E402

KILLS_RE = re.compile(r"^crash\((\w+)\): kills survived (\d+), acknowledged writes checked (\d+)")
SUMMARY_RE = re.compile(r"^(?:faults\(\w+\)|dbloss): (\d+) passed, (\d+) failed$")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True)
    ap.add_argument("--fault-bin", required=True)
    ap.add_argument("--long", action="store_true", default=os.environ.get("CRASH_LONG") == "1")
    ap.add_argument("--only", default="", help="comma-separated: crash,faults,dbloss")
    args = ap.parse_args()
    py = sys.executable
    long_ = args.long
    k_sqlite = os.environ.get("CRASH_KILLS_SQLITE", "600" if long_ else "110")
    k_pg = os.environ.get("CRASH_KILLS_POSTGRES", "500" if long_ else "100")
    for b in (args.bin, args.fault_bin):
        if not os.access(b, os.X_OK):
            print(f"crash: {b} is not built (make all; make FAULT_INJECTION=1 all)")
            print("crash: 0 passed, 1 failed")
            return 1

    root = tempfile.mkdtemp(prefix="entrepot-crash-tier-")
    os.chmod(root, 0o755)
    pg = common.PgCluster(root)
    parts = []
    try:
        pg.start()
    except common.Failed as e:
        print(f"crash: could not start PostgreSQL: {e}")
        pg = None
    d = pg.dir if pg else ""

    def part(name, cmd, needs_pg=False):
        if args.only and name.split()[0] not in args.only.split(","):
            return
        parts.append((name, cmd, needs_pg))

    part("crash sqlite", [py, f"{HERE}/crash.py", "--backend", "sqlite", "--bin", args.bin,
                          "--kills", k_sqlite])
    part("crash postgres", [py, f"{HERE}/crash.py", "--backend", "postgres", "--bin", args.bin,
                            "--kills", k_pg, "--pg-dir", d], True)
    part("faults sqlite", [py, f"{HERE}/faults.py", "--backend", "sqlite", "--bin",
                           args.fault_bin, "--plain-bin", args.bin] + (["--long"] if long_ else []))
    part("faults postgres", [py, f"{HERE}/faults.py", "--backend", "postgres", "--bin",
                             args.fault_bin, "--plain-bin", args.bin, "--pg-dir", d]
         + (["--long"] if long_ else ["--only", "walk"]), True)
    part("dbloss postgres", [py, f"{HERE}/dbloss.py", "--bin", args.bin, "--pg-dir", d]
         + (["--rounds", "fast,immediate,fast,immediate"] if long_ else []), True)

    passed = failed = kills = checked = 0
    t0 = time.monotonic()
    try:
        for name, cmd, needs_pg in parts:
            print(f"== {name}", flush=True)
            if needs_pg and pg is None:
                failed += 1
                print(f"FAIL {name}: no PostgreSQL cluster")
                continue
            t = time.monotonic()
            p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            sys.stdout.write(p.stdout)
            seen = False
            for line in p.stdout.splitlines():
                m = KILLS_RE.match(line)
                if m:
                    seen = True
                    kills += int(m.group(2))
                    checked += int(m.group(3))
                    ok = p.returncode == 0 and "(failed)" not in line
                    passed += ok
                    failed += not ok
                m = SUMMARY_RE.match(line)
                if m:
                    seen = True
                    passed += int(m.group(1))
                    failed += int(m.group(2))
                    if p.returncode != 0 and int(m.group(2)) == 0:
                        failed += 1
            if not seen:
                failed += 1
                print(f"FAIL {name}: no summary (exit {p.returncode})")
            print(f"# {name}: {time.monotonic() - t:.1f} s", flush=True)
    finally:
        if pg:
            pg.stop()
        subprocess.run(["rm", "-rf", root], check=False)
    print(f"# crash tier: {time.monotonic() - t0:.1f} s")
    print(f"kills survived {kills}, acknowledged writes checked {checked}")
    print(f"crash: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
