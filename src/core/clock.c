/*
 * clock.c — the process clock that domain code and tests share.
 *
 * Domain code never calls time() or clock_gettime() directly: it asks
 * clock_now_ms(), which is the real UTC time plus an offset, so a test (or
 * the test-only clock route) can move time forward to exercise expiry and
 * retention. The offset is a C11 atomic so it can be moved while request
 * threads read it, with no lock on this very hot path.
 */
#include <stdatomic.h>
#include <time.h>

#include "core.h"

static _Atomic int64_t clock_offset;

int64_t clock_now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        die("clock_gettime(CLOCK_REALTIME) failed");
    int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return ms + atomic_load(&clock_offset);
}

void clock_set_offset_ms(int64_t offset)
{
    atomic_store(&clock_offset, offset);
}

int64_t clock_offset_ms(void)
{
    return atomic_load(&clock_offset);
}

uint64_t clock_mono_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        die("clock_gettime(CLOCK_MONOTONIC) failed");
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
