#!/usr/bin/env python3
"""run.py — the API test tier: the real `entrepot serve` driven over HTTP.

    tests/api/run.py --backend sqlite|postgres --bin build/default/entrepot [--filter substr]

Creates a temporary data directory (and, for postgres, a throwaway cluster
through scripts/pg-cluster.sh, always stopped at the end), starts the server
in test mode on a free loopback port with a fake static tree, runs every
`test_*` function of tests/api/test_*.py and prints `ok name` or
`FAIL name: reason` for each, then `api(BACKEND): P passed, F failed`.
Exits 1 on any failure.
"""
import argparse
import importlib.util
import inspect
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402

PER_TEST_TIMEOUT_S = 45


class TestTimeout(Exception):
    pass


class Interrupted(BaseException):
    pass


def _on_alarm(signum, frame):
    raise TestTimeout(f"test took longer than {PER_TEST_TIMEOUT_S}s")


def _on_term(signum, frame):
    raise Interrupted(f"signal {signum}")


def discover(flt, pending=False):
    """Tests of tests/api/test_*.py; with pending, also tests/api/pending/:
    tests written ahead of the server fixes they check (not run by make test)."""
    tests = []
    dirs = [HERE] + ([os.path.join(HERE, "pending")] if pending else [])
    files = [(d, fn) for d in dirs for fn in sorted(os.listdir(d))]
    for d, fn in files:
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        modname = fn[:-3]
        spec = importlib.util.spec_from_file_location(modname, os.path.join(d, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        short = modname[len("test_"):]
        funcs = [(name, f) for name, f in vars(mod).items()
                 if name.startswith("test_") and inspect.isfunction(f)
                 and f.__module__ == mod.__name__]
        funcs.sort(key=lambda nf: nf[1].__code__.co_firstlineno)
        for name, f in funcs:
            full = f"{short}.{name}"
            if flt and flt not in full:
                continue
            tests.append((full, f))
    return tests


def describe(exc):
    """One line: the message plus where in a test file it was raised."""
    where = ""
    for fr in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.basename(fr.filename).startswith("test_"):
            where = f" [{os.path.basename(fr.filename)}:{fr.lineno}]"
            break
    if isinstance(exc, AssertionError):
        msg = str(exc) or "assertion failed"
    else:
        msg = f"{type(exc).__name__}: {exc}"
    return msg + where


class Run:
    def __init__(self, args):
        self.args = args
        self.backend = args.backend
        self.bin = os.path.abspath(args.bin)
        self.tmp = tempfile.mkdtemp(prefix=f"entrepot-api-{args.backend}-")
        os.chmod(self.tmp, 0o755)  # the postgres user must reach its cluster dir
        self.log_dir = os.path.abspath(args.log_dir) if args.log_dir else os.path.join(self.tmp,
                                                                                         "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.static_dir = harness.make_static_dir(self.tmp)
        self.pg_dir = None
        self.database = None
        self.server = None
        self.restarts = 0

    def start_database(self):
        if self.backend == "sqlite":
            d = os.path.join(self.tmp, "data")
            os.makedirs(d, exist_ok=True)
            self.database = f"sqlite:{os.path.join(d, 'entrepot.db')}"
            return
        self.pg_dir = os.path.join(self.tmp, "pg")
        script = os.path.join(harness.REPO, "scripts", "pg-cluster.sh")
        r = subprocess.run([script, "start", self.pg_dir], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"pg-cluster.sh start failed ({r.returncode}):\n{r.stderr.strip()}")
        lines = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
        if not lines or not lines[-1].startswith("postgres"):
            raise RuntimeError(f"pg-cluster.sh printed no URL: {r.stdout!r}")
        self.database = lines[-1]

    def stop_database(self):
        if self.pg_dir is None:
            return
        script = os.path.join(harness.REPO, "scripts", "pg-cluster.sh")
        try:
            subprocess.run([script, "stop", self.pg_dir], capture_output=True, text=True,
                           timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            print(f"warning: pg-cluster.sh stop failed: {e}", file=sys.stderr)
        self.pg_dir = None

    def start_server(self):
        data = os.path.join(self.tmp, "data")
        self.server = harness.Server(self.bin, self.database, data, self.static_dir,
                                     os.path.join(self.log_dir, f"server-{self.restarts}.log"))
        self.server.start(wait=True, timeout=20)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres"), required=True)
    ap.add_argument("--bin", required=True, help="path to the entrepot binary")
    ap.add_argument("--filter", default="", help="run only tests whose name contains this")
    ap.add_argument("--log-dir", default="", help="keep server logs here (default: temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--pending", action="store_true",
                    help="also run tests/api/pending (tests ahead of their server fixes)")
    args = ap.parse_args()

    if not os.access(args.bin, os.X_OK):
        print(f"api({args.backend}): binary {args.bin} not found or not executable",
              file=sys.stderr)
        print(f"api({args.backend}): 0 passed, 1 failed")
        return 1

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGALRM, _on_alarm)
    tests = discover(args.filter, args.pending)
    run = Run(args)
    passed = failed = skips = 0
    timings = []
    t_start = time.monotonic()
    try:
        try:
            run.start_database()
            run.start_server()
        except (RuntimeError, AssertionError, OSError, subprocess.SubprocessError) as e:
            print(f"FAIL setup: {e}")
            if run.server:
                print(run.server.log_tail(40))
            print(f"api({args.backend}): 0 passed, 1 failed")
            return 1
        print(f"# api({args.backend}): {len(tests)} tests, server on port {run.server.port}, "
              f"database {run.database}", flush=True)
        for name, fn in tests:
            t = harness.Ctx(run, name.replace(".", "-"))
            err = None
            skipped = None
            t0 = time.monotonic()
            signal.alarm(PER_TEST_TIMEOUT_S)
            try:
                fn(t)
            except harness.Skip as e:
                skipped = str(e)
            except (Interrupted, KeyboardInterrupt):
                signal.alarm(0)
                t.cleanup()  # stop this test's own servers before leaving
                raise
            except BaseException as e:  # noqa: BLE001 — any failure is the test's
                err = describe(e)
            finally:
                signal.alarm(0)
            extra = t.cleanup()
            if err is None and extra:
                err = "; ".join(extra)
            # The shared server must still answer after every test; a crash
            # is blamed on the test that caused it, not on the next one.
            answering = run.server.answers()
            if not answering:
                run.server.wait(1.0)
            if not run.server.alive():
                rc = run.server.proc.returncode
                err = (err + "; " if err else "") + f"main server died (exit {rc})"
            elif not answering:
                err = (err + "; " if err else "") + "main server stopped answering /healthz"
                run.server.stop(timeout=5)
            rep = run.server.sanitizer_report()
            if rep and err is None:
                err = f"main server log has a sanitizer report: {rep}"
            dt = time.monotonic() - t0
            timings.append((dt, name))
            if err is None and skipped is not None:
                skips += 1
                print(f"skip {name}: {skipped}", flush=True)
            elif err is None:
                passed += 1
                print(f"ok {name}", flush=True)
            else:
                failed += 1
                print(f"FAIL {name}: {err}", flush=True)
                for path, tail in t.log_tails():
                    print(f"  --- tail of {os.path.basename(path)}")
                    print("\n".join("  " + ln for ln in tail.splitlines()))
            if not run.server.alive() or rep:
                # Show what happened, then carry on with a fresh server (and
                # a fresh log) so one crash does not hide other failures.
                print("  --- tail of the main server log")
                print("\n".join("  " + ln for ln in run.server.log_tail(40).splitlines()))
                run.server.stop()
                run.restarts += 1
                try:
                    run.start_server()
                except AssertionError as e:
                    failed += 1
                    print(f"FAIL setup.restart_main_server: {e}", flush=True)
                    break
        # The shared server must stop cleanly too (and, under sanitizers,
        # without leak reports).
        if run.server and run.server.proc and not args.filter:
            rc = run.server.stop()
            rep = run.server.sanitizer_report()
            if rc == 0 and not rep:
                passed += 1
                print("ok lifecycle.main_server_stops_cleanly")
            else:
                failed += 1
                print(f"FAIL lifecycle.main_server_stops_cleanly: exit {rc}"
                      + (f", sanitizer report: {rep}" if rep else ""))
        if failed and run.server:
            print("--- tail of the main server log")
            print(run.server.log_tail(40))
    except (Interrupted, KeyboardInterrupt) as e:
        print(f"interrupted ({e})", file=sys.stderr)
        failed += 1
    except Exception:  # a bug in the runner itself still ends with a summary
        traceback.print_exc()
        failed += 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if run.server:
            run.server.stop()
        run.stop_database()
        if not args.keep:
            shutil.rmtree(run.tmp, ignore_errors=True)
        else:
            print(f"kept {run.tmp}")
    timings.sort(reverse=True)
    slow = ", ".join(f"{n} {d:.1f}s" for d, n in timings[:5])
    print(f"# api({args.backend}): {time.monotonic() - t_start:.1f}s, {skips} skipped; "
          f"slowest: {slow}")
    print(f"api({args.backend}): {passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
