/*
 * fault.h — fault injection for tests: the Nth database call, SQLite file
 * operation or file write fails as an I/O error or as a full disk.
 *
 * Compiled in only by `make FAULT_INJECTION=1` (which defines
 * ENTREPOT_FAULT_INJECTION and builds into build/<flavour>-fault); in every
 * other build fault_hit is an inline "no fault" the compiler removes.
 *
 * A plan reads TARGET-KIND-N: TARGET is db (a database call: prepare, cached
 * or not, the step that runs a statement, exec, begin, commit, rollback;
 * both engines),
 * sqlio (a write or sync of an SQLite file, through a VFS shim) or file (a
 * write or fsync in file.c); KIND is io or full, with a trailing p
 * (iop, fullp) for a fault that persists from call N on instead of hitting
 * call N only. Plans come from two places:
 *
 *   ENTREPOT_FAULT_PLAN=db-io-7    counts the calls of the whole process
 *                                  (commands: migrate, keys rotate, start-up)
 *   X-Request-Id: fault-db-io-7-x  counts the calls made for that request
 *                                  only; needs ENTREPOT_FAULTS=1 too
 *
 * Each injected fault is logged ("fault: injected", with the call number and
 * what the call was), so a test knows whether its N was reached.
 */
#ifndef ENTREPOT_FAULT_H
#define ENTREPOT_FAULT_H

enum fault_target { FAULT_DB, FAULT_SQLIO, FAULT_FILE };
enum fault_kind { FAULT_NONE = 0, FAULT_IO, FAULT_FULL };

#ifdef ENTREPOT_FAULT_INJECTION
/* Counts one call of target t and answers whether it must fail, and how.
 * what describes the call for the log (may be cut). Thread-safe. */
enum fault_kind fault_hit(enum fault_target t, const char *what);
#else
static inline enum fault_kind fault_hit(enum fault_target t, const char *what)
{
    (void)t;
    (void)what;
    return FAULT_NONE;
}
#endif

#endif
